"""The upload route takes files; what else its form carries is capped while it arrives.

Gradio streams the file parts of ``POST /gradio_api/upload`` to disk and limits each file
(``max_file_size``), but keeps every non-file form field whole in memory, however large: one 300 MB
field costs the server 0.8 GB. Its page sends files only. Here the form is read alongside Gradio,
chunk by chunk, with the same multipart parser (python-multipart) and the same rule for what a file
part is (a ``filename`` in its Content-Disposition); once the non-file fields together pass
``MAX_FIELD_BYTES``, the next read raises Gradio's own ``MultiPartException``, so Gradio deletes the
files it had started and answers 413 with the message.
"""

from __future__ import annotations

from typing import Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.formparsers import MultiPartException

MAX_FIELD_BYTES = 64 * 1024  # non-file fields of one upload together; Gradio's page sends none
NOT_A_FILE = "Each 'files' part of an upload must be a file, with a filename in its Content-Disposition."
TOO_LARGE = (
    "Form fields exceeded maximum allowed size of {limit} bytes: the upload route takes files; "
    "other fields may hold {limit} bytes together."
)


class FieldMeter:
    """Feeds an upload's body to a multipart parser and counts the bytes of its non-file parts."""

    def __init__(self, boundary: bytes, limit: int = MAX_FIELD_BYTES) -> None:
        self.limit = limit
        self.field_bytes = 0
        self.not_a_file = False  # a "files" part with no filename: Gradio's route failed on it (HTTP 500)
        self._is_file = False
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        callbacks: Any = {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_part,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
        }
        self._parser: MultipartParser | None = MultipartParser(boundary, callbacks)

    @classmethod
    def for_content_type(cls, content_type: bytes, limit: int = MAX_FIELD_BYTES) -> FieldMeter | None:
        """A meter for a multipart body; None for anything else (Gradio refuses it)."""
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        return cls(boundary, limit) if kind == b"multipart/form-data" and boundary else None

    @property
    def over(self) -> bool:
        return self.field_bytes > self.limit

    def feed(self, chunk: bytes) -> None:
        """Read one chunk; a body the parser cannot read is left for Gradio to refuse."""
        if self._parser is None or not chunk:
            return
        try:
            self._parser.write(chunk)
        except MultipartParseError:
            self._parser = None

    def _begin(self) -> None:
        self._is_file, self._disposition = False, b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_part(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value  # the last one counts, as in Gradio
        self._header_name, self._header_value = b"", b""

    def _headers_finished(self) -> None:
        options = parse_options_header(self._disposition)[1]
        self._is_file = b"filename" in options  # as Gradio's parser tells a file (an empty name gets one made up)
        self.not_a_file = self.not_a_file or (options.get(b"name") == b"files" and not self._is_file)

    def _data(self, data: bytes, start: int, end: int) -> None:
        if not self._is_file:
            self.field_bytes += end - start


def metered(receive: Any, meter: FieldMeter) -> Any:
    """A ``receive`` that raises Gradio's ``MultiPartException`` once the fields pass the meter's limit."""

    async def receive_metered() -> Any:
        message = await receive()
        meter.feed(message.get("body", b""))
        if meter.over:
            raise MultiPartException(TOO_LARGE.format(limit=meter.limit))
        if meter.not_a_file:
            raise MultiPartException(NOT_A_FILE)
        return message

    return receive_metered

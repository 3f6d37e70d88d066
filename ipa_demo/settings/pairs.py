"""The ``Key: value, Key: "quoted, value"`` line of an A1111 parameters text, read in one linear pass.

The text comes from a PNG, that is from anyone. A regular expression whose key and value
quantifiers can overlap, retried at every position (``findall``), backtracks quadratically: a
200-byte zTXt once froze the server for 20 s. This scanner looks at each character a bounded
number of times: it finds the next ``:`` or ``,`` (one character class, no backtracking), checks
the key with a single-class ``fullmatch``, and reads a quoted value with ``json``'s string
scanner, which stops at the first unescaped quote, so that two quoted values never rescan the same
characters.

A fragment that is not ``key: value`` (no colon before the next comma, or a key with characters
A1111 keys never hold) is skipped; a quoted value that is not a JSON string followed by a comma is
read as plain text up to the next comma.
"""

from __future__ import annotations

import json
import re

_KEY = re.compile(r"[\w \-+.]+")  # one class: fullmatch is linear
_STOP = re.compile(r"[:,]")
_SPACE = re.compile(r"\s*")
_DECODER = json.JSONDecoder()


def is_key(text: str) -> bool:
    return _KEY.fullmatch(text) is not None


def starts_with_pair(line: str) -> bool:
    """Whether ``line`` reads as a details line: it opens with ``Key:`` and holds a ": "."""
    colon = line.find(":")
    return colon > 0 and is_key(line[:colon].lstrip()) and ": " in line


def read_pairs(line: str) -> dict[str, str]:
    """Key -> value of a details line (a later key wins, as in a dict)."""
    pairs: dict[str, str] = {}
    position, end = 0, len(line)
    while position < end:
        stop = _STOP.search(line, position)
        if stop is None:
            break
        if stop.group() == ",":  # a fragment without a key
            position = stop.end()
            continue
        key = line[position : stop.start()].strip()
        value, position = _value(line, stop.end())
        if is_key(key):
            pairs[key] = value
    return pairs


def _value(line: str, start: int) -> tuple[str, int]:
    """The value that starts at ``start`` (after the colon), and where the next pair starts."""
    start = _SPACE.match(line, start).end()  # type: ignore[union-attr]  (matches the empty string)
    if line.startswith('"', start):
        try:
            text, after = _DECODER.raw_decode(line, start)
        except ValueError:
            pass
        else:
            after = _SPACE.match(line, after).end()  # type: ignore[union-attr]
            if after == len(line) or line[after] == ",":
                return text, after + 1
    comma = line.find(",", start)
    comma = len(line) if comma < 0 else comma
    return line[start:comma].strip(), comma + 1

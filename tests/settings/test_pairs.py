"""The details line of a parameters text: read in linear time, whatever the PNG holds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ipa_demo.settings.pairs import read_pairs, starts_with_pair

MEGABYTE = 1 << 20
# Texts that make a backtracking key/value expression retry a long run at every position.
ADVERSARIAL = {
    "a long key that never meets its colon (the 200-byte zTXt that froze the server, grown)":
        "a cat\nNegative prompt: \nSteps: 2, " + "a" * MEGABYTE + "!: x",
    "spaces": "Steps: 2, " + " " * MEGABYTE + "!: x",
    "an unclosed quote": 'Steps: "' + "a, b: " * (MEGABYTE // 6),
    "unclosed quotes, one after another": "a: " + 'a:"x' * (MEGABYTE // 4),
    "escapes": 'a: "' + "\\\\" * (MEGABYTE // 2),
    "colons": "a" + ":" * MEGABYTE,
    "keys with no colon": "Steps: 2, " + "a," * (MEGABYTE // 2),
}  # fmt: skip


def test_each_adversarial_megabyte_is_parsed_in_well_under_a_second() -> None:
    """In a child process, so that a quadratic parser fails the test by its timeout instead of hanging it."""
    script = (
        "import json, sys, time\n"
        "from ipa_demo.settings.parameters import parse_parameters\n"
        "times = {}\n"
        "for name, text in json.load(sys.stdin).items():\n"
        "    start = time.perf_counter(); parse_parameters(text, max_chars=len(text))\n"
        "    times[name] = time.perf_counter() - start\n"
        "print(json.dumps(times))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], input=json.dumps(ADVERSARIAL), capture_output=True, text=True,
            timeout=60, check=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("parsing 1 MB of adversarial text took over a minute")
    times = json.loads(done.stdout)
    slow = {name: seconds for name, seconds in times.items() if seconds > 0.5}
    assert not slow, f"seconds per megabyte: {slow}"


def test_quoted_values_keep_their_commas_and_escapes() -> None:
    line = 'Steps: 20, Lora hashes: "cat: abc, dog: def", Exact prompt: "a \\"cat\\"\\nNegative prompt: x", Seed: 1'
    assert read_pairs(line) == {
        "Steps": "20", "Lora hashes": "cat: abc, dog: def", "Exact prompt": 'a "cat"\nNegative prompt: x', "Seed": "1"
    }  # fmt: skip


def test_fragments_that_are_not_pairs_are_skipped() -> None:
    assert read_pairs("Steps: 2, junk, bad!key: 3, Seed: 4,, : 5") == {"Steps": "2", "Seed": "4"}


def test_a_quote_that_is_not_a_json_string_is_plain_text() -> None:
    assert read_pairs('Model: "half, Seed: 3') == {"Model": '"half', "Seed": "3"}
    assert read_pairs('Model: "a"b, Seed: 3') == {"Model": '"a"b', "Seed": "3"}
    assert read_pairs('Model: "a\\q", Seed: 3') == {"Model": '"a\\q"', "Seed": "3"}


def test_a_details_line_opens_with_a_key() -> None:
    assert starts_with_pair("Steps: 20, Seed: 3")
    assert not starts_with_pair("a cat, sitting")
    assert not starts_with_pair("(a cat): sitting")
    assert not starts_with_pair("Steps:20")

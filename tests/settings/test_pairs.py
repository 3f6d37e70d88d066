"""The details line of a parameters text: read in linear time, whatever the PNG holds."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ipa_demo.settings.pairs import read_pairs, starts_with_pair

MEGABYTE = 1 << 20
# (start, repeated piece, end): texts that make a backtracking key/value expression retry a long run at
# every position, grown to any length by repeating the middle piece.
ADVERSARIAL = {
    "a long key that never meets its colon (the 200-byte zTXt that froze the server, grown)":
        ("a cat\nNegative prompt: \nSteps: 2, ", "a", "!: x"),
    "spaces": ("Steps: 2, ", " ", "!: x"),
    "an unclosed quote": ('Steps: "', "a, b: ", ""),
    "unclosed quotes, one after another": ("a: ", 'a:"x', ""),
    "escapes": ('a: "', "\\\\", ""),
    "colons": ("a", ":", ""),
    "keys with no colon": ("Steps: 2, ", "a,", ""),
}  # fmt: skip


def test_each_adversarial_text_parses_in_time_proportional_to_its_length() -> None:
    """A quarter and a whole megabyte of each text, best of three: a linear parser takes about 4x as long
    for four times the text, a quadratic one 16x. The ratio, not a wall-clock bound, is the claim, so that a
    slow or busy machine does not fail it; the child process turns a hang into a failure by its timeout."""
    script = (
        "import json, sys, time\n"
        "from ipa_demo.settings.parameters import parse_parameters\n"
        "def best(start, piece, end, size):\n"
        "    text = start + piece * (size // len(piece)) + end\n"
        "    runs = []\n"
        "    for _ in range(3):\n"
        "        began = time.perf_counter(); parse_parameters(text, max_chars=len(text))\n"
        "        runs.append(time.perf_counter() - began)\n"
        "    return min(runs)\n"
        "shapes = json.load(sys.stdin)\n"
        f"print(json.dumps({{name: [best(*shape, {MEGABYTE // 4}), best(*shape, {MEGABYTE})] for name, shape in shapes.items()}}))\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], input=json.dumps(ADVERSARIAL), capture_output=True, text=True,
            timeout=120, check=True,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("parsing adversarial text took over two minutes")
    times = json.loads(done.stdout)
    grown = {name: (quarter, whole) for name, (quarter, whole) in times.items() if whole > 8 * max(quarter, 0.01)}
    assert not grown, f"seconds for a quarter and for a whole megabyte, grown faster than the text: {grown}"
    assert max(whole for _, whole in times.values()) < 5, f"seconds per megabyte: {times}"


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

"""Peak memory of the worst request the server's default limits accept, against a small request.

Each request runs in a fresh process (parse, validate, decode, generate on the tiny model set), and
the process's peak resident set size (``ru_maxrss``) is read at its end: the difference between the
two is what the request's images cost. The worst legal request: two 40-megapixel palette PNGs with
transparency (the costliest conversion: palette -> RGBA -> composite -> RGB), one 20:1 and padded,
which the default ``IPA_MAX_REQUEST_PIXELS`` (80 MP) lets through together.

Then requests to the served app that its limits refuse or admit (``memory_attacks``): image-editor
values, the editor's blob store, large bodies; the server's extra peak memory for each.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

from benchmarks.memory_attacks import attack_table
from benchmarks.report import machine_line, write_section
from ipa_demo.settings import Limits

WORST = {"panorama.png": (28_280, 1_414), "photo.png": (7_300, 5_475)}  # 39.99 MP and 39.97 MP
SMALL = {"small.png": (512, 512)}


def write_images(folder: Path, sizes: dict[str, tuple[int, int]]) -> list[Path]:
    paths = []
    for name, size in sizes.items():
        image = Image.new("P", size, 1)
        image.putpalette([0, 0, 0, 200, 30, 30] * 128)
        image.save(folder / name, transparency=0)
        paths.append(folder / name)
    return paths


def run_request(models: Path, paths: list[Path]) -> dict[str, float]:
    """In this process: parse the request as the server does, generate, report the peak RSS."""
    from ipa_demo.engine import Engine
    from ipa_demo.models.sources import ModelSources
    from ipa_demo.settings.values import default_values
    from ipa_demo.ui.fields import parse_request

    values = {**default_values(), "prompt": "x", "steps": 2, "width": 64, "height": 64, "seed": 1, "ip_fit": "pad"}
    values["reference_images"] = [(str(path), None) for path in paths]
    engine = Engine(ModelSources(models))
    request = parse_request(values, Limits())
    engine.generate(request.settings, request.references)
    return {"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(models: Path, paths: list[Path]) -> float:
    code = "import json,sys; from benchmarks.memory import run_request; from pathlib import Path; " \
           "print(json.dumps(run_request(Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]])))"
    done = subprocess.run([sys.executable, "-c", code, str(models), *map(str, paths)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]


def main() -> None:
    from ipa_demo.models.tiny import write_tiny_models

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        models = write_tiny_models(root / "models", seed=0)
        small = measure(models, write_images(root, SMALL))
        worst = measure(models, write_images(root, WORST))
        attacks = attack_table(models, root)
    limits = Limits()
    table = f"""## Memory of the worst legal request (`benchmarks/memory.py`)

Machine: {machine_line()}. Each request in a fresh process on the tiny model set (parse and decode as
the server does, then a 2-step 64² generation); peak resident set size at the end of the process.
Worst legal request under the default limits ({limits.max_request_pixels / 1e6:g} MP per request, 40 MP
and 20:1 per image): two 40-MP palette PNGs with transparency, as references, fit "pad".

| request | peak RSS |
|---|---|
| one 512² reference | {small:.0f} MB |
| worst legal (2 × 40 MP) | {worst:.0f} MB |
| difference | **{worst - small:.0f} MB** |

Requests to the served app (default limits; each on a fresh server process, its peak resident set size
before and after the request). An editor's value is counted and its headers read before any layer is
decoded; the editor's blob store is closed (404); bodies past the limits are refused while they arrive.

{attacks}
"""
    print(table)
    write_section("memory", table)


if __name__ == "__main__":
    main()

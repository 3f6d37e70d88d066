"""The package's shape: no import cycle, small modules, a command line that starts without torch."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ipa_demo"
HEAVY = ("torch", "diffusers", "transformers", "gradio")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _under_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that ``path`` imports when it runs, at any depth of its code."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if _under_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from . import module`
    return found & modules


def test_no_import_cycle() -> None:
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}
    state: dict[str, str] = {}

    def visit(name: str, trail: list[str]) -> None:
        state[name] = "open"
        for target in sorted(graph[name]):
            if state.get(target) == "open":
                cycle = trail[trail.index(target) :] + [target] if target in trail else [name, target]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, [*trail, target])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def folder_of(module: str, package: Path) -> str | None:
    """The folder (subpackage) a module lies in; None for the package's top-level modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (package / parts[1]).is_dir() else None


# Folders that still import each other, each with why it is left; the list may only shrink.
KNOWN_BACK_AND_FORTH = {
    frozenset({"sdapi", "ui"}): "the A1111 API and the app share the server's plumbing (body limit, clients, "
    "base model choice) that lives in ui/; it belongs in a folder of its own",
}


def folders_back_and_forth(package: Path) -> dict[frozenset[str], list[str]]:
    """Pairs of folders each importing the other, with one import each way as evidence."""
    paths = {module_name(path): path for path in package.rglob("*.py")}
    arrows: dict[tuple[str, str], str] = {}
    for name, path in paths.items():
        for target in imports_of(path, set(paths)):
            source, destination = folder_of(name, package), folder_of(target, package)
            if source and destination and source != destination:
                arrows.setdefault((source, destination), f"{name} -> {target}")
    return {
        frozenset(pair): [evidence, arrows[pair[::-1]]]
        for pair, evidence in arrows.items()
        if pair[::-1] in arrows and pair[0] < pair[1]
    }


def test_no_two_folders_import_each_other() -> None:
    """Dependencies between folders run one way (``ip_adapter`` reads ``settings``, never back)."""
    found = folders_back_and_forth(PACKAGE)
    assert {pair: evidence for pair, evidence in found.items() if pair not in KNOWN_BACK_AND_FORTH} == {}
    assert set(KNOWN_BACK_AND_FORTH) <= set(found), "a pair that no longer imports back and forth leaves the list"


def test_the_checker_finds_folders_importing_each_other(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "ipa_demo"
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    for folder in ("settings", "models"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "settings" / "choices.py").write_text("from ..models.catalog import KINDS\n")
    (package / "models" / "catalog.py").write_text("def f():\n    from ..settings import choices\n")
    assert set(folders_back_and_forth(package)) == {frozenset({"settings", "models"})}


def test_the_checker_finds_a_cycle(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "ipa_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import thing\n")
    (package / "b.py").write_text("def f():\n    from .a import other\n")
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", package)
    try:
        test_no_import_cycle()
    except AssertionError as error:
        assert "ipa_demo.a" in str(error) and "ipa_demo.b" in str(error)
    else:
        raise AssertionError("a function-level cycle went unnoticed")


def test_every_module_is_small() -> None:
    sizes = {str(path.relative_to(PACKAGE)): len(path.read_text().splitlines()) for path in PACKAGE.rglob("*.py")}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


def test_the_command_line_parses_without_loading_a_model_library() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from ipa_demo.cli import build_parser\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    build_parser().parse_args(['generate', '--help'])\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == ""


def test_request_parsing_needs_no_model_library() -> None:
    code = (
        "import sys\nimport ipa_demo.settings.values, ipa_demo.settings.parameters, ipa_demo.settings.arguments\n"
        "import ipa_demo.ui.fields\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == ""


def test_the_architecture_description_needs_no_model_library() -> None:
    code = (
        "import sys\nimport ipa_demo.architecture, ipa_demo.architecture.layers, ipa_demo.architecture.stage_roles\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PACKAGE.parent)
    assert done.stdout.strip() == ""


# Modules that may name UNet layers themselves: the description, and the converters of the LDM single-file
# layout and the tiny twins' writer, whose key names and configs are a file format, not the app's layout.
STATES_UNET_FACTS = ("architecture/", "models/ldm_layout.py", "models/single_file.py", "models/tiny.py")
UNET_FACT = re.compile(r"(down|up)\d|((down|up)_blocks\.\d|mid_block\.attentions).*|.*transformer_blocks\..*")


def unet_facts_stated(path: Path) -> list[str]:
    """Literals naming a stage ("down2"), a layer ("up_blocks.1…", "…transformer_blocks.0…") or the size 512."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and (
            (isinstance(node.value, str) and UNET_FACT.fullmatch(node.value)) or node.value == 512
        ):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {node.value!r}")
    return found


def test_unet_facts_are_stated_only_in_the_architecture_description() -> None:
    """Layer names, stage names and sizes come from ``ipa_demo/architecture`` (one description, derived
    from the UNet's config), never from a table of their own."""
    paths = [path for path in PACKAGE.rglob("*.py") if not str(path.relative_to(PACKAGE)).startswith(STATES_UNET_FACTS)]
    assert [fact for path in sorted(paths) for fact in unet_facts_stated(path)] == []


def test_the_fact_finder_finds_the_old_tables(tmp_path: Path) -> None:
    old = tmp_path / "layers.py"
    old.write_text(
        'STAGES = {"down0": (0, 1)}\nLAYERS = ("down_blocks.0.attentions.0",)\nSIZE = 512\n'
        'def name(layer):\n    return f"{layer}.transformer_blocks.0.attn2.processor"\n'
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys.modules[__name__], "PACKAGE", tmp_path)
        assert len(unet_facts_stated(old)) == 4


FEATURES = ("ipa_demo.ip_adapter", "ipa_demo.structure", "ipa_demo.reference_only", "ipa_demo.inpainting")


@pytest.mark.parametrize("seam", ["loop.py", "unet_call.py", "conditioner.py"])
def test_the_loop_and_its_seam_know_no_feature(seam: str) -> None:
    """A new conditioner joins through ``Conditioner``; the loop, the call and the seam never name one."""
    modules = {module_name(path) for path in PACKAGE.rglob("*.py")}
    named = imports_of(PACKAGE / seam, modules)
    assert [module for module in named if module.startswith(FEATURES)] == []

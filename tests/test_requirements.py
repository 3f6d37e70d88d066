"""The requirements files against the Space and the Docker image: every pin installs on their Python
(read from the installed distributions' ``Requires-Python``), the Space's torch is one ZeroGPU runs,
the Docker image installs that torch in a CUDA build that today's drivers run, and no dependency
floats to a new major."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from .test_deploy import README, dockerfile_instructions, front_matter

ROOT = Path(__file__).resolve().parents[1]
ZERO_GPU_TORCH = {"2.8.0", "2.9.1", "2.10.0", "2.11.0"}  # Hugging Face's "Spaces ZeroGPU" docs
SPACE_ONLY_PINS = {"torch", "torchvision"}  # pinned for the Space; tests here run another torch
# Python support PyTorch publishes for the pins that cannot be read here (its RELEASE.md
# compatibility matrix: 2.11 supports Python 3.10 to 3.14, pytorch/pytorch#172663).
PUBLISHED_REQUIRES_PYTHON = {("torch", "2.11.0"): ">=3.10,<3.15", ("torchvision", "0.26.0"): ">=3.10,<3.15"}


def requirement_lines(name: str) -> list[str]:
    """The requirement lines of a requirements file, comments and includes left out."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def requirements(name: str) -> list[Requirement]:
    return [Requirement(line) for line in requirement_lines(name)]


def pinned_version(requirement: Requirement) -> str:
    (spec,) = [spec for spec in requirement.specifier if spec.operator == "=="]
    return spec.version


def requires_python_problems(python: str, pins: list[Requirement]) -> tuple[list[str], set[str]]:
    """What would not install on ``python``: each pin and, as tested here, what the pins pull in.

    Returns the problems and the pins whose pinned version is not the one installed here (their
    ``Requires-Python`` comes from ``PUBLISHED_REQUIRES_PYTHON`` instead).
    """
    version = Version(python)
    environment = {"python_version": f"{version.major}.{version.minor}", "python_full_version": python, "extra": ""}
    problems: list[str] = []
    not_installed_as_pinned: set[str] = set()
    seen: set[str] = set()
    todo = [(requirement, True) for requirement in pins]
    while todo:
        requirement, is_pin = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        try:
            distribution = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            distribution = None
        if distribution is None or not requirement.specifier.contains(distribution.version, prereleases=True):
            if is_pin:  # the version the Space would install is not here to read
                not_installed_as_pinned.add(name)
                published = PUBLISHED_REQUIRES_PYTHON.get((name, str(requirement.specifier).removeprefix("==")))
                if published is not None and not SpecifierSet(published).contains(version):
                    problems.append(f"{requirement} supports Python {published}")
            continue
        requires = distribution.metadata.get("Requires-Python")
        if requires and not SpecifierSet(requires).contains(version):
            problems.append(f"{name} {distribution.version} needs Python {requires}")
        for text in distribution.requires or ():
            dependency = Requirement(text)
            if dependency.marker is None or dependency.marker.evaluate(environment):
                todo.append((dependency, False))
    return problems, not_installed_as_pinned


def space_python() -> str:
    return str(front_matter()["python_version"])


def docker_python() -> str:
    (image,) = [arguments for name, arguments in dockerfile_instructions() if name == "FROM"]
    match = re.fullmatch(r"python:(\d+\.\d+)(?:\.\d+)?-slim-\w+", image)
    assert match, f"the Dockerfile should start FROM an official slim Python image, not {image!r}"
    return match.group(1)


def test_requirements_txt_is_the_torch_pins_then_requirements_app_verbatim() -> None:
    space, shared = requirement_lines("requirements.txt"), requirement_lines("requirements-app.txt")
    torch_pins = [line for line in space if Requirement(line).name in SPACE_ONLY_PINS]
    assert space == torch_pins + shared
    assert {Requirement(line).name for line in torch_pins} == SPACE_ONLY_PINS
    assert not any(Requirement(line).name in SPACE_ONLY_PINS for line in shared)


def test_dev_requirements_share_the_app_pins_without_the_space_torch_pin() -> None:
    text = (ROOT / "requirements-dev.txt").read_text()
    assert re.search(r"^-r requirements-app\.txt$", text, re.MULTILINE)
    dev = {requirement.name: requirement for requirement in requirements("requirements-dev.txt")}
    space_torch = {requirement.name: requirement for requirement in requirements("requirements.txt")}["torch"]
    assert "==" not in str(dev["torch"].specifier)
    assert dev["torch"].specifier.contains(pinned_version(space_torch))  # the Space's torch is a dev torch too
    assert dev["torch"].specifier.contains(metadata.version("torch"))  # and so is the one at hand


def test_nothing_floats_to_a_new_major() -> None:
    for requirement in requirements("requirements.txt"):
        operators = {spec.operator for spec in requirement.specifier}
        assert operators & {"==", "<", "~="}, f"{requirement} may install any future major"
    by_name = {requirement.name: requirement for requirement in requirements("requirements.txt")}
    opencv = by_name["opencv-python-headless"]
    assert not opencv.specifier.contains("5.0.0.93") and opencv.specifier.contains("4.14.0.94")


def test_the_space_torch_is_one_zero_gpu_runs_with_its_torchvision() -> None:
    pins = {requirement.name: pinned_version(requirement) for requirement in requirements("requirements.txt")
            if requirement.name in SPACE_ONLY_PINS}  # fmt: skip
    assert pins["torch"] in ZERO_GPU_TORCH
    torch_minor, vision_minor = Version(pins["torch"]).minor, Version(pins["torchvision"]).minor
    assert Version(pins["torchvision"]).major == 0 and vision_minor == torch_minor + 15  # 2.11 <-> 0.26


def test_the_space_python_meets_every_requires_python() -> None:
    assert space_python() in ("3.10.13", "3.12.12")  # what ZeroGPU offers
    problems, not_installed = requires_python_problems(space_python(), requirements("requirements.txt"))
    assert problems == []
    assert not_installed <= SPACE_ONLY_PINS  # every other pin was read from its installed metadata


def test_the_space_python_would_be_refused_if_it_were_too_old() -> None:
    problems, _ = requires_python_problems("3.10.13", requirements("requirements.txt"))
    assert any(problem.startswith("diffusers 0.42.1 needs Python") for problem in problems)
    assert any(problem.startswith("transformers 5.24.0 needs Python") for problem in problems)


def test_the_docker_python_is_the_space_s_and_meets_every_requires_python() -> None:
    assert docker_python() == ".".join(space_python().split(".")[:2])
    problems, _ = requires_python_problems(docker_python(), requirements("requirements.txt"))
    assert problems == []


def test_the_docker_image_installs_the_space_torch_built_for_cuda_12() -> None:
    runs = [arguments for name, arguments in dockerfile_instructions() if name == "RUN"]
    (install,) = [run for run in runs if "download.pytorch.org" in run]
    cuda = re.search(r"--index-url https://download\.pytorch\.org/whl/cu(\d+)(\d) ", install)
    assert cuda, install
    pins = [line for line in requirement_lines("requirements.txt") if Requirement(line).name in SPACE_ONLY_PINS]
    assert all(f" {pin}" in install for pin in pins), (install, pins)
    assert runs.index(install) < next(index for index, run in enumerate(runs) if "-r requirements.txt" in run)
    major, minor = cuda.groups()
    assert major == "12"  # CUDA 13 needs an R580 driver
    assert f"CUDA {major}.{minor} build" in README and "R570" in README

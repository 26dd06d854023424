"""The committed lock: exact versions, consistent with pyproject's ranges, installed as locked, used everywhere."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def locked() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        assert match, f"requirements.lock: {line!r} is not an exact pin"
        pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in project["dependencies"] + extras["test"] + extras["vot"]]


def test_every_declared_dependency_is_locked_within_its_range():
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is in pyproject.toml but not in requirements.lock: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {name}=={pins[name]}, outside pyproject's {requirement.specifier}"
    assert "torch" in pins and not pins["torch"].local, "pin torch without a local tag (+cpu): both builds match"


def test_every_install_path_uses_the_lock():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --no-deps -r requirements.lock" in makefile
    assert "--no-deps -e ." in makefile  # the package itself must not re-resolve its dependencies
    assert "-r requirements.lock" in (ROOT / "environment.yml").read_text()
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.skipif(os.environ.get("SESIAM_UNLOCKED") == "1",
                    reason="SESIAM_UNLOCKED=1: running on deliberately other versions (e.g. a library-update check)")
def test_installed_versions_are_the_locked_ones():
    """`make test` must test what the lock says (set SESIAM_UNLOCKED=1 to run the suite on other versions)."""
    pins = locked()
    wrong = {}
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        installed = Version(metadata.version(requirement.name))
        if Version(installed.public) != Version(pins[name].public):
            wrong[name] = (str(pins[name]), str(installed))
    assert not wrong, f"installed versions differ from requirements.lock (locked, installed): {wrong}"

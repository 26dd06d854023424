"""Checks a pipeline run's steps before any kernel starts: unknown parameters, ``--only`` prefixes that select
nothing, missing notebooks, output folders that cannot be created.

Without them papermill only prints "Passed unknown parameter" for a misspelt ``-p image_sise=64`` and the run
goes on with the default, and ``--only zzz`` ran nothing and reported "Status: complete".

A parameter is *known* when the ``parameters`` cell of at least one notebook of the preset declares it (a
preset's shared parameters go to every notebook, and each notebook uses its own subset), or when the pipeline
injects it itself (:data:`INJECTED`). A notebook without a ``parameters`` cell accepts anything.
"""

from __future__ import annotations

import difflib
import functools
from pathlib import Path
from typing import Any, Iterable

__all__ = ["INJECTED", "notebook_parameters", "check_steps", "check_only"]

INJECTED = ("run_name", "results_root", "work_root")
"""Parameters every step receives from the pipeline itself."""


@functools.lru_cache(maxsize=64)
def _parameters_cached(path: str, mtime_ns: int) -> tuple[str, ...] | None:
    import nbformat

    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several types for a broken file
        raise ValueError(f"notebook {path} cannot be read as a Jupyter notebook: {exc}") from None
    for cell in nb.cells:
        if cell.get("cell_type") == "code" and "parameters" in (cell.get("metadata", {}).get("tags") or []):
            return _assigned_names(cell.get("source", ""), path)
    return None


def _assigned_names(source: str, path: str) -> tuple[str, ...]:
    """Top-level names assigned in a parameters cell (what papermill's Python translator finds)."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ValueError(f"notebook {path}: the parameters cell is not valid Python (line {exc.lineno}: "
                         f"{exc.msg})") from None
    names: list[str] = []

    def add(target) -> None:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add(element)

    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                add(target)
        elif isinstance(node, ast.AnnAssign):
            add(node.target)
    return tuple(dict.fromkeys(names))


def notebook_parameters(path: str | Path) -> tuple[str, ...] | None:
    """Names assigned at the top level of the notebook's cell tagged ``parameters`` (the names papermill's
    ``inspect_notebook`` lists), or ``None`` when it has no such cell."""
    path = Path(path)
    return _parameters_cached(str(path), path.stat().st_mtime_ns)


def check_only(steps, only: Iterable[str] | None) -> None:
    """Raise ``ValueError`` when a ``--only`` prefix selects no step, listing the step names."""
    if not only:
        return
    names = [s.name for s in steps]
    unmatched = [prefix for prefix in only if not any(name.startswith(prefix) for name in names)]
    if unmatched:
        hints = []
        for prefix in unmatched:
            close = difflib.get_close_matches(prefix, names, n=3, cutoff=0.5)
            hints.append(f"{prefix!r}" + (f" (did you mean {', '.join(map(repr, close))}?)" if close else ""))
        raise ValueError(f"--only {', '.join(hints)} matches no step of this preset; the steps are: "
                         f"{', '.join(names)} (--only selects the steps whose name starts with the prefix)")


def check_steps(steps, notebooks_dir: str | Path, overrides: dict[str, Any] | None = None,
                only: Iterable[str] | None = None) -> None:
    """Check a run before it starts (see the module docstring).

    Args:
        steps: the expanded steps (:func:`~sesiam_lib.pipeline.runner.expand_steps`), all of the preset's
            (before an ``only`` filter, so that parameters meant for other notebooks stay known).
        notebooks_dir: where the steps' notebooks are.
        overrides: the ``-p`` overrides (with the injected ``run_name`` / ``results_root`` / ``work_root``).
        only: the ``--only`` prefixes, if any.

    Raises:
        FileNotFoundError: a step's notebook does not exist (names the step and the path).
        ValueError: unknown parameters (named, with close matches and the notebooks' parameters), an ``only``
            prefix selecting nothing, or a results / work root that is a file or lies under one.
    """
    from ..core.io import folder_problem

    overrides = dict(overrides or {})
    notebooks_dir = Path(notebooks_dir)
    for key in ("results_root", "work_root"):
        if overrides.get(key) not in (None, ""):
            problem = folder_problem(notebooks_dir / str(overrides[key]))  # relative: to the notebooks' folder
            if problem:
                flag = "--" + key.replace("_", "-")
                raise ValueError(f"{flag}: {problem}; choose a folder path")
    check_only(steps, only)

    declared: dict[str, tuple[str, ...] | None] = {}
    missing = []
    for step in steps:
        if step.notebook in declared:
            continue
        path = notebooks_dir / step.notebook
        if not path.is_file():
            missing.append(f"step {step.name!r}: notebook {path} does not exist")
            declared[step.notebook] = ()
            continue
        declared[step.notebook] = notebook_parameters(path)
    if missing:
        raise FileNotFoundError("; ".join(missing))
    if any(params is None for params in declared.values()):
        return  # a notebook without a parameters cell: papermill injects whatever it is given
    known = set(INJECTED).union(*declared.values())
    used = dict.fromkeys(key for step in steps for key in step.parameters)
    unknown = [key for key in used if key not in known]
    if not unknown:
        return
    lines = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), sorted(known), n=3, cutoff=0.6)
        origin = "-p override" if key in overrides else "preset parameter"
        lines.append(f"{key!r} ({origin}" + (f"; did you mean {', '.join(map(repr, close))}?)" if close else ")"))
    per_notebook = "; ".join(f"{nb}: {', '.join(p for p in params if p not in INJECTED)}"
                             for nb, params in declared.items())
    raise ValueError(f"unknown notebook parameter{'s' if len(unknown) > 1 else ''} {', '.join(lines)}: no notebook "
                     f"of this preset declares {'them' if len(unknown) > 1 else 'it'}. Parameters per notebook: "
                     f"{per_notebook}")


def parse_override_value(text: str) -> tuple[str, Any]:
    """``key=value`` -> ``(key, YAML-parsed value)``; a ``ValueError`` naming the argument for a missing ``=``,
    an empty or non-identifier key (papermill would write it into the notebook as code) or a malformed YAML value.
    An empty value is ``None``."""
    import yaml

    if "=" not in text:
        raise ValueError(f"-p {text!r}: a parameter override is of the form key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ValueError(f"-p {text!r}: empty parameter name before '='")
    if not key.isidentifier():
        raise ValueError(f"-p {text!r}: {key!r} is not a valid parameter name (letters, digits, underscores)")
    try:
        return key, yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at column {mark.column + 1 + len(key) + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ValueError(f"-p {text!r}: the value is not valid YAML{where} ({problem}); quote strings and close "
                         f"brackets, e.g. -p 'seeds=[0, 1]'") from None

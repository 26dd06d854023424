"""Run the notebooks in order through papermill, with a preset's parameters, resumably.

A *preset* (YAML, shipped in ``sesiam_lib/pipeline/presets/``) lists shared ``parameters`` and ``steps``. Each step
names a notebook and its own parameters, optionally a ``matrix`` of parameter values that expands it into one
run per combination (e.g. dataset × model × seed), and a ``name`` pattern for the executed notebook::

    parameters: {seed: 0}
    steps:
      - notebook: 02_training.ipynb
        name: "02_training_{dataset}_{model}_s{seed}"
        matrix: {dataset: [T-MNIST, S-MNIST], model: [siamfc_tiny, se_siamfc_tiny]}

Outputs of a run named ``RUN`` go to ``<results_root>/RUN/``: the executed notebooks, whatever tables and figures
the notebooks write, ``pipeline_state.json`` (which steps finished, with their provenance keys) and a
``README.md`` summary. Checkpoints and generated data go to ``<work_root>/RUN/`` (kept out of git). Re-running
skips a step only when it finished with the same key -- the same notebook source, parameters, package version
and upstream steps (:func:`step_keys`); the work inside a step is keyed too (training runs, tracked sequences,
generated data), so a re-run step redoes only what changed. A failing cell stops the run and the summary names
the notebook and cell. One pipeline runs on a run folder at a time (a lock, :mod:`sesiam_lib.core.runlock`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.io import atomic_write_json, atomic_write_text
from .validate import check_steps
from ..core.provenance import (canonical, differing_fields, environment_versions, package_source_sha256,
                               package_version, provenance_key)
from ..core.runlock import run_folder_lock

__all__ = ["Step", "PipelineError", "available_presets", "load_preset", "expand_steps", "run_pipeline",
           "repo_root"]

PRESET_DIR = Path(__file__).resolve().parent / "presets"
STATE_FILE = "pipeline_state.json"


class PipelineError(RuntimeError):
    """A step failed; the message names the notebook and the cell."""


def repo_root() -> Path:
    """The checkout this package runs from (notebooks live in ``<repo>/notebooks``)."""
    return Path(__file__).resolve().parents[2]


@dataclass
class Step:
    """One notebook execution: ``notebook`` run with ``parameters`` into ``<run dir>/<name>.ipynb``."""

    name: str
    notebook: str
    parameters: dict[str, Any] = field(default_factory=dict)


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name_or_path: str) -> dict:
    """A preset by name (shipped) or by path to a YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRESET_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"unknown pipeline preset {name_or_path!r}: no file {path}; "
                                f"shipped presets: {available_presets()}")
    with open(path) as handle:
        try:
            preset = yaml.safe_load(handle) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(preset, dict):
        raise ValueError(f"{path}: a preset is a mapping with 'steps' (and 'parameters' ...), got a "
                         f"{type(preset).__name__}")
    unknown = set(preset) - {"description", "run_name", "parameters", "required", "steps"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}")
    if not preset.get("steps"):
        raise ValueError(f"{path}: a preset needs a non-empty 'steps' list")
    preset.setdefault("run_name", path.stem)
    return preset


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as YAML (``seed=3`` -> int, ``seeds=[0,1]`` -> list)."""
    from .validate import parse_override_value

    return parse_override_value(text)


def expand_steps(preset: dict, overrides: dict[str, Any] | None = None) -> list[Step]:
    """Expand each step's matrix; parameters = preset parameters < step parameters < matrix values < overrides."""
    overrides = overrides or {}
    shared = dict(preset.get("parameters") or {})
    steps: list[Step] = []
    for index, spec in enumerate(preset["steps"]):
        if "notebook" not in spec:
            raise ValueError(f"preset step {index} has no 'notebook'")
        matrix = spec.get("matrix") or {}
        keys = list(matrix)
        for values in itertools.product(*(matrix[k] if isinstance(matrix[k], list) else [matrix[k]] for k in keys)):
            params = {**shared, **(spec.get("parameters") or {}), **dict(zip(keys, values)), **overrides}
            stem = Path(spec["notebook"]).stem
            name = spec.get("name", stem).format(**params) if keys or "name" in spec else stem
            steps.append(Step(name=name.replace("/", "_").replace(" ", "_"), notebook=spec["notebook"],
                              parameters=params))
    names = [s.name for s in steps]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"preset expands to duplicate step names {duplicates}: add the matrix keys to 'name'")
    return steps


def _load_state(path: Path) -> dict:
    if path.is_file():
        return json.loads(path.read_text())
    return {"steps": {}}


def _write_summary(run_dir: Path, preset_name: str, preset: dict, steps: list[Step], state: dict,
                   failure: str | None) -> None:
    lines = [f"# Pipeline run `{run_dir.name}` (preset `{preset_name}`)", ""]
    dry_run = run_dir / "DRY_RUN.md"  # written by notebooks run with limit_sequences / limit_frames
    if dry_run.is_file():
        lines += ["> " + line if line else ">" for line in dry_run.read_text().strip().splitlines()] + [""]
    if preset.get("description"):
        lines += [preset["description"].strip(), ""]
    lines += ["**Status: FAILED** — " + failure if failure else "**Status: complete**", ""]
    lines += ["| step | notebook | status | seconds |", "|---|---|---|---|"]
    for step in steps:
        record = state["steps"].get(step.name, {})
        status = record.get("status", "not run")
        seconds = f"{record['seconds']:.0f}" if "seconds" in record else ""
        link = f"[{step.name}.ipynb]({step.name}.ipynb)" if (run_dir / f"{step.name}.ipynb").exists() else step.name
        lines.append(f"| {link} | {step.notebook} | {status} | {seconds} |")
    tables = sorted(p for p in run_dir.rglob("*.md") if p.name != "README.md" and p != dry_run)
    for table in tables:
        lines += ["", f"## {table.relative_to(run_dir)}", "", table.read_text().strip()]
    figures = sorted(run_dir.rglob("*.png"))
    if figures:
        lines += ["", "## Figures", ""]
        lines += [f"- [{p.relative_to(run_dir)}]({p.relative_to(run_dir)})" for p in figures]
    atomic_write_text(run_dir / "README.md", "\n".join(lines) + "\n")


def run_pipeline(preset: str, overrides: dict[str, Any] | None = None, results_root: str | Path | None = None,
                 work_root: str | Path | None = None, run_name: str | None = None, force: bool = False,
                 notebooks_dir: str | Path | None = None, kernel_name: str = "python3",
                 only: list[str] | None = None) -> Path:
    """Execute a preset's notebooks in order; returns the run's results folder.

    Args:
        preset: shipped preset name or a YAML path.
        overrides: parameters that override the preset's for every notebook.
        results_root: where reviewable outputs go (default ``<repo>/results``).
        work_root: where checkpoints and generated data go (default ``<repo>/runs``, git-ignored).
        run_name: folder name of the run (default: the preset's ``run_name``).
        force: re-run steps already finished.
        only: run only the steps whose names start with one of these prefixes.
    """
    from ..core.notebook import HEADLESS_ENV

    os.environ[HEADLESS_ENV] = "1"  # inherited by the kernels: widgets are skipped (see core.notebook)

    spec = load_preset(preset)
    root = repo_root()
    results_root = Path(results_root or root / "results").resolve()
    work_root = Path(work_root or root / "runs").resolve()
    notebooks_dir = Path(notebooks_dir or root / "notebooks").resolve()
    run_name = run_name or spec["run_name"]
    overrides = dict(overrides or {})
    missing = [key for key in spec.get("required", []) if overrides.get(key) in (None, "")
               and (spec.get("parameters") or {}).get(key) in (None, "")]
    if missing:
        raise ValueError(f"preset {preset!r} needs these parameters: {missing} (give them with -p key=value)")
    # folders inside the checkout are passed relative to the notebooks (their working directory): executed
    # notebooks, state and keys then hold no machine paths
    overrides.update({"run_name": run_name, "results_root": _portable_path(results_root, notebooks_dir, root),
                      "work_root": _portable_path(work_root, notebooks_dir, root)})
    steps = expand_steps(spec, overrides)
    check_steps(steps, notebooks_dir, overrides, only=only)  # unknown parameters, --only matching nothing
    keys = step_keys(steps, notebooks_dir)
    if only:
        steps = [s for s in steps if any(s.name.startswith(prefix) for prefix in only)]
    run_dir = results_root / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    # one run per folder: a second pipeline run on this folder fails at once, naming this run's PID and host
    with run_folder_lock(run_dir, what="pipeline"):
        state_path = run_dir / STATE_FILE
        state = _load_state(state_path)
        state["preset"] = str(preset)
        failure = None
        try:
            for number, step in enumerate(steps, 1):
                record = state["steps"].get(step.name, {})
                output = run_dir / f"{step.name}.ipynb"
                key, fields = keys[step.name]
                if not force and record.get("status") == "done" and record.get("key") == key and output.exists():
                    print(f"[{number}/{len(steps)}] {step.name}: done before with the same inputs, skipped")
                    continue
                if record.get("status") == "done" and record.get("key") != key:
                    changed = differing_fields(record.get("fields"), fields) or ["(no key recorded)"]
                    print(f"[{number}/{len(steps)}] {step.name}: inputs changed ({', '.join(changed)}), re-running")
                print(f"[{number}/{len(steps)}] {step.name}: running {step.notebook}")
                state["steps"][step.name] = {"status": "running", "key": key, "fields": fields,
                                             "parameters": step.parameters}
                atomic_write_json(state_path, state)
                start = time.perf_counter()
                try:
                    _execute(step, notebooks_dir, output, kernel_name)
                except PipelineError as error:
                    failure = str(error)
                    state["steps"][step.name].update(status="failed", error=failure,
                                                     seconds=time.perf_counter() - start)
                    raise
                state["steps"][step.name].update(status="done", seconds=time.perf_counter() - start)
                atomic_write_json(state_path, state)
        except BaseException as error:
            if failure is None:
                failure = f"{type(error).__name__}: {error}"
            raise
        finally:
            atomic_write_json(state_path, state)
            _write_summary(run_dir, str(preset), spec, steps, state, failure)
        return run_dir


def _execute(step: Step, notebooks_dir: Path, output: Path, kernel_name: str) -> None:
    """Run one step's notebook with papermill; a failing cell becomes a :class:`PipelineError` naming it."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    source = notebooks_dir / step.notebook
    if not source.is_file():
        raise FileNotFoundError(f"preset step {step.name!r}: notebook {source} does not exist")
    try:
        papermill.execute_notebook(str(source), str(output), parameters=step.parameters,
                                   kernel_name=kernel_name, cwd=str(notebooks_dir), progress_bar=True)
    except PapermillExecutionError as error:
        raise PipelineError(
            f"notebook `{step.notebook}` (step `{step.name}`) failed in cell {error.cell_index} of the executed "
            f"notebook (execution count {error.exec_count}): {error.ename}: {error.evalue}; the executed notebook "
            f"with the traceback is {output}") from None
    finally:
        if output.is_file():
            _strip_machine_paths(output, notebooks_dir)


def _strip_machine_paths(output: Path, notebooks_dir: Path) -> None:
    """Executed notebooks are committed under results/, so they keep no paths of this machine: papermill's recorded
    input and output paths become relative to the notebooks' folder when they lie in the checkout, and inside the
    cells' outputs (warnings name the module that raised them, tracebacks every frame) the checkout's folder is
    dropped (``sesiam_lib/...``, ``.venv/lib/...``) and the interpreter's install prefix is written ``<python>``."""
    notebook = json.loads(output.read_text(encoding="utf-8"))
    record = notebook.get("metadata", {}).get("papermill", {})
    root = repo_root()
    for key in ("input_path", "output_path"):
        if record.get(key):
            record[key] = _portable_path(Path(record[key]).resolve(), notebooks_dir, root)
    prefixes = _machine_prefixes(root)
    for cell in notebook.get("cells", []):
        for out in cell.get("outputs", []):
            _scrub_output(out, prefixes)
    atomic_write_text(output, json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")


def _machine_prefixes(root: Path) -> list[tuple[str, str]]:
    """``(prefix, replacement)`` pairs, longest first: the checkout's folder, then the interpreter's prefixes that
    lie outside it."""
    pairs = {str(root) + os.sep: ""}
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        if prefix and not (prefix + os.sep).startswith(str(root) + os.sep):
            pairs.setdefault(prefix + os.sep, "<python>" + os.sep)
    return sorted(pairs.items(), key=lambda item: -len(item[0]))


def _scrub_text(text, prefixes: list[tuple[str, str]]):
    if isinstance(text, list):
        return [_scrub_text(line, prefixes) for line in text]
    if not isinstance(text, str):
        return text
    for prefix, replacement in prefixes:
        text = text.replace(prefix, replacement)
    return text


def _scrub_output(out: dict, prefixes: list[tuple[str, str]]) -> None:
    """One cell output in place: stream text, error messages and tracebacks, text results (images are left alone)."""
    for key in ("text", "evalue", "traceback"):
        if key in out:
            out[key] = _scrub_text(out[key], prefixes)
    data = out.get("data", {})
    for mime in ("text/plain", "text/markdown", "text/html"):
        if mime in data:
            data[mime] = _scrub_text(data[mime], prefixes)


def _portable_path(path: Path, notebooks_dir: Path, root: Path) -> str:
    """``path`` relative to the notebooks' folder when it lies in the checkout, else absolute."""
    try:
        path.relative_to(root)
    except ValueError:
        return str(path)
    return os.path.relpath(path, notebooks_dir)


def notebook_source_sha256(path: Path) -> str:
    """SHA-256 of a notebook's code and markdown sources (outputs, ids and metadata do not count)."""
    notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    text = json.dumps([[cell.get("cell_type"), "".join(cell.get("source", ""))]
                       for cell in notebook.get("cells", [])])
    return hashlib.sha256(text.encode()).hexdigest()


def step_keys(steps: list[Step], notebooks_dir: Path) -> dict[str, tuple[str, dict]]:
    """Each step's provenance ``(key, fields)``: its notebook's source, its parameters, the package version and
    source (code and shipped presets, :func:`~sesiam_lib.core.provenance.package_source_sha256`) and the key of
    the step before it -- so a change anywhere upstream re-runs every later step (whose own work,
    training runs and tracked sequences, is keyed too and resumes only where its inputs are unchanged)."""
    keys: dict[str, tuple[str, dict]] = {}
    upstream = None
    for step in steps:
        source = notebooks_dir / step.notebook
        fields = {"artefact": "pipeline-step", "library_version": package_version(),
                  "package_sha256": package_source_sha256(),
                  "environment": environment_versions(), "notebook": step.notebook,
                  "notebook_sha256": notebook_source_sha256(source) if source.is_file() else None,
                  "parameters": canonical(step.parameters), "upstream": upstream}
        upstream = provenance_key(fields)
        keys[step.name] = (upstream, fields)
    return keys

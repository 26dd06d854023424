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
the notebooks write, ``pipeline_state.json`` (which steps finished, with which parameters) and a ``README.md``
summary. Checkpoints and generated data go to ``<work_root>/RUN/`` (kept out of git). Re-running skips the steps
already finished with the same parameters; a failing cell stops the run and the summary names the notebook and
cell.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..core.io import atomic_write_json, atomic_write_text

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

    def fingerprint(self) -> str:
        text = json.dumps({"notebook": self.notebook, "parameters": self.parameters}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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
        preset = yaml.safe_load(handle) or {}
    unknown = set(preset) - {"description", "run_name", "parameters", "required", "steps"}
    if unknown:
        raise ValueError(f"{path}: unknown top-level keys {sorted(unknown)}")
    if not preset.get("steps"):
        raise ValueError(f"{path}: a preset needs a non-empty 'steps' list")
    preset.setdefault("run_name", path.stem)
    return preset


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` with the value parsed as YAML (``seed=3`` -> int, ``seeds=[0,1]`` -> list)."""
    if "=" not in text:
        raise ValueError(f"parameter override {text!r} is not of the form key=value")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


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
    tables = sorted(p for p in run_dir.rglob("*.md") if p.name != "README.md")
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
    import os

    import papermill
    from papermill.exceptions import PapermillExecutionError

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
    overrides.update({"run_name": run_name, "results_root": str(results_root), "work_root": str(work_root)})
    steps = expand_steps(spec, overrides)
    if only:
        steps = [s for s in steps if any(s.name.startswith(prefix) for prefix in only)]
    run_dir = results_root / run_name
    run_dir.mkdir(parents=True, exist_ok=True)
    state_path = run_dir / STATE_FILE
    state = _load_state(state_path)
    state["preset"] = str(preset)
    failure = None
    try:
        for number, step in enumerate(steps, 1):
            record = state["steps"].get(step.name, {})
            output = run_dir / f"{step.name}.ipynb"
            if (not force and record.get("status") == "done" and record.get("fingerprint") == step.fingerprint()
                    and output.exists()):
                print(f"[{number}/{len(steps)}] {step.name}: done before, skipped")
                continue
            source = notebooks_dir / step.notebook
            if not source.is_file():
                raise FileNotFoundError(f"preset step {step.name!r}: notebook {source} does not exist")
            print(f"[{number}/{len(steps)}] {step.name}: running {step.notebook}")
            state["steps"][step.name] = {"status": "running", "fingerprint": step.fingerprint(),
                                         "parameters": step.parameters}
            atomic_write_json(state_path, state)
            start = time.perf_counter()
            try:
                papermill.execute_notebook(str(source), str(output), parameters=step.parameters,
                                           kernel_name=kernel_name, cwd=str(notebooks_dir), progress_bar=True)
            except PapermillExecutionError as error:
                failure = (f"notebook `{step.notebook}` (step `{step.name}`) failed in cell {error.cell_index} of the "
                           f"executed notebook (execution count {error.exec_count}): {error.ename}: {error.evalue}")
                state["steps"][step.name].update(status="failed", error=failure,
                                                 seconds=time.perf_counter() - start)
                raise PipelineError(failure + f"; the executed notebook with the traceback is {output}") from None
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

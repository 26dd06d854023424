"""What a pipeline run cost, in compute seconds, read back from the files it left.

The pipeline's own summary gives each step's seconds *for its last execution*: a training step re-executed after
its run finished (a resumed pipeline, or one whose runs a second process trained) shows seconds, not the hours the
training took. This module reads the cost where the work recorded it instead:

- **training**: each run folder's ``train.log`` (``<work>/<run>/train/<dataset>/<tracker>/``). A process writes a
  line when it starts (``training <model> on ...``) and one per epoch; one *segment* runs from a start line to the
  last line before the next start, and a run's cost is the sum of its segments, so idle time between sessions is
  not counted (the unfinished epoch of a killed process is lost from the count; it was lost from the run too), nor
  are silences over 15 minutes inside a segment (a process paused with SIGSTOP; no epoch here takes that long).
- **tuning**: the seconds of every trial in notebook 05's ``trials.csv`` files (``<results>/<run>/tuning/``).
- **other steps** (tracking, analysis, equivariance): the pipeline summary's seconds (``pipeline_state.json``).

Each figure is process-seconds of one process (the training and tuning processes of the pipeline use one thread;
tracking steps with ``workers: K`` are counted by wall time and say so).

Command line: ``python -m sesiam_lib.pipeline.cost RUN_NAME [--results-root results] [--work-root runs]
[--write]`` prints a markdown table; ``--write`` also saves it as ``<results>/<run>/cost.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import datetime
from pathlib import Path

from ..core.io import atomic_write_text
from .experiment import RunPaths

__all__ = ["log_segments", "log_segments_seconds", "training_seconds", "tuning_seconds", "step_seconds", "run_cost",
           "format_cost"]

MAX_GAP_S = 900.0  # longer silences in a training log are pauses, not work (see log_segments_seconds)
_TIMESTAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) ")
# a process's first line; a process that resumes a run writes "resumed from" just before it
_START = re.compile(r" INFO (training \S+ on |resumed from )")


def log_segments(log: str | Path) -> list[list[datetime]]:
    """The timestamps of a training log, one list per process that wrote it: a segment starts at a start line
    (``training <model> on ...``, or the ``resumed from ...`` a resuming process writes first) and runs to the
    last line before the next one. Lines without a timestamp (tracebacks) are skipped."""
    segments: list[list[datetime]] = []
    for line in Path(log).read_text(encoding="utf-8", errors="replace").splitlines():
        match = _TIMESTAMP.match(line)
        if not match:
            continue
        when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        if _START.search(line) or not segments:
            segments.append([])
        segments[-1].append(when)
    return segments


def log_segments_seconds(log: str | Path, max_gap_s: float = MAX_GAP_S) -> float:
    """Seconds a training log covers: the sum, within each segment (:func:`log_segments`), of the intervals
    between consecutive lines, leaving out intervals longer than ``max_gap_s`` (a process paused with SIGSTOP for
    a quiet timing, or a suspended machine: no epoch of the synthetic runs takes that long)."""
    return sum(gap for stamps in log_segments(log) for gap in
               ((b - a).total_seconds() for a, b in zip(stamps, stamps[1:])) if gap <= max_gap_s)


def training_seconds(paths: RunPaths) -> dict[str, float]:
    """``{"<dataset>/<tracker>": seconds}`` for every run folder with a ``train.log`` under the run's work tree."""
    root = paths.work / "train"
    return {f"{log.parent.parent.name}/{log.parent.name}": log_segments_seconds(log)
            for log in sorted(root.glob("*/*/train.log"))}


def tuning_seconds(paths: RunPaths) -> dict[str, float]:
    """``{"<dataset>/<tracker>": seconds}``: the summed trial seconds of every ``trials.csv`` of notebook 05."""
    out = {}
    for table in sorted((paths.results / "tuning").glob("*/*/trials.csv")):
        with open(table, encoding="utf-8", newline="") as handle:
            seconds = [float(row["seconds"]) for row in csv.DictReader(handle) if row.get("seconds")]
        out[f"{table.parent.parent.name}/{table.parent.name}"] = sum(seconds)
    return out


def step_seconds(paths: RunPaths, prefixes: tuple[str, ...] = ("02_training", "05_tuning")) -> dict[str, float]:
    """The pipeline summary's seconds of every finished step whose name does not start with ``prefixes`` (those
    are counted from their own records above)."""
    state_file = paths.results / "pipeline_state.json"
    if not state_file.is_file():
        return {}
    steps = json.loads(state_file.read_text(encoding="utf-8")).get("steps", {})
    return {name: float(record["seconds"]) for name, record in steps.items()
            if "seconds" in record and not name.startswith(prefixes)}


def run_cost(paths: RunPaths) -> dict[str, dict[str, float]]:
    """``{"training": {...}, "tuning": {...}, "other steps": {...}}``, seconds by item (see the module docstring)."""
    return {"training": training_seconds(paths), "tuning": tuning_seconds(paths), "other steps": step_seconds(paths)}


def format_cost(cost: dict[str, dict[str, float]], run_name: str) -> str:
    """A markdown report: a total per kind, then every item."""
    total = sum(sum(items.values()) for items in cost.values())
    lines = [f"# Compute cost of `{run_name}`", "",
             "Read back from the run's own records (`python -m sesiam_lib.pipeline.cost`; how each is counted: "
             "the module's docstring). Process-hours; tracking steps run with their preset's `workers` and are "
             "counted by wall time.", "",
             "| kind | items | hours |", "|---|---|---|"]
    for kind, items in cost.items():
        lines.append(f"| {kind} | {len(items)} | {sum(items.values()) / 3600:.2f} |")
    lines += [f"| **total** | | **{total / 3600:.2f}** |", ""]
    for kind, items in cost.items():
        if items:
            lines += [f"## {kind}", "", "| item | minutes |", "|---|---|"]
            lines += [f"| {name} | {seconds / 60:.1f} |" for name, seconds in items.items()]
            lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sesiam_lib.pipeline.cost",
                                     description="What a pipeline run cost, read back from its logs and records.")
    parser.add_argument("run_name")
    parser.add_argument("--results-root", default="results")
    parser.add_argument("--work-root", default="runs")
    parser.add_argument("--write", action="store_true", help="also write <results-root>/<run>/cost.md")
    args = parser.parse_args(argv)
    paths = RunPaths(args.run_name, args.results_root, args.work_root)
    if not paths.results.is_dir() and not paths.work.is_dir():
        print(f"cost: no run {args.run_name!r}: neither {paths.results} nor {paths.work} exists", file=sys.stderr)
        return 1
    report = format_cost(run_cost(paths), args.run_name)
    print(report)
    if args.write:
        atomic_write_text(paths.results / "cost.md", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())

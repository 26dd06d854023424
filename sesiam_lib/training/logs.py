"""CSV training logs and their plot.

Two files in the run folder, written by rank 0 only, flushed after every row:

- ``log_steps.csv``: one row per optimisation step -- ``epoch`` (1-based), ``step`` (1-based within the
  epoch), ``global_step`` (1-based), ``loss``, ``lr``, ``grad_norm``, ``skipped`` (1 when the step was
  skipped for a non-finite loss or gradient), ``pairs_per_s``, ``time_s`` (seconds since the run started).
- ``log_epochs.csv``: one row per epoch -- ``epoch``, ``steps``, ``mean_loss`` (over the non-skipped steps),
  ``lr``, ``skipped_steps``, ``unfreeze_stage``, ``trainable_params``, ``val_auc`` (empty without
  validation), ``best`` (1 on the best epoch so far), ``epoch_time_s``, ``pairs_per_s``.

On resume the logs are cut back to the checkpoint's position, so a resumed run's logs read exactly like an
uninterrupted run's (apart from the timings).
"""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

__all__ = [
    "STEP_FIELDS",
    "EPOCH_FIELDS",
    "CsvLog",
    "read_csv_log",
    "plot_training_log",
]

STEP_FIELDS = ["epoch", "step", "global_step", "loss", "lr", "grad_norm", "skipped", "pairs_per_s", "time_s"]
EPOCH_FIELDS = [
    "epoch", "steps", "mean_loss", "lr", "skipped_steps", "unfreeze_stage", "trainable_params", "val_auc",
    "best", "epoch_time_s", "pairs_per_s",
]


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)
    return str(value)


class CsvLog:
    """Append-only CSV file with a fixed header; ``truncate_after`` cuts it back on resume."""

    def __init__(self, path: str | os.PathLike, fields: list[str]) -> None:
        self.path = Path(path)
        self.fields = list(fields)
        self._handle = None

    def _open(self):
        if self._handle is None:
            new = not self.path.is_file() or self.path.stat().st_size == 0
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.path, "a", encoding="utf-8", newline="")
            if new:
                self._handle.write(",".join(self.fields) + "\n")
                self._handle.flush()
        return self._handle

    def write(self, row: dict) -> None:
        handle = self._open()
        handle.write(",".join(_fmt(row.get(f)) for f in self.fields) + "\n")
        handle.flush()

    def reset(self) -> None:
        """Start the file afresh (header only)."""
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "w", encoding="utf-8", newline="") as handle:
            handle.write(",".join(self.fields) + "\n")

    def truncate_after(self, key: str, limit: int) -> None:
        """Keep only complete rows whose ``key`` column is ``<= limit`` (drops rows written after a checkpoint)."""
        self.close()
        if not self.path.is_file():
            self.reset()
            return
        kept = []
        for row in read_csv_log(self.path):
            try:
                if int(float(row[key])) <= limit:
                    kept.append(row)
            except (KeyError, TypeError, ValueError):
                continue  # a half-written last line from a killed run
        with open(self.path, "w", encoding="utf-8", newline="") as handle:
            handle.write(",".join(self.fields) + "\n")
            for row in kept:
                handle.write(",".join(row.get(f, "") or "" for f in self.fields) + "\n")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def read_csv_log(path: str | os.PathLike) -> list[dict]:
    """Rows of a CSV log as dicts of strings (rows with a missing column are skipped)."""
    path = Path(path)
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return [row for row in reader if None not in row.values() and None not in row]


def _floats(rows: list[dict], key: str) -> list[float]:
    out = []
    for row in rows:
        try:
            out.append(float(row[key]))
        except (KeyError, TypeError, ValueError):
            out.append(float("nan"))
    return out


def plot_training_log(run_dir: str | os.PathLike):
    """A matplotlib Figure of a run's loss and learning-rate curves (and validation AUC when recorded).

    Left: per-step loss (thin) with its per-epoch mean (markers) against the epoch (fractional for steps; log
    scale);
    middle: learning rate per step (log scale); right: validation success AUC per epoch when the run
    validated, with the best epoch marked.
    """
    import matplotlib.pyplot as plt

    run_dir = Path(run_dir)
    steps = read_csv_log(run_dir / "log_steps.csv")
    epochs = read_csv_log(run_dir / "log_epochs.csv")
    if not steps and not epochs:
        raise FileNotFoundError(f"no training logs (log_steps.csv / log_epochs.csv) in {run_dir}")

    has_val = any((row.get("val_auc") or "") not in ("", "nan") for row in epochs)
    ncols = 3 if has_val else 2
    fig, axes = plt.subplots(1, ncols, figsize=(4.2 * ncols, 3.4), constrained_layout=True)

    # steps per epoch, for a fractional-epoch x axis
    per_epoch: dict[int, int] = {}
    for row in steps:
        try:
            e = int(row["epoch"])
            per_epoch[e] = max(per_epoch.get(e, 0), int(row["step"]))
        except (KeyError, ValueError):
            pass
    x_steps = []
    for row in steps:
        try:
            e, s = int(row["epoch"]), int(row["step"])
            x_steps.append(e - 1 + s / max(per_epoch.get(e, 1), 1))
        except (KeyError, ValueError):
            x_steps.append(float("nan"))

    ax = axes[0]
    if steps:
        loss = _floats(steps, "loss")
        ax.plot(x_steps, loss, lw=0.6, alpha=0.5, color="tab:blue", label="step loss")
    if epochs:
        ax.plot(_floats(epochs, "epoch"), _floats(epochs, "mean_loss"), "o-", color="tab:red", ms=4,
                label="epoch mean")
    # the first steps of a from-scratch run can be 100x the rest: a log axis keeps both readable
    if any(v > 0 for v in (_floats(steps, "loss") if steps else [])):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("balanced BCE loss")
    ax.set_title("training loss")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[1]
    if steps:
        ax.plot(x_steps, _floats(steps, "lr"), color="tab:green")
    elif epochs:
        ax.plot(_floats(epochs, "epoch"), _floats(epochs, "lr"), "o-", color="tab:green")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title("learning rate")
    ax.grid(alpha=0.3, which="both")

    if has_val:
        ax = axes[2]
        valid = [(a, e) for a, e in zip(_floats(epochs, "val_auc"), _floats(epochs, "epoch")) if not math.isnan(a)]
        ax.plot([e for _, e in valid], [a for a, _ in valid], "o-", color="tab:purple")
        if valid:
            best_auc, best_ep = max(valid)
            ax.axvline(best_ep, color="gray", ls="--", lw=0.8)
            ax.set_title(f"validation success AUC (best {best_auc:.3f} @ {int(best_ep)})")
        ax.set_xlabel("epoch")
        ax.set_ylabel("success AUC")
        ax.grid(alpha=0.3)
    fig.suptitle(run_dir.name)
    return fig

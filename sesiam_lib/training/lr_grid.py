"""Choosing the learning rate from a small grid on the validation split (notebook 02's ``lr_grid``).

One model (``name``: ``<model>`` or ``<model>-<tag>``) on one dataset gets its ``optim.lr_start`` chosen once,
with the seed ``lr_seed``, and every seed then trains with that value:

1. :func:`run_lr_grid` (seed ``lr_seed``): for each grid value ``v`` one training run with the same preset and
   overrides plus ``optim.lr_start=v`` and ``optim.lr_end=v * lr_end_ratio`` (``lr_end_ratio``: the resolved
   configuration's ``lr_end / lr_start``, e.g. 1e-2 -> 1e-4 in ``synthetic_v2``: 0.01), into
   ``paths.train_dir(dataset, f"{name}-lr{v:g}", lr_seed)`` (its CSV logs copied to
   ``paths.training_results(dataset, f"{name}-lr{v:g}", lr_seed)``). The runs resume like any training run
   (``resume=auto``: a finished one trains nothing). The value with the highest validation AUC (the run's
   ``best_metric``) is chosen, ties going to the smaller learning rate (:data:`LR_SELECTION_RULE`), and
   written atomically to the selection file :func:`lr_selection_path`:
   ``<results>/training/<dataset>/<name>_lr_selection.json``, next to the model's ``<name>_s<seed>`` result
   folders. It holds the rule, the grid, the ratio, the settings (:func:`grid_settings`) and for every value
   its best AUC, best epoch, stop epoch and run folder, and the choice.
2. :func:`select_lr` (every seed): for ``seed == lr_seed`` it runs step 1 (cheap when done: the runs are
   finished and the file is rewritten with the same content); for another seed it reads the selection file,
   which must exist and have been made with the same grid and settings (else :class:`LrGridError`: run the
   ``lr_seed`` step first). It returns the selection; ``selection["overrides"]`` are the two
   ``optim.lr_start`` / ``optim.lr_end`` overrides that the model's normal run ``<name>_s<seed>`` trains with.

Seed ``lr_seed`` is trained once more at the chosen value under its normal name: same seed and configuration,
so the same weights as its grid run (the trainer is deterministic on the CPU); it is retrained rather than
copied, because the copied checkpoints would name the grid run's folder in their stored configuration.

A selection made with another grid (values, in any order) or other settings is never reused: ``lr_seed``
redoes it (retraining only the values it has no finished run for), other seeds refuse to start.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Sequence

from .config import ConfigError, config_to_dict, load_config
from .logs import read_csv_log
from .provenance import RUN_ONLY_KEYS, _drop

__all__ = [
    "LR_SELECTION_RULE",
    "LrGridError",
    "lr_grid_name",
    "lr_selection_path",
    "grid_settings",
    "run_lr_grid",
    "read_lr_selection",
    "select_lr",
    "plot_lr_grid",
]

LR_SELECTION_RULE = ("highest validation success AUC (best_metric: the best validated epoch of the run); "
                     "ties -> the smaller lr_start; lr_end = lr_start * lr_end_ratio")
SELECTION_FORMAT = "sesiam-lr-selection/1"


class LrGridError(ConfigError):
    """The learning-rate grid cannot be used, or its selection is missing / made with other settings."""


def lr_grid_name(name: str, lr: float) -> str:
    """The model name of one grid run: ``<name>-lr<lr:g>`` (its folders are ``<name>-lr<lr:g>_s<seed>``)."""
    return f"{name}-lr{float(lr):g}"


def lr_selection_path(paths, dataset: str, name: str) -> Path:
    """``<results>/training/<dataset>/<name>_lr_selection.json`` (``paths``: a pipeline ``RunPaths``)."""
    return Path(paths.training_results(dataset, name, 0)).parent / f"{name}_lr_selection.json"


def _check_grid(grid) -> list[float]:
    if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence):
        raise LrGridError(f"lr_grid must be a list of learning rates (optim.lr_start values), got {grid!r}")
    values = []
    for value in grid:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise LrGridError(f"lr_grid: every value must be a finite number > 0, got {value!r}")
        values.append(float(value))
    if not values:
        raise LrGridError("lr_grid is empty")
    names = [f"{v:g}" for v in values]
    if len(set(names)) != len(names):
        raise LrGridError(f"lr_grid has repeated values (as written in folder names: {names})")
    return sorted(values)


def _config(preset, overrides, seed: int, lr: float | None = None, ratio: float | None = None,
            run_dir: str | None = None):
    extra = [f"seed={int(seed)}"]
    if lr is not None:
        extra += [f"optim.lr_start={lr!r}", f"optim.lr_end={lr * ratio!r}"]
    if run_dir is not None:
        extra.append(f"run_dir={run_dir}")
    return load_config(preset=preset, overrides=list(overrides or []) + extra)


def grid_settings(cfg) -> dict:
    """The settings a selection depends on: the configuration without where it runs, the seed and the two
    learning rates (the same for every seed of the model, so a selection made with seed ``lr_seed`` applies)."""
    data = config_to_dict(cfg)
    for key in RUN_ONLY_KEYS + ("seed", "optim.lr_start", "optim.lr_end"):
        _drop(data, key)
    return data


def _copy_logs(run_dir: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for log_name in ("log_steps.csv", "log_epochs.csv"):
        if (run_dir / log_name).is_file():
            shutil.copyfile(run_dir / log_name, out_dir / log_name)


def run_lr_grid(grid, *, paths, dataset: str, name: str, preset: str | None = None, overrides=(),
                lr_seed: int = 0, copy_logs: bool = True, restart_changed: bool = False) -> dict:
    """Train one run per grid value with seed ``lr_seed``, choose the value, write the selection file.

    Args:
        grid: ``optim.lr_start`` values.
        paths: a :class:`sesiam_lib.pipeline.experiment.RunPaths` (folders of the runs and of the file).
        dataset, name: the dataset name (folder names) and the model name (``<model>`` or ``<model>-<tag>``).
        preset, overrides: the training preset and ``key=value`` overrides of the model's normal runs (the
            grid adds ``seed``, ``run_dir``, ``optim.lr_start`` and ``optim.lr_end`` after them).
        lr_seed: the seed of the grid runs.
        copy_logs: copy each run's CSV logs to its results folder.

    Returns:
        the selection (what the file holds); ``selection["overrides"]`` trains a run with the chosen value.
    """
    from sesiam_lib.core.io import atomic_write_json

    from .trainer import train

    values = _check_grid(grid)
    base = _config(preset, overrides, lr_seed)
    if not base.validation.enabled:
        raise LrGridError("lr_grid needs validation (validation.enabled=true): the choice is by validation AUC")
    ratio = base.optim.lr_end / base.optim.lr_start
    runs = []
    for value in values:
        gname = lr_grid_name(name, value)
        run_dir = Path(paths.train_dir(dataset, gname, lr_seed))
        cfg = _config(preset, overrides, lr_seed, value, ratio, str(run_dir))
        result = train(cfg, restart_changed=restart_changed)
        if result.best_metric is None:
            raise LrGridError(f"grid run {run_dir} has no validation AUC")
        if copy_logs:
            _copy_logs(Path(result.run_dir), Path(paths.training_results(dataset, gname, lr_seed)))
        runs.append({
            "lr_start": value, "lr_end": cfg.optim.lr_end, "name": gname, "run_dir": str(run_dir),
            "best_auc": float(result.best_metric), "best_epoch": result.best_epoch,
            "epochs_completed": result.epochs_completed, "stopped_early": bool(result.stopped_early),
            "stop_epoch": result.stop_epoch if result.stopped_early else result.epochs_completed,
        })
    chosen = max(runs, key=lambda r: (r["best_auc"], -r["lr_start"]))
    selection = {
        "format": SELECTION_FORMAT, "dataset": dataset, "name": name, "rule": LR_SELECTION_RULE,
        "grid": values, "lr_end_ratio": ratio, "lr_seed": int(lr_seed), "preset": base.preset,
        "settings": grid_settings(base), "runs": runs,
        "chosen": {"lr_start": chosen["lr_start"], "lr_end": chosen["lr_end"], "best_auc": chosen["best_auc"],
                   "name": chosen["name"]},
    }
    path = lr_selection_path(paths, dataset, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, selection)
    return _with_overrides(selection, path)


def _with_overrides(selection: dict, path: Path) -> dict:
    chosen = selection["chosen"]
    return {**selection, "path": str(path),
            "overrides": [f"optim.lr_start={chosen['lr_start']!r}", f"optim.lr_end={chosen['lr_end']!r}"]}


def read_lr_selection(path, grid=None, settings: dict | None = None) -> dict:
    """The selection in ``path``; :class:`LrGridError` when it is missing or was made with another ``grid`` /
    other ``settings`` (when given)."""
    path = Path(path)
    if not path.is_file():
        raise LrGridError(
            f"no learning-rate selection {path}: the lr_seed step must run first (notebook 02 with seed == lr_seed "
            "and the same lr_grid trains the grid and writes it)")
    try:
        selection = json.loads(path.read_text(encoding="utf-8"))
        selection["chosen"]["lr_start"], selection["grid"]  # noqa: B018 - the keys must be there
    except (ValueError, KeyError, TypeError) as exc:
        raise LrGridError(f"learning-rate selection {path} is unreadable ({exc}); rerun the lr_seed step") from None
    if grid is not None and [float(v) for v in selection["grid"]] != _check_grid(grid):
        raise LrGridError(
            f"learning-rate selection {path} was made with lr_grid={selection['grid']}, not {_check_grid(grid)}: "
            "run the lr_seed step with this grid first")
    if settings is not None and selection.get("settings") != settings:
        stored = selection.get("settings") or {}
        differing = sorted(k for k in set(stored) | set(settings) if stored.get(k) != settings.get(k))
        raise LrGridError(
            f"learning-rate selection {path} was made with other training settings (differing: "
            f"{', '.join(differing)}): run the lr_seed step with these settings first")
    return _with_overrides(selection, path)


def select_lr(grid, *, paths, dataset: str, name: str, seed: int, preset: str | None = None, overrides=(),
              lr_seed: int = 0, copy_logs: bool = True, restart_changed: bool = False) -> dict:
    """The learning rate of run ``<name>_s<seed>``: :func:`run_lr_grid` when ``seed == lr_seed``, else the
    selection file written by it (which must match ``grid`` and the settings). See the module docstring."""
    if int(seed) == int(lr_seed):
        return run_lr_grid(grid, paths=paths, dataset=dataset, name=name, preset=preset, overrides=overrides,
                           lr_seed=lr_seed, copy_logs=copy_logs, restart_changed=restart_changed)
    settings = grid_settings(_config(preset, overrides, seed))
    return read_lr_selection(lr_selection_path(paths, dataset, name), grid=grid, settings=settings)


def plot_lr_grid(selection: dict, ax=None):
    """Validation AUC per epoch of each grid run (from its ``log_epochs.csv``), the chosen value in bold and
    each run's best epoch starred. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 3.8), constrained_layout=True)
    else:
        fig = ax.figure
    for run in selection["runs"]:
        rows = read_csv_log(Path(run["run_dir"]) / "log_epochs.csv")
        points = [(int(r["epoch"]), float(r["val_auc"])) for r in rows if r.get("val_auc") not in (None, "")]
        chosen = run["lr_start"] == selection["chosen"]["lr_start"]
        label = f"lr_start {run['lr_start']:g}: best {run['best_auc']:.3f} @ {run['best_epoch']}"
        if run.get("stopped_early"):
            label += f", stopped after {run['stop_epoch']}"
        line, = ax.plot([e for e, _ in points], [a for _, a in points], "o-", ms=3, lw=2.2 if chosen else 1.0,
                        label=label + (" (chosen)" if chosen else ""))
        if run.get("best_epoch") is not None:
            ax.plot([run["best_epoch"]], [run["best_auc"]], "*", ms=11, color=line.get_color())
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation success AUC")
    ax.set_title(f"{selection['name']} on {selection['dataset']}: learning-rate grid (seed {selection['lr_seed']})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig

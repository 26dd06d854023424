"""Training checkpoints that survive interruption.

A training checkpoint is a dict saved with ``torch.save`` (loadable with ``weights_only=True``)::

    {
      "format": "sesiam_lib.training/1",
      "model": state_dict,             # what sesiam_lib.models.load_checkpoint reads
      "model_name": "se_siamfc_tiny",
      "optimizer": optimizer.state_dict(),
      "scaler": GradScaler state or None,
      "epoch": 3, "step": 40,          # sampler position: 0-based epoch in progress, batches done in it
      "global_step": 340,
      "epoch_complete": False,         # True: written at the end of epoch ``epoch - 1`` (step == 0)
      "unfreeze_stage": 2 or None,
      "rng": {"python": ..., "numpy": ..., "torch": ..., "cuda": [...]},   # plain lists / uint8 tensors
      "counters": {...},               # running sums of the epoch in progress, skipped steps, best metric
      "config": {...},                 # the resolved TrainConfig as a dict
    }

Files live in ``<run_dir>/checkpoints/``: ``last.pth`` (newest), ``epoch_XXX.pth`` (end of epoch XXX,
1-based; the newest ``keep_last`` are kept), ``best.pth`` (best validation epoch) and ``final.pth`` (model
weights only, written when training completes). Every file is written atomically
(:func:`sesiam_lib.core.io.atomic_torch_save`): a crash or a full disk mid-write leaves the previous file
untouched, and a failed write raises :class:`CheckpointWriteError` naming the last good checkpoint.
"""

from __future__ import annotations

import errno
import os
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sesiam_lib.core import io as core_io

# One error type for unusable checkpoints across the library (unreadable, not a training checkpoint, of another
# model): the models' loader raises the same class.
from sesiam_lib.models.checkpoint import CheckpointError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckpointError",
    "CheckpointWriteError",
    "CheckpointManager",
    "capture_rng_state",
    "restore_rng_state",
    "load_training_checkpoint",
]

CHECKPOINT_FORMAT = "sesiam_lib.training/1"
_EPOCH_RE = re.compile(r"^epoch_(\d+)\.pth$")


def _warn_console(message: str) -> None:
    """Log a warning on ``sesiam_lib.training`` (train.log, the CLI's console) and print it to stderr when no
    console handler would show it (a plain script that never configured logging)."""
    import logging
    import sys

    from .console import has_console_handler

    logger = logging.getLogger("sesiam_lib.training.checkpointing")
    logger.warning(message)
    if not has_console_handler(logger, logging.WARNING):
        print(f"WARNING: {message}", file=sys.stderr)


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed (e.g. the disk is full); the previous checkpoint file is intact."""


# ----------------------------------------------------------------------------------------------------
# RNG state as plain data (so checkpoints load with weights_only=True)


def capture_rng_state() -> dict:
    """Python, NumPy, torch (CPU) and CUDA generator states, as lists / uint8 tensors."""
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state = {
        "python": [int(py_version), [int(v) for v in py_state], py_gauss],
        "numpy": [str(np_name), torch.from_numpy(np.asarray(np_keys, dtype=np.int64)), int(np_pos),
                  int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
    }
    return state


def restore_rng_state(state: dict) -> None:
    """Inverse of :func:`capture_rng_state`."""
    if not state:
        return
    py = state.get("python")
    if py is not None:
        random.setstate((int(py[0]), tuple(int(v) for v in py[1]), py[2]))
    npst = state.get("numpy")
    if npst is not None:
        keys = npst[1].numpy() if isinstance(npst[1], torch.Tensor) else np.asarray(npst[1])
        keys = keys.astype(np.uint32)
        np.random.set_state((npst[0], keys, int(npst[2]), int(npst[3]), float(npst[4])))
    if state.get("torch") is not None:
        torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


# ----------------------------------------------------------------------------------------------------
# loading


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as exc:  # a truncated / foreign file: say which and why
        from sesiam_lib.models.checkpoint import _not_a_torch_file

        what = _not_a_torch_file(path)
        if what is not None:
            raise CheckpointError(f"could not read checkpoint {path}: it is {what}") from exc
        first = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise CheckpointError(f"could not read checkpoint {path}: the file is truncated, corrupt or not a "
                              f"checkpoint ({type(exc).__name__}: {first})") from exc


def load_training_checkpoint(path: str | os.PathLike, model_name: str | None = None) -> dict:
    """Load a training checkpoint written by :class:`CheckpointManager` and check it is one.

    Args:
        path: the ``.pth`` file.
        model_name: when given, the checkpoint must have been written for this model.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: unreadable, not a training checkpoint (no optimizer / position), or another model.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    ckpt = _torch_load(path)
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a checkpoint with a 'model' state dict")
    missing = [k for k in ("optimizer", "epoch", "step", "global_step") if k not in ckpt]
    if ckpt.get("format") != CHECKPOINT_FORMAT or missing:
        raise CheckpointError(
            f"{path} is not a resumable training checkpoint of sesiam_lib.training (format "
            f"{ckpt.get('format')!r}, missing {missing}); to start from its weights use pretrained=<path> instead"
        )
    if model_name is not None and ckpt.get("model_name") not in (None, model_name):
        raise CheckpointError(
            f"checkpoint {path} was written for model {ckpt.get('model_name')!r}, but this run trains "
            f"{model_name!r}; resume with the same model, or start a new run folder"
        )
    return ckpt


# ----------------------------------------------------------------------------------------------------
# writing


class CheckpointManager:
    """Writes and rotates the checkpoints of one run folder (``<run_dir>/checkpoints``)."""

    def __init__(self, run_dir: str | os.PathLike, keep_last: int = 3) -> None:
        self.dir = Path(run_dir) / "checkpoints"
        self.keep_last = int(keep_last)

    @property
    def last_path(self) -> Path:
        return self.dir / "last.pth"

    @property
    def best_path(self) -> Path:
        return self.dir / "best.pth"

    @property
    def final_path(self) -> Path:
        return self.dir / "final.pth"

    def epoch_path(self, epoch: int) -> Path:
        """File of the checkpoint written at the end of 1-based ``epoch``."""
        return self.dir / f"epoch_{int(epoch):03d}.pth"

    def epoch_files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.dir.iterdir() if (m := _EPOCH_RE.match(p.name))]
        return [p for _, p in sorted(found)]

    def has_checkpoints(self) -> bool:
        return self.last_path.is_file() or bool(self.epoch_files())

    def _write(self, obj: dict, path: Path) -> None:
        try:
            core_io.atomic_torch_save(obj, path)
        except OSError as exc:
            good = path if path.is_file() else (self.last_path if self.last_path.is_file() else None)
            reason = "the disk is full" if exc.errno == errno.ENOSPC else f"{type(exc).__name__}: {exc}"
            keep = (f"the previous {good.name} is intact" if good is not None
                    else "no earlier checkpoint exists")
            raise CheckpointWriteError(
                exc.errno, f"could not write checkpoint {path} ({reason}); {keep} -- free space or choose "
                f"another run_dir, then resume"
            ) from exc

    def save_last(self, state: dict) -> Path:
        """Write ``last.pth`` (a mid-epoch or end-of-epoch training checkpoint)."""
        self._write(state, self.last_path)
        return self.last_path

    def save_epoch(self, state: dict, epoch: int) -> Path:
        """Write ``epoch_XXX.pth`` (1-based ``epoch``) and ``last.pth``; delete epoch files beyond ``keep_last``."""
        path = self.epoch_path(epoch)
        self._write(state, path)
        self._write(state, self.last_path)
        self.prune()
        return path

    def save_best(self, state: dict) -> Path:
        self._write(state, self.best_path)
        return self.best_path

    def save_final(self, state: dict) -> Path:
        self._write(state, self.final_path)
        return self.final_path

    def prune(self) -> None:
        if self.keep_last <= 0:
            return
        files = self.epoch_files()
        for old in files[: max(0, len(files) - self.keep_last)]:
            try:
                old.unlink()
            except FileNotFoundError:
                pass

    def remove_all(self) -> None:
        """Delete this run's checkpoints (for ``overwrite=true``), with a warning naming them first."""
        if not self.dir.is_dir():
            return
        doomed = sorted(p for p in self.dir.iterdir() if p.suffix == ".pth" and p.is_file())
        if doomed:
            _warn_console(f"overwrite=true: deleting {len(doomed)} checkpoint(s) of the earlier run in {self.dir}: "
                          f"{', '.join(p.name for p in doomed)} (set resume=true to continue that run instead, or "
                          "overwrite=false to keep it)")
        for p in doomed:
            p.unlink()

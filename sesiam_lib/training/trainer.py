"""The training loop: the released SiamFC recipe (FACTS §5) on one CPU, one GPU or several (torchrun).

Per epoch ``e`` (0-based, of ``epochs``):

1. the unfreeze stage of the epoch is applied (``unfreeze.mode=gradual``; see :mod:`.unfreeze`);
2. the learning rate is ``np.logspace(log10(lr_start), log10(lr_end), epochs)[e]``;
3. the pair dataset is told the epoch (``set_epoch``) and a :class:`~.distributed.ShardSampler` draws this
   rank's pairs in an order fixed by ``(seed, epoch)``;
4. each step: forward (optionally under autocast), balanced BCE (``model.loss``), backward, gradient-norm
   clipping, SGD step -- skipped (and counted) when the loss or the gradient norm is not finite;
   ``optim.max_nonfinite_steps`` skipped steps in a row stop training with :class:`TrainingDivergedError`;
5. optional validation (success AUC of the tracker on a validation split) records the best epoch;
6. a checkpoint (``epoch_XXX.pth`` + ``last.pth``, and ``best.pth``) is written atomically.

Checkpoints hold everything the loop depends on (weights, optimizer, scaler, position, RNG states, running
sums), so a run resumed from any checkpoint ends bitwise equal to an uninterrupted run on the CPU.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import random
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn

from . import unfreeze as unfreeze_mod
from .checkpointing import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    CheckpointManager,
    capture_rng_state,
    load_training_checkpoint,
    restore_rng_state,
)
from .config import ConfigError, TrainConfig, config_to_dict, load_config
from .distributed import (
    DistInfo,
    ShardSampler,
    all_reduce_sum,
    broadcast_flag,
    cleanup_distributed,
    epoch_generator,
    init_distributed,
    resolve_device,
)
from .logs import EPOCH_FIELDS, STEP_FIELDS, CsvLog, read_csv_log
from .plateau import plateau_stop_epoch
from .provenance import check_resume, run_fields, write_run_provenance

__all__ = [
    "train",
    "TrainResult",
    "Trainer",
    "TrainingDivergedError",
    "TrainingDataError",
    "lr_schedule",
]

log = logging.getLogger("sesiam_lib.training")


class TrainingDivergedError(RuntimeError):
    """Too many consecutive steps with a non-finite loss or gradient."""


class TrainingDataError(ValueError):
    """The training (or validation) data cannot be used: missing, empty, or without valid pairs."""


@dataclass
class TrainResult:
    """What a finished :func:`train` call produced.

    Attributes:
        run_dir: the run folder.
        final_checkpoint: ``checkpoints/final.pth`` (weights + config, no optimizer) -- what to track with.
        last_checkpoint: ``checkpoints/last.pth`` (full training state, for resuming / extending).
        best_checkpoint: ``checkpoints/best.pth`` when validation ran, else None.
        best_epoch: 1-based epoch with the best validation AUC (None without validation).
        best_metric: that AUC.
        log_steps / log_epochs: the CSV logs (``log_path`` is ``log_epochs``).
        epochs_completed, global_step: position reached.
        skipped_steps: steps skipped for a non-finite loss or gradient, over the whole run.
        resumed_from: the checkpoint this call resumed from, if any.
        history: the per-epoch rows of ``log_epochs.csv`` (dicts of strings).
        stopped_early: training stopped at a validation plateau (``validation.patience``) before ``epochs``.
        stop_epoch: the (1-based) epoch after which it stopped (None when it did not stop early).
    """

    run_dir: Path
    final_checkpoint: Path
    last_checkpoint: Path
    best_checkpoint: Path | None
    best_epoch: int | None
    best_metric: float | None
    log_steps: Path
    log_epochs: Path
    epochs_completed: int
    global_step: int
    skipped_steps: int
    resumed_from: Path | None = None
    history: list = field(default_factory=list)
    stopped_early: bool = False
    stop_epoch: int | None = None

    @property
    def log_path(self) -> Path:
        return self.log_epochs


def lr_schedule(lr_start: float, lr_end: float, epochs: int) -> np.ndarray:
    """The release's per-epoch learning rates: ``np.logspace(log10(lr_start), log10(lr_end), epochs)``."""
    return np.logspace(math.log10(lr_start), math.log10(lr_end), int(epochs))


# ----------------------------------------------------------------------------------------------------
# data


def _load_sequences(dataset: str, root: str | None, split: str, what: str, generate: dict | None = None):
    """Sequences of one split (GOT-10k layout, which the synthetic benchmark uses too)."""
    if root is None:
        if dataset == "got10k":
            raise ConfigError(
                f"{what}.root is required: the path of the GOT-10k dataset (the folder holding train/list.txt), "
                f"e.g. `python -m sesiam_lib.training --preset paper {what}.root=/data/GOT-10k`"
            )
        raise ConfigError(f"{what}.root is required: the folder of the {dataset} dataset")
    from sesiam_lib.data import load_got10k

    root_p = Path(root).expanduser()
    split_dir = root_p / split
    if generate is not None and not (split_dir / "list.txt").is_file():
        from sesiam_lib.data import generate_synthetic

        log.info("generating synthetic %s split under %s", split, root_p)
        kwargs = {"progress": False, **dict(generate)}
        generate_synthetic(root_p, split=split, **kwargs)
    if not root_p.exists():
        raise TrainingDataError(
            f"{what}.root {root_p} does not exist"
            + ("; generate the synthetic data first (sesiam_lib.data.generate_synthetic) or set "
               f"{what}.generate" if dataset == "synthetic" else "")
        )
    if not split_dir.is_dir():
        raise TrainingDataError(f"{what}: {root_p} has no {split!r} split (expected the folder {split_dir})")
    try:
        sequences = load_got10k(root_p, split)
    except (ValueError, FileNotFoundError) as exc:
        raise TrainingDataError(f"{what}: cannot load the {split!r} split of {root_p}: {exc}") from exc
    if not sequences:
        raise TrainingDataError(f"{what}: the {split!r} split of {root_p} has no sequences")
    return sequences


def build_pair_dataset(cfg: TrainConfig, model: nn.Module, sequences=None):
    """The training pair dataset (a pure function of ``(seed, epoch, index)``) for ``model``'s crop sizes."""
    from sesiam_lib import data as data_mod

    if sequences is None:
        sequences = _load_sequences(cfg.data.dataset, cfg.data.root, cfg.data.split, "data", cfg.data.generate)
    kwargs = dict(
        pairs_per_epoch=cfg.data.pairs_per_epoch,
        exemplar_size=model.exemplar_size,
        instance_size=model.instance_size,
        score_size=model.score_size,
        stride=getattr(model, "total_stride", 8),
        frame_range=cfg.data.frame_range,
        shift=cfg.data.shift,
        scale=cfg.data.scale,
        color=cfg.data.color,
        seed=cfg.seed,
    )
    kwargs.update(cfg.data.kwargs)
    if getattr(model, "head_type", "pool") == "scale":
        # the scale head (model_kwargs: {head: scale}) learns over (shift, row, col): labels from the pair's
        # relative scale (PairDataset's scale_label, used by _train_step instead of label)
        kwargs.update(return_scale=True, scale_ratio=model.scale_ratio, max_shift=model.max_shift)
    try:
        dataset = data_mod.PairDataset(sequences, **kwargs)
    except ValueError as exc:
        raise TrainingDataError(f"data: cannot build training pairs from {cfg.data.root}: {exc}") from exc
    if len(dataset) == 0:
        raise TrainingDataError(f"data: no training pairs could be drawn from {cfg.data.root}")
    return dataset


def _to_model_input(x: torch.Tensor) -> torch.Tensor:
    """Crops as float32 ``[B, 3, H, W]`` RGB 0..255 (accepts uint8 and channels-last ``[B, H, W, 3]``)."""
    if x.dim() == 4 and x.shape[1] != 3 and x.shape[-1] == 3:
        x = x.permute(0, 3, 1, 2)
    return x.float().contiguous()


# ----------------------------------------------------------------------------------------------------
# model


def _strip_prefix(state: dict, prefix: str = "module.") -> dict:
    if state and all(k.startswith(prefix) for k in state):
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


def _check_and_load_state(model: nn.Module, state: dict, source: str) -> None:
    """Load ``state`` strictly, or raise :class:`CheckpointError` listing the differences (model untouched)."""
    from sesiam_lib.models import check_state_dict

    state = check_state_dict(model, _strip_prefix(dict(state)), source=source)
    model.load_state_dict(state, strict=True)


def load_pretrained(model: nn.Module, path: str | os.PathLike, model_name: str) -> str:
    """Initialise ``model`` from ``path``; returns how (``"loaded"`` or ``"transferred"``).

    The file may be a bare state dict, a release snapshot or a checkpoint of this project (see
    :func:`sesiam_lib.models.read_checkpoint`). An SE-SiamFC model given a plain CIResNet state dict (the
    ImageNet-pretrained CIResNet-22, or a SiamFC+ checkpoint of the same layout) gets it transferred onto its
    basis with :func:`sesiam_lib.models.transfer_weights`; otherwise the file must hold this model's weights.
    """
    from sesiam_lib.models import read_checkpoint, transfer_weights

    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"pretrained weights {path} do not exist")
    state, info = read_checkpoint(path)
    if getattr(model, "scale_equivariant", False) and not any(k.endswith(".basis") for k in state):
        try:
            transfer_weights(state, model)
        except (KeyError, ValueError, RuntimeError) as exc:
            raise CheckpointError(
                f"pretrained weights {path} are neither a state dict of {model_name!r} nor a plain CIResNet state "
                f"dict that transfers onto it: {exc}"
            ) from exc
        return "transferred"
    written_for = info.metadata.get("model_name") if info.metadata else None
    if written_for not in (None, model_name):
        raise CheckpointError(
            f"pretrained checkpoint {path} was written for model {written_for!r}, not {model_name!r}"
        )
    own = model.state_dict()
    extra = [k for k in state if k not in own]
    fits = all(k in state and tuple(state[k].shape) == tuple(v.shape) for k, v in own.items()
               if not k.endswith("num_batches_tracked"))
    if extra and fits:
        # e.g. an ImageNet backbone file that still holds its classifier: use what the model has (as SiamDW's
        # load_pretrain does), say what was left out
        log.warning("pretrained weights %s: %d keys not used by %s (e.g. %s)", path, len(extra), model_name,
                    extra[:3])
        state = {k: v for k, v in state.items() if k in own}
    _check_and_load_state(model, state, f"pretrained weights {path}")
    return "loaded"


# ----------------------------------------------------------------------------------------------------
# the trainer


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def _autocast(device: torch.device, amp: str):
    if amp == "none":
        return torch.autocast(device_type=device.type, enabled=False)
    dtype = torch.bfloat16 if amp == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


class Trainer:
    """One training run. Most users call :func:`train`; the class exposes the pieces for notebooks/tests."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.cfg = cfg.validate()
        self.info: DistInfo = DistInfo()
        self.device = torch.device("cpu")
        self.run_dir = Path(cfg.run_dir).expanduser()
        self.ckpts = CheckpointManager(self.run_dir, keep_last=cfg.checkpoint.keep_last)
        self.lrs = lr_schedule(cfg.optim.lr_start, cfg.optim.lr_end, cfg.epochs)
        self.fractions = [float(f) for f in cfg.unfreeze.fractions]
        # position and counters (saved in checkpoints)
        self.epoch = 0
        self.step = 0
        self.global_step = 0
        self.stage: int | None = None
        self.counters = self._fresh_counters()
        self.resumed_from: Path | None = None
        # validation plateau (validation.patience): (epoch, auc) of the validated epochs, on the main process
        self.val_history: list[tuple[int, float]] = []
        self.stopped_early = False
        self.stop_epoch: int | None = None

    # --- setup -----------------------------------------------------------------------------------------
    @staticmethod
    def _fresh_counters() -> dict:
        return {
            "epoch_loss_sum": 0.0, "epoch_loss_steps": 0, "epoch_skipped": 0, "epoch_time": 0.0,
            "skipped_total": 0, "consecutive_nonfinite": 0,
            "best_metric": None, "best_epoch": None,
        }

    def _setup_logging(self) -> None:
        if not self.info.is_main:
            return
        self.run_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.run_dir / "train.log", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        self._log_handler = handler
        log.addHandler(handler)
        if log.level == logging.NOTSET or log.level > logging.INFO:
            log.setLevel(logging.INFO)

    def _teardown_logging(self) -> None:
        handler = getattr(self, "_log_handler", None)
        if handler is not None:
            log.removeHandler(handler)
            handler.close()
            self._log_handler = None

    def _build_model(self) -> nn.Module:
        from sesiam_lib.models import build_model, list_models

        if self.cfg.model not in list_models():
            import difflib

            close = difflib.get_close_matches(self.cfg.model, list_models(), n=2)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ConfigError(f"model: unknown model {self.cfg.model!r}{hint}; known: {', '.join(list_models())}")
        kwargs = dict(self.cfg.model_kwargs)
        try:
            return self._record_sesn_impl(build_model(self.cfg.model, **kwargs))
        except ValueError as exc:
            # the paper preset sets padding_mode for SE-SiamFC; SiamFC+ has no scale convs to pad
            if "padding_mode" in kwargs and "padding_mode" in str(exc):
                kwargs.pop("padding_mode")
                log.info("model_kwargs.padding_mode applies to SE models only: ignored for %s", self.cfg.model)
                return self._record_sesn_impl(build_model(self.cfg.model, **kwargs))
            raise ConfigError(f"model_kwargs: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"model_kwargs: {exc}") from None

    def _record_sesn_impl(self, model: nn.Module) -> nn.Module:
        """SE models: resolve ``model_kwargs.sesn_impl`` (``fast`` by default) into the config, so that the saved
        config.yaml and checkpoints say which scale-layer implementation trained (plain models have none)."""
        impl = getattr(model, "sesn_impl", None)
        if isinstance(impl, str) and self.cfg.model_kwargs.get("sesn_impl") != impl:
            self.cfg.model_kwargs = {**self.cfg.model_kwargs, "sesn_impl": impl}
        return model

    def _resume_candidates(self) -> list[Path]:
        files = [self.ckpts.last_path] + self.ckpts.epoch_files()
        return [p for p in files if p.is_file()]

    def _find_resume_checkpoint(self) -> Path | None:
        """The newest readable training checkpoint of the run folder (by global step)."""
        best, best_step = None, -1
        for path in self._resume_candidates():
            try:
                ckpt = load_training_checkpoint(path, self.cfg.model)
            except CheckpointError as exc:
                if "was written for model" in str(exc):
                    raise
                log.warning("skipping unreadable checkpoint %s: %s", path, exc)
                continue
            if int(ckpt["global_step"]) > best_step:
                best, best_step = path, int(ckpt["global_step"])
        return best

    def _resolve_resume(self) -> Path | None:
        resume = self.cfg.resume
        if resume is False or resume is None:
            if self.ckpts.has_checkpoints():
                if not self.cfg.overwrite:
                    raise ConfigError(
                        f"run folder {self.run_dir} already holds checkpoints; pass resume=true to continue it, "
                        "overwrite=true to start again there, or choose another run_dir"
                    )
            return None
        if resume is True or resume == "auto":
            path = self._find_resume_checkpoint()
            if path is None:
                if resume is True:
                    raise FileNotFoundError(
                        f"resume=true but {self.ckpts.dir} holds no training checkpoint (use resume=auto to start "
                        "fresh when there is none)"
                    )
                return None
            return path
        path = Path(str(resume)).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"resume checkpoint {path} does not exist")
        return path

    # --- checkpoint state --------------------------------------------------------------------------------
    def _state(self, position_epoch: int, position_step: int, epoch_complete: bool) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "model": self.model.state_dict(),
            "model_name": self.cfg.model,
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler is not None else None,
            "epoch": int(position_epoch),
            "step": int(position_step),
            "global_step": int(self.global_step),
            "epoch_complete": bool(epoch_complete),
            "unfreeze_stage": self.stage,
            "world_size": self.info.world_size,
            "rng": capture_rng_state(),
            "counters": dict(self.counters),
            "lr_schedule": [float(v) for v in self.lrs],
            "config": config_to_dict(self.cfg),
        }

    def _restore(self, path: Path) -> None:
        ckpt = load_training_checkpoint(path, self.cfg.model)
        _check_and_load_state(self.model, ckpt["model"], f"checkpoint {path}")
        stage = ckpt.get("unfreeze_stage")
        if stage is not None and self.cfg.unfreeze.mode == "gradual":
            unfreeze_mod.apply_stage(self.model, int(stage))
            self.stage = int(stage)
        try:
            self.optimizer.load_state_dict(ckpt["optimizer"])
        except (ValueError, KeyError) as exc:
            raise CheckpointError(f"optimizer state of {path} does not fit this model: {exc}") from exc
        if self.scaler is not None and ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch = int(ckpt["epoch"])
        self.step = int(ckpt["step"])
        self.global_step = int(ckpt["global_step"])
        self.counters = {**self._fresh_counters(), **dict(ckpt.get("counters") or {})}
        restore_rng_state(ckpt.get("rng") or {})
        old_world = int(ckpt.get("world_size", 1))
        if old_world != self.info.world_size and self.step:
            log.warning("resuming mid-epoch with %d processes, the checkpoint had %d: the rest of this epoch "
                        "samples other pairs than an uninterrupted run", self.info.world_size, old_world)
        old_cfg = ckpt.get("config") or {}
        changed = [k for k in ("batch_size", "seed", "epochs") if k in old_cfg and old_cfg[k] != getattr(self.cfg, k)]
        if old_cfg.get("data", {}).get("pairs_per_epoch") not in (None, self.cfg.data.pairs_per_epoch):
            changed.append("data.pairs_per_epoch")
        if changed:
            log.warning("resuming %s with changed settings: %s", path, ", ".join(changed))
        self.resumed_from = path
        log.info("resumed from %s at epoch %d step %d (global step %d)", path, self.epoch + 1, self.step,
                 self.global_step)

    # --- helpers -----------------------------------------------------------------------------------------
    def _trainable(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def _wrap(self) -> None:
        """(Re)build the DDP wrapper (needed whenever the set of trainable parameters changes)."""
        if not self.info.distributed:
            self.net = self.model
            return
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        self.net = DDP(self.model, device_ids=ids, broadcast_buffers=True)

    def _set_stage_for_epoch(self, epoch: int) -> None:
        if self.cfg.unfreeze.mode != "gradual":
            if self.net is None:
                self._wrap()
            return
        stage = unfreeze_mod.stage_for_epoch(epoch, self.cfg.epochs, self.fractions)
        if stage != self.stage or self.net is None:
            changed = stage != self.stage
            unfreeze_mod.apply_stage(self.model, stage)
            if changed and self.stage is not None:
                unfreeze_mod.reset_momentum(self.optimizer)  # the release rebuilds its optimizer here
            if changed:
                log.info("epoch %d: unfreeze stage %d, %d trainable parameter tensors", epoch + 1, stage,
                         len(self._trainable()))
            self.stage = stage
            self._wrap()

    def _make_loader(self, epoch: int, start_step: int):
        from torch.utils.data import DataLoader

        from sesiam_lib.core.workers import dataloader_worker_init

        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)
        sampler = ShardSampler(len(self.dataset), self.cfg.batch_size, self.cfg.seed, epoch, self.info.rank,
                               self.info.world_size, start_step)
        workers = self.cfg.data.num_workers
        return DataLoader(
            self.dataset,
            batch_size=self.cfg.batch_size,
            sampler=sampler,
            num_workers=workers,
            drop_last=True,
            pin_memory=self.device.type == "cuda",
            generator=epoch_generator(self.cfg.seed, epoch, stream=1),
            persistent_workers=False,
            multiprocessing_context="spawn" if workers and sys.platform == "darwin" else None,
            worker_init_fn=dataloader_worker_init,  # no orphans: workers die with the training process
        )

    def _show_progress(self) -> bool:
        p = self.cfg.progress
        if not self.info.is_main:
            return False
        if p == "auto":
            return sys.stderr.isatty() or "ipykernel" in sys.modules
        return bool(p)

    # --- validation plateau --------------------------------------------------------------------------------
    def _plateau_reached(self) -> bool:
        """Whether the plateau rule stops training after the epochs run so far (decided on the main process)."""
        v = self.cfg.validation
        stop = False
        if self.info.is_main and v.patience is not None:
            stop = plateau_stop_epoch(self.val_history, v.patience, v.min_delta, v.min_epochs,
                                      upto=self.epoch) == self.epoch
        stop = broadcast_flag(stop if self.info.is_main else True, self.info, self.device)
        if stop:
            self.stopped_early = self.epoch < self.cfg.epochs
            self.stop_epoch = self.epoch if self.stopped_early else None
        return stop

    def _check_plateau_on_resume(self) -> bool:
        """On resume: True when the run already stopped at its plateau (nothing to train); an error when the
        current rule would have stopped it before the position it reached."""
        v = self.cfg.validation
        error = ""
        if self.info.is_main and v.patience is not None and self.epoch > 0:
            stop_at = plateau_stop_epoch(self.val_history, v.patience, v.min_delta, v.min_epochs, upto=self.epoch)
            if stop_at is not None and (stop_at < self.epoch or self.step > 0):
                error = (
                    f"cannot resume the run in {self.run_dir}: with validation.patience={v.patience}, "
                    f"min_delta={v.min_delta:g}, min_epochs={v.min_epochs} it would have stopped after epoch "
                    f"{stop_at}, but it has run {self.epoch} epoch(s){' and part of the next' if self.step else ''}."
                    " Resuming would not give the run these settings make. Use the stopping settings it was made "
                    f"with (see {self.run_dir / 'config.yaml'}), or start afresh: overwrite=true (deletes this "
                    "run's checkpoints) or another run_dir")
        if not broadcast_flag(not error if self.info.is_main else True, self.info, self.device):
            raise ConfigError(error or "cannot resume: the plateau rule would have stopped this run earlier")
        if self.step:
            return False
        return self._plateau_reached()

    # --- validation --------------------------------------------------------------------------------------
    def _validate(self, epoch: int) -> float | None:
        vcfg = self.cfg.validation
        last = epoch + 1 == self.cfg.epochs
        if not vcfg.enabled or not ((epoch + 1) % vcfg.every == 0 or last):
            return None
        if not self.info.is_main:
            return None
        from .validation import validate_success_auc

        self.model.eval()
        try:
            auc = validate_success_auc(self.model, self.val_sequences, vcfg, self.device)
        finally:
            self.model.train()
        log.info("epoch %d: validation success AUC %.4f", epoch + 1, auc)
        return auc

    # --- the run -----------------------------------------------------------------------------------------
    def run(self) -> TrainResult:
        cfg = self.cfg
        self.info = init_distributed(cfg.device)
        threads = torch.get_num_threads()
        try:
            from sesiam_lib.core.runlock import run_folder_lock

            # one run per folder: a second training on run_dir fails at once (only the main rank locks)
            with run_folder_lock(self.run_dir, what="training", enabled=self.info.is_main):
                return self._run()
        finally:
            self._teardown_logging()
            cleanup_distributed(self.info)
            if cfg.num_threads:
                torch.set_num_threads(threads)  # leave the caller's (e.g. a notebook's) setting as it was

    def _run(self) -> TrainResult:
        cfg = self.cfg
        info = self.info
        if cfg.data.root is None:  # fail before building (possibly large) models
            _load_sequences(cfg.data.dataset, None, cfg.data.split, "data")
        self.device = resolve_device(cfg.device, info)
        if cfg.amp == "fp16" and self.device.type != "cuda":
            raise ConfigError("amp=fp16 needs a CUDA device; use amp=bf16 or amp=none on the CPU")
        if cfg.num_threads:
            torch.set_num_threads(int(cfg.num_threads))
        if cfg.deterministic:
            if self.device.type == "cuda":
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
                torch.backends.cudnn.benchmark = False
            torch.use_deterministic_algorithms(True, warn_only=True)
        self._setup_logging()

        resume_path = self._resolve_resume()
        if resume_path is None and cfg.overwrite and info.is_main:
            self.ckpts.remove_all()

        _seed_everything(cfg.seed)
        model = self._build_model()
        if cfg.pretrained and resume_path is None:
            how = load_pretrained(model, cfg.pretrained, cfg.model)
            log.info("initial weights %s from %s", how, cfg.pretrained)
        elif cfg.unfreeze.mode == "gradual" and resume_path is None:
            log.warning("gradual unfreezing without pretrained weights: the frozen blocks keep their random "
                        "initialisation until their stage (set pretrained=<path> for the release recipe)")
        self.model = model.to(self.device)
        self.model.train()
        self.net = None

        # data (built after the model: crop sizes come from it)
        self.dataset = build_pair_dataset(cfg, self.model)
        self.val_sequences = None
        if cfg.validation.enabled:
            v = cfg.validation
            self.val_sequences = _load_sequences(v.dataset or cfg.data.dataset, v.root or cfg.data.root, v.split,
                                                 "validation", v.generate)
            if v.max_sequences is not None:
                self.val_sequences = self.val_sequences[: int(v.max_sequences)]
        key_fields = run_fields(cfg, getattr(self.dataset, "sequences", None), self.val_sequences)
        if resume_path is not None and resume_path.parent.parent == self.run_dir:
            check_resume(self.run_dir, key_fields, resume_path)  # another run's checkpoint (a path) is a new run
        steps_per_epoch = ShardSampler.steps_per_epoch(len(self.dataset), cfg.batch_size, info.world_size)
        if steps_per_epoch < 1:
            raise ConfigError(
                f"data.pairs_per_epoch={len(self.dataset)} gives no full batch of batch_size={cfg.batch_size} "
                f"per process ({info.world_size} processes)"
            )

        self.optimizer = torch.optim.SGD(
            self.model.parameters(), lr=float(self.lrs[0]), momentum=cfg.optim.momentum,
            weight_decay=cfg.optim.weight_decay,
        )
        self.scaler = torch.amp.GradScaler("cuda") if cfg.amp == "fp16" else None

        if resume_path is not None:
            self._restore(resume_path)

        # logs: cut back to the checkpoint's position (or start afresh)
        steps_log = CsvLog(self.run_dir / "log_steps.csv", STEP_FIELDS)
        epochs_log = CsvLog(self.run_dir / "log_epochs.csv", EPOCH_FIELDS)
        if info.is_main:
            if resume_path is None:
                steps_log.reset()
                epochs_log.reset()
            else:
                steps_log.truncate_after("global_step", self.global_step)
                epochs_log.truncate_after("epoch", self.epoch)
                self.val_history = [(int(r["epoch"]), float(r["val_auc"])) for r in read_csv_log(epochs_log.path)
                                    if r.get("val_auc") not in (None, "")]
            from sesiam_lib.core.io import atomic_write_text

            atomic_write_text(self.run_dir / "config.yaml", yaml.safe_dump(config_to_dict(cfg), sort_keys=False))
            write_run_provenance(self.run_dir, key_fields)
            log.info("training %s on %s (%d process%s), %d epochs x %d steps x %d pairs, run folder %s",
                     cfg.model, self.device, info.world_size, "es" if info.world_size > 1 else "", cfg.epochs,
                     steps_per_epoch, cfg.batch_size * info.world_size, self.run_dir)

        total_steps = cfg.epochs * steps_per_epoch
        bar = None
        if self._show_progress():
            from tqdm.auto import tqdm

            bar = tqdm(total=total_steps, initial=min(self.global_step, total_steps), unit="step",
                       dynamic_ncols=True, desc=f"{cfg.model}")
        t_run = time.perf_counter()
        pairs_per_step = cfg.batch_size * info.world_size
        every = int(cfg.checkpoint.every_steps)
        finished = resume_path is not None and self._check_plateau_on_resume()
        if finished and self.stopped_early:
            log.info("the run stopped at its validation plateau after epoch %d: nothing to train", self.epoch)
        try:
            while self.epoch < cfg.epochs and not finished:
                epoch = self.epoch
                self._set_stage_for_epoch(epoch)
                lr = float(self.lrs[epoch])
                for group in self.optimizer.param_groups:
                    group["lr"] = lr
                loader = self._make_loader(epoch, self.step)
                if bar is not None:
                    bar.set_description(f"{cfg.model} epoch {epoch + 1}/{cfg.epochs}")
                t_epoch = time.perf_counter()
                t_last = t_epoch
                rate = None
                for batch in loader:
                    loss_value, grad_norm, ok = self._train_step(batch)
                    self.step += 1
                    self.global_step += 1
                    c = self.counters
                    if ok:
                        c["epoch_loss_sum"] += loss_value
                        c["epoch_loss_steps"] += 1
                        c["consecutive_nonfinite"] = 0
                    else:
                        c["epoch_skipped"] += 1
                        c["skipped_total"] += 1
                        c["consecutive_nonfinite"] += 1
                    now = time.perf_counter()
                    dt = max(now - t_last, 1e-9)
                    t_last = now
                    inst = pairs_per_step / dt
                    rate = inst if rate is None else 0.9 * rate + 0.1 * inst
                    if info.is_main:
                        steps_log.write({
                            "epoch": epoch + 1, "step": self.step, "global_step": self.global_step,
                            "loss": loss_value, "lr": lr, "grad_norm": grad_norm, "skipped": int(not ok),
                            "pairs_per_s": round(inst, 3), "time_s": round(now - t_run, 3),
                        })
                    if bar is not None:
                        bar.update(1)
                        bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", pairs_s=f"{rate:.1f}",
                                        refresh=False)
                    if c["consecutive_nonfinite"] >= cfg.optim.max_nonfinite_steps:
                        raise TrainingDivergedError(
                            f"training stopped: {c['consecutive_nonfinite']} consecutive steps with a non-finite "
                            f"loss or gradient (epoch {epoch + 1}, step {self.step}, lr {lr:.3g}); the last good "
                            f"checkpoint is {self._last_good()}. Lower optim.lr_start, use amp=none, or check the "
                            "data / pretrained weights."
                        )
                    if every and self.global_step % every == 0 and self.step < steps_per_epoch:
                        c["epoch_time"] += time.perf_counter() - t_epoch
                        t_epoch = time.perf_counter()
                        if info.is_main:
                            self.ckpts.save_last(self._state(epoch, self.step, False))
                self.counters["epoch_time"] += time.perf_counter() - t_epoch
                self._end_epoch(epoch, lr, epochs_log, pairs_per_step)
                if cfg.validation.patience is not None and self._plateau_reached() and self.stopped_early:
                    v = cfg.validation
                    log.info("stopping early after epoch %d of %d: validation plateau (no validation AUC more than "
                             "%g above the best in the last %d epochs; best %.4f at epoch %s)", self.epoch,
                             cfg.epochs, v.min_delta, v.patience, self.counters["best_metric"] or float("nan"),
                             self.counters["best_epoch"])
                    break
            # done
            final = self.ckpts.final_path
            if info.is_main:
                payload = {
                    "format": CHECKPOINT_FORMAT + "/weights",
                    "model": self.model.state_dict(),
                    "model_name": cfg.model,
                    "epoch": self.epoch,
                    "global_step": self.global_step,
                    "best_epoch": self.counters["best_epoch"],
                    "config": config_to_dict(cfg),
                }
                if cfg.validation.patience is not None:  # (without the rule final.pth is as it always was)
                    payload["stopped_early"] = self.stopped_early
                    payload["stop_epoch"] = self.stop_epoch
                final = self.ckpts.save_final(payload)
                log.info("training finished: %s%s", final, f" (stopped early after epoch {self.stop_epoch} of "
                         f"{cfg.epochs}: validation plateau)" if self.stopped_early else "")
        finally:
            if bar is not None:
                bar.close()
            steps_log.close()
            epochs_log.close()
        c = self.counters
        return TrainResult(
            run_dir=self.run_dir,
            final_checkpoint=self.ckpts.final_path,
            last_checkpoint=self.ckpts.last_path,
            best_checkpoint=self.ckpts.best_path if c["best_epoch"] is not None else None,
            best_epoch=c["best_epoch"],
            best_metric=c["best_metric"],
            log_steps=self.run_dir / "log_steps.csv",
            log_epochs=self.run_dir / "log_epochs.csv",
            epochs_completed=self.epoch,
            global_step=self.global_step,
            skipped_steps=int(c["skipped_total"]),
            resumed_from=self.resumed_from,
            history=read_csv_log(self.run_dir / "log_epochs.csv") if info.is_main else [],
            stopped_early=self.stopped_early,
            stop_epoch=self.stop_epoch,
        )

    def _last_good(self) -> str:
        return str(self.ckpts.last_path) if self.ckpts.last_path.is_file() else "(none written yet)"

    def _train_step(self, batch: dict) -> tuple[float, float, bool]:
        cfg = self.cfg
        dev = self.device
        nb = dev.type == "cuda"
        template = _to_model_input(batch["template"].to(dev, non_blocking=nb))
        search = _to_model_input(batch["search"].to(dev, non_blocking=nb))
        label = batch["scale_label" if "scale_label" in batch else "label"].to(dev, non_blocking=nb).float()
        self.optimizer.zero_grad(set_to_none=True)
        with _autocast(dev, cfg.amp):
            scores = self.net(template, search)
        loss = self.model.loss(scores.float(), label)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        params = [p for p in self.model.parameters() if p.grad is not None]
        if params:
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.optim.grad_clip)
        else:
            grad_norm = torch.zeros((), device=dev)
        loss_d = loss.detach().reshape(1).float()
        if self.info.distributed:
            loss_d = all_reduce_sum(loss_d.clone(), self.info) / self.info.world_size
        loss_value = float(loss_d.item())
        grad_value = float(grad_norm.item())
        loss_ok = math.isfinite(loss_value)
        grad_ok = math.isfinite(grad_value) or self.scaler is not None  # the scaler handles fp16 overflow
        ok = broadcast_flag(loss_ok and grad_ok, self.info, dev)
        if self.scaler is not None:
            if ok:
                self.scaler.step(self.optimizer)
            self.scaler.update()
        elif ok:
            self.optimizer.step()
        return loss_value, grad_value, ok

    def _end_epoch(self, epoch: int, lr: float, epochs_log: CsvLog, pairs_per_step: int) -> None:
        c = self.counters
        auc = self._validate(epoch)
        is_best = False
        if auc is not None and (c["best_metric"] is None or auc > c["best_metric"]):
            c["best_metric"] = float(auc)
            c["best_epoch"] = epoch + 1
            is_best = True
        if auc is not None:
            self.val_history.append((epoch + 1, float(auc)))
        steps = c["epoch_loss_steps"] + c["epoch_skipped"]
        row = {
            "epoch": epoch + 1,
            "steps": steps,
            "mean_loss": c["epoch_loss_sum"] / c["epoch_loss_steps"] if c["epoch_loss_steps"] else float("nan"),
            "lr": lr,
            "skipped_steps": c["epoch_skipped"],
            "unfreeze_stage": self.stage if self.stage is not None else "",
            "trainable_params": sum(p.numel() for p in self.model.parameters() if p.requires_grad),
            "val_auc": auc,
            "best": int(is_best),
            "epoch_time_s": round(c["epoch_time"], 3),
            "pairs_per_s": round(steps * pairs_per_step / c["epoch_time"], 3) if c["epoch_time"] > 0 else "",
        }
        # position: the start of the next epoch
        self.epoch = epoch + 1
        self.step = 0
        for key in ("epoch_loss_sum", "epoch_time"):
            c[key] = 0.0
        for key in ("epoch_loss_steps", "epoch_skipped"):
            c[key] = 0
        if self.info.is_main:
            epochs_log.write(row)
            state = self._state(self.epoch, 0, True)
            self.ckpts.save_epoch(state, epoch + 1)
            if is_best:
                self.ckpts.save_best(state)
            log.info("epoch %d/%d: mean loss %.5f, lr %.3g, %d skipped steps", epoch + 1, self.cfg.epochs,
                     row["mean_loss"], lr, row["skipped_steps"])


def train(config: Any = None, *, preset: str | None = None, overrides=None,
          restart_changed: bool = False) -> TrainResult:
    """Train a model; usable from a notebook and behind ``python -m sesiam_lib.training``.

    Args:
        config: a :class:`TrainConfig`, a dict (may name a ``preset``), a YAML path, or None.
        preset: a preset name (see :func:`~sesiam_lib.training.config.list_presets`) used as the base layer.
        overrides: ``["key=value", ...]`` (dotted keys) or a nested dict applied last.
        restart_changed: when resuming finds a run made with other settings in ``run_dir``
            (:class:`~sesiam_lib.training.provenance.ChangedRunError`), delete it and train afresh
            (``overwrite=true``) instead of stopping: for folders a tool owns (``make reproduce``'s), where an
            old run is a stale result, never a user's work to keep.

    Returns:
        :class:`TrainResult` (final checkpoint, logs, best epoch).

    Raises:
        ConfigError: unknown keys, bad values, a missing required ``data.root``.
        TrainingDataError: missing / empty data or no valid pairs.
        CheckpointError: a resume or pretrained checkpoint of another model, or an unreadable one.
        CheckpointWriteError: a checkpoint could not be written (disk full); the last good one is intact.
        TrainingDivergedError: too many consecutive non-finite steps.
    """
    cfg = load_config(config, preset=preset, overrides=overrides)
    from .console import console_logging  # a script's train() shows the run's log lines like the CLI
    from .provenance import ChangedRunError

    with warnings.catch_warnings(), console_logging(cfg.progress):
        warnings.filterwarnings("ignore", message=".*TypedStorage is deprecated.*")
        try:
            return Trainer(cfg).run()
        except ChangedRunError as exc:
            if not restart_changed:
                raise
            log.warning("%s -- restart_changed: starting this run afresh", exc)
            return Trainer(dataclasses.replace(cfg, overwrite=True, resume=False)).run()

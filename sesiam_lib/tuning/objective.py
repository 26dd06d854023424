"""The tuning objective: track a validation set with given tracker hyper-parameters and score it.

Search space (:data:`SEARCH_SPACE`, Optuna ``suggest_float`` with ``step=1e-4`` like SiamDW's
``hp.quniform(..., 0.0001)``):

============== ============ ===================== =================================================================
parameter      this package SiamDW ``tune_tpe.py`` why different
============== ============ ===================== =================================================================
scale_step     1.0 -- 1.2   1.0 -- 1.2            same (every released value, 1.0482 -- 1.1897, lies inside)
scale_lr       0.05 -- 0.7  0.15 -- 0.7           widened down: SE-SiamFC's released OTB2013 value is 0.08
scale_penalty  0.9 -- 1.0   0.95 -- 1.0           widened down: SiamFC+'s released OTB2015 / VOT2016 values are
                                                  0.9370 / 0.9259 (FACTS §9: SiamDW widened its ranges at times)
w_influence    0.05 -- 0.7  0.05 -- 0.7           same (released 0.224 -- 0.3896)
num_scales     {3, 5}       (fixed 3)             optional (``tune_num_scales=True``); odd so that the pyramid has
                                                  a middle scale; every model of this package tracks any number
                                                  of search crops as a batch
============== ============ ===================== =================================================================

Source of SiamDW's ranges: ``researchmm/SiamDW``, ``siamese_tracking/tune_tpe.py`` (``params`` for SiamFC),
also in ``FACTS.md`` §9. All released settings (FACTS §4) lie inside this package's ranges, so the model
family's default setting can be the study's first trial.

Metrics (all maximised):

- ``auc``: OTB success AUC (:func:`sesiam_lib.evaluation.evaluate_otb_boxes`, one-pass runs);
- ``ao``: GOT-10k average overlap (:func:`sesiam_lib.evaluation.evaluate_got10k_boxes`, one-pass runs);
- ``eao``: VOT expected average overlap of supervised (baseline) runs
  (:func:`sesiam_lib.tracking.runners.vot_supervised` + :func:`sesiam_lib.evaluation.evaluate_vot_trajectories`); the EAO
  range is VOT2016's ``[108, 371]`` clipped to the longest tracked sequence (short validation sequences and
  ``max_frames`` still give a number, as the pipeline's dry runs do).

Speed: ``sequences=N`` keeps the first ``N`` sequences of the set (list order: deterministic, the same for every
trial and for the baseline), ``max_frames=F`` the first ``F`` frames of each.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["SEARCH_SPACE", "NUM_SCALES_CHOICES", "METRICS", "DATASETS", "TuningError", "load_validation_set",
           "TrackingObjective", "default_metric", "data_fingerprint"]

#: name -> (low, high, step) of the four tuned numbers (module docstring)
SEARCH_SPACE: dict[str, tuple[float, float, float]] = {
    "scale_step": (1.0, 1.2, 1e-4),
    "scale_lr": (0.05, 0.7, 1e-4),
    "scale_penalty": (0.9, 1.0, 1e-4),
    "w_influence": (0.05, 0.7, 1e-4),
}
#: pyramid sizes tried with ``tune_num_scales=True``
NUM_SCALES_CHOICES = (3, 5)
METRICS = ("auc", "ao", "eao")
DATASETS = ("got10k", "otb", "vot")


class TuningError(ValueError):
    """A tuning input that cannot work (data folder, model, checkpoint, storage); the message says what to do."""


class ChangedStudyError(TuningError):
    """The storage holds a study of that name made for another objective (other weights, data, metric, space).

    ``tune(..., restart_changed=True)`` deletes exactly that study and starts it afresh instead."""


def default_metric(dataset: str) -> str:
    """``ao`` for GOT-10k layout, ``eao`` for VOT, ``auc`` for OTB."""
    return {"got10k": "ao", "vot": "eao", "otb": "auc"}[dataset]


def load_validation_set(data, dataset: str = "got10k", split: str = "val", *, sequences: int | None = None,
                        max_frames: int | None = None) -> list:
    """The sequences to tune on.

    Args:
        data: ``got10k``: a dataset root holding ``<split>/list.txt`` *or* a split folder holding ``list.txt``
            itself (``.../S-MNIST/val``: root = its parent, split = its name); ``otb``: a folder of OTB-layout
            sequence folders (any list: ``load_otb(data, None)``); ``vot``: a VOT folder with ``list.txt``.
        dataset: ``got10k`` | ``otb`` | ``vot``.
        split: the GOT-10k-layout split when ``data`` is a root.
        sequences: keep the first N sequences.
        max_frames: keep the first F frames of each.

    Raises:
        TuningError: no such folder, an empty folder, no sequence found.
    """
    from ..data import load_got10k, load_otb, load_vot
    from ..data._parse import AnnotationError

    if dataset not in DATASETS:
        raise TuningError(f"dataset: expected one of {DATASETS}, got {dataset!r}")
    root = Path(data)
    if not root.is_dir():
        raise TuningError(f"--data {root}: no such folder")
    if not any(root.iterdir()):
        raise TuningError(f"--data {root}: the folder is empty (expected a {dataset} validation set)")
    try:
        if dataset == "got10k":
            if (root / "list.txt").is_file():  # a split folder: root = parent, split = its name
                seqs = load_got10k(root.parent, root.name)
            elif (root / split / "list.txt").is_file():
                seqs = load_got10k(root, split)
            else:
                raise TuningError(f"--data {root}: neither {root / 'list.txt'} (a split folder) nor "
                                  f"{root / split / 'list.txt'} (a dataset root with split {split!r}) exists; "
                                  "give a GOT-10k-layout split folder such as <synthetic set>/val")
        elif dataset == "otb":
            seqs = load_otb(root, None)
        else:
            seqs = load_vot(root)
    except AnnotationError as exc:
        raise TuningError(f"--data {root}: {exc}") from None
    if sequences is not None:
        if int(sequences) < 1:
            raise TuningError(f"--sequences must be >= 1, got {sequences}")
        seqs = seqs[: int(sequences)]
    if max_frames is not None:
        if int(max_frames) < 2:
            raise TuningError(f"--max-frames must be >= 2 (frame 1 only initialises), got {max_frames}")
        from ..pipeline.experiment import truncate_sequence

        seqs = [truncate_sequence(s, int(max_frames)) for s in seqs]
    if not seqs:
        raise TuningError(f"--data {root}: no sequence found")
    return seqs


def data_fingerprint(sequences) -> str:
    """SHA-256 over the sequences' provenance fingerprints (names, frame counts, ground truth, frame files)."""
    from ..core.provenance import sequence_fingerprint

    text = json.dumps([sequence_fingerprint(s) for s in sequences], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class TrackingObjective:
    """Score a hyper-parameter setting on a validation set (picklable: each worker process builds its own).

    Args:
        model_name: a :func:`sesiam_lib.models.build_model` name.
        sequences: the validation sequences (:func:`load_validation_set`).
        metric: ``auc`` | ``ao`` | ``eao``.
        checkpoint: weights to load (``None``: random init with torch seed 0, the same in every process; tests).
        device: ``"cpu"``, ``"cuda"``, ``None`` (CUDA when available).
        model_options: extra ``build_model`` options.
        tune_num_scales: also search the pyramid size (:data:`NUM_SCALES_CHOICES`).
        eao_range: EAO's ``(low, high)`` (default: VOT2016's clipped to the longest sequence).
    """

    model_name: str
    sequences: list
    metric: str = "auc"
    checkpoint: str | None = None
    device: str | None = "cpu"
    model_options: dict[str, Any] = field(default_factory=dict)
    tune_num_scales: bool = False
    eao_range: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.metric not in METRICS:
            raise TuningError(f"metric: expected one of {METRICS}, got {self.metric!r}")
        self._model = None

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_model"] = None  # every process loads its own copy
        return state

    # --- the model, once per process ---------------------------------------------------------------------
    def model(self):
        """The (cached) model with its checkpoint loaded; raises :class:`TuningError` for an unknown model or a
        checkpoint that does not fit."""
        if self._model is None:
            from ..models import CheckpointError, build_model, checkpoint_model_options, list_models, load_checkpoint

            if self.model_name not in list_models():
                raise TuningError(f"--model {self.model_name!r}: unknown model; known: {', '.join(list_models())}")
            import torch

            with torch.random.fork_rng(devices=[]):  # no checkpoint: the same random weights in every process
                torch.manual_seed(0)
                try:  # a training checkpoint's recorded build options (score_adjust ...) complete ours
                    options = checkpoint_model_options(self.model_options, self.checkpoint)
                except ValueError as exc:
                    raise TuningError(str(exc)) from None
                model = build_model(self.model_name, **options)
            if self.checkpoint is not None:
                try:
                    load_checkpoint(model, self.checkpoint)
                except FileNotFoundError as exc:
                    raise TuningError(f"--checkpoint {self.checkpoint}: {exc}") from None
                except CheckpointError as exc:
                    raise TuningError(f"--checkpoint {self.checkpoint} does not fit model {self.model_name!r}: "
                                      f"{exc}") from None
            self._model = model.eval()
        return self._model

    def tracker(self, params: dict[str, Any]):
        """A :class:`~sesiam_lib.tracking.SiamFCTracker` with ``params`` (the tuned numbers, ``num_scales``)."""
        from ..tracking import SiamFCTracker

        return SiamFCTracker(self.model(), device=self.device, debug=False, model_name=self.model_name,
                             checkpoint=self.checkpoint, **params)

    # --- scoring ------------------------------------------------------------------------------------------
    def score(self, params: dict[str, Any]) -> float:
        """Track every sequence with ``params`` and return the metric (higher is better)."""
        from ..tracking.runners import track_sequence, vot_supervised

        tracker = self.tracker(params)
        if self.metric == "eao":
            from ..evaluation.vot import EAO_RANGES, evaluate_vot_trajectories, load_vot_groundtruth

            runs = {s.name: [vot_supervised(tracker, s)["lines"]] for s in self.sequences}
            low, high = self.eao_range or EAO_RANGES["VOT2016"]
            longest = max(len(s) for s in self.sequences)
            low, high = min(low, longest), min(high, longest)
            result = evaluate_vot_trajectories(runs, load_vot_groundtruth(self.sequences), None,
                                               eao_range=(low, high))
            value = result["eao"]
        else:
            preds = {s.name: track_sequence(tracker, s)["boxes"] for s in self.sequences}
            if self.metric == "auc":
                from ..evaluation import evaluate_otb_boxes

                value = evaluate_otb_boxes(preds, self.sequences).overall.success_auc
            else:
                from ..evaluation import evaluate_got10k_boxes

                value = evaluate_got10k_boxes(preds, self.sequences)["ao"]
        value = float(value)
        return value if np.isfinite(value) else 0.0

    def suggest(self, trial) -> dict[str, Any]:
        """An Optuna trial's setting in :data:`SEARCH_SPACE` (plus ``num_scales`` when tuned)."""
        params = {name: trial.suggest_float(name, low, high, step=step)
                  for name, (low, high, step) in SEARCH_SPACE.items()}
        if self.tune_num_scales:
            params["num_scales"] = trial.suggest_categorical("num_scales", list(NUM_SCALES_CHOICES))
        return params

    def __call__(self, trial) -> float:
        return self.score(self.suggest(trial))

"""Tracker hyper-parameter search (Optuna TPE): tune any tracker on a validation split, resumably, on one machine
or many.

A SiamFC tracker follows size through four numbers -- ``scale_step``, ``scale_lr``, ``scale_penalty``,
``w_influence`` (FACTS §4) -- and every released setting was searched per benchmark (SiamDW's ``tune_tpe.py``).
This package searches them for any model of :func:`sesiam_lib.models.build_model` and checkpoint:

- :mod:`.objective`: the search space (with its source, SiamDW's ranges), the validation set, the objective
  (success AUC, GOT-10k AO or VOT EAO of tracking the set with a setting);
- :mod:`.study`: the Optuna study in SQLite (default, ``<out>/study.db``) or any SQLAlchemy database shared by
  several processes or machines; resumable; ``best_params.json``, ``trials.csv``, figures.

Command line (``python -m sesiam_lib.tuning --help``)::

    python -m sesiam_lib.tuning --model se_siamfc_tiny --checkpoint best.pth --data runs/x/data/S-MNIST/val \\
        --trials 40 --out results/x/tuning/S-MNIST/se_siamfc_tiny_s0 [--workers 2] [--storage postgresql://...]

Use the result: ``tracker_params(model, tuned="best_params.json")``,
``TrackerFactory(model, checkpoint=..., tuned="best_params.json")``,
``SiamFCTracker.from_benchmark(model, name, tuned=...)``; notebook 03's ``tuned`` parameter (``"auto"`` reads
notebook 05's files).
"""

from .objective import (DATASETS, METRICS, NUM_SCALES_CHOICES, SEARCH_SPACE, ChangedStudyError, TrackingObjective,
                        TuningError, default_metric, load_validation_set)
from .study import (BEST_PARAMS, DEFAULT_HEARTBEAT, TRIALS_CSV, mask_url, open_storage, open_study, storage_url,
                    study_summary, tune, write_outputs)

__all__ = [
    "tune",
    "TrackingObjective",
    "TuningError",
    "ChangedStudyError",
    "load_validation_set",
    "default_metric",
    "SEARCH_SPACE",
    "NUM_SCALES_CHOICES",
    "METRICS",
    "DATASETS",
    "open_storage",
    "open_study",
    "storage_url",
    "mask_url",
    "study_summary",
    "write_outputs",
    "BEST_PARAMS",
    "TRIALS_CSV",
    "DEFAULT_HEARTBEAT",
]

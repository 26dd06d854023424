"""A training run's provenance key: resuming continues only the run that the current configuration describes.

``<run_dir>/provenance.json`` holds the fields that determine a run's weights (:func:`run_fields`): every
configuration value except those that only say *where* or *how visibly* it runs (``RUN_ONLY_KEYS``), a
fingerprint of the training and validation sequences (names and ground truth), the pretrained file's SHA-256,
the package version and the versions of torch, NumPy and OpenCV. Resuming (``resume=auto|true|PATH``) a run
whose stored fields differ stops with a :class:`~sesiam_lib.training.config.ConfigError` naming the fields that
differ and how to start afresh -- it never silently trains nothing, or something else, under the old name.

``epochs`` is part of the key (the learning-rate schedule is defined over it: another ``epochs`` is another
run, refused on resume). The plateau-stopping rule (``STOP_RULE_KEYS``: ``validation.patience``, ``min_delta``,
``min_epochs``) is not: it changes none of the epochs' weights, only after which epoch the run ends. The
trainer checks it against the run's validation history instead: resumed with a rule that stops at or after the
position reached, the run continues (or is finished); with one that would have stopped it earlier, resuming is
refused (:meth:`~sesiam_lib.training.trainer.Trainer._check_plateau_on_resume`). Keeping them out of the key
also keeps the key of runs made before these settings existed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from ..core.provenance import (array_sha256, differing_fields, environment_versions, package_version,
                               provenance_key, read_provenance, write_provenance)
from .config import ConfigError, config_to_dict

__all__ = ["RUN_ONLY_KEYS", "STOP_RULE_KEYS", "PROVENANCE_FILE", "run_fields", "sequences_fingerprint",
           "check_resume", "write_run_provenance"]

PROVENANCE_FILE = "provenance.json"

# configuration keys that do not change the weights a run produces (dotted paths)
RUN_ONLY_KEYS = ("run_dir", "resume", "overwrite", "progress", "preset", "device", "num_threads",
                 "checkpoint.every_steps", "checkpoint.keep_last", "data.num_workers", "data.root", "validation.root",
                 "data.generate", "validation.generate")
# the validation-plateau stopping rule: checked against the run's validation history, not part of the key
STOP_RULE_KEYS = ("validation.patience", "validation.min_delta", "validation.min_epochs")


def sequences_fingerprint(sequences) -> str | None:
    """SHA-256 over the sequences' names, frame counts and ground truth (``None`` for no sequences)."""
    if sequences is None:
        return None
    digest = hashlib.sha256()
    for seq in sequences:
        digest.update(f"{seq.name}\0{len(seq)}\0".encode())
        digest.update(array_sha256(seq.boxes).encode())
    return digest.hexdigest()


def _drop(config: dict, dotted: str) -> None:
    head, _, rest = dotted.partition(".")
    if rest:
        if isinstance(config.get(head), dict):
            _drop(config[head], rest)
    else:
        config.pop(head, None)


def run_fields(cfg, train_sequences, val_sequences=None) -> dict[str, Any]:
    """The fields that determine a run's weights (data folders count through their content, not their path)."""
    from ..core.io import file_sha256

    config = config_to_dict(cfg)
    for key in RUN_ONLY_KEYS + STOP_RULE_KEYS:
        _drop(config, key)
    pretrained = None
    if cfg.pretrained and Path(cfg.pretrained).is_file():
        pretrained = file_sha256(cfg.pretrained)
    config.pop("pretrained", None)
    return {"artefact": "training-run", "library_version": package_version(),
            "environment": environment_versions(), "config": config,
            "pretrained_sha256": pretrained, "train_data": sequences_fingerprint(train_sequences),
            "validation_data": sequences_fingerprint(val_sequences)}


class ChangedRunError(ConfigError):
    """The run folder holds a run made with other settings (or of unknown origin): it cannot be resumed.

    ``train(..., restart_changed=True)`` catches exactly this and starts that run afresh; every other
    :class:`ConfigError` (bad values, unknown keys) still stops.
    """


def check_resume(run_dir: str | Path, fields: dict, resume_from: Path) -> None:
    """Raise :class:`ChangedRunError` when the run in ``run_dir`` was made with other fields than ``fields``."""
    stored = read_provenance(Path(run_dir) / PROVENANCE_FILE)
    if stored is None:
        raise ChangedRunError(
            f"cannot resume {resume_from}: {Path(run_dir) / PROVENANCE_FILE} is missing, so it is unknown what "
            "made this run; start afresh with overwrite=true (deletes its checkpoints) or use another run_dir")
    if stored["key"] == provenance_key(fields):
        return
    changed = differing_fields(stored.get("fields"), fields)
    raise ChangedRunError(
        f"cannot resume the run in {run_dir}: it was made with other settings than these; differing: "
        f"{', '.join(changed) or '(unknown)'}. Resuming would mix two runs. To train with the new settings start "
        "afresh: overwrite=true (deletes this run's checkpoints) or another run_dir; to continue the old run, "
        f"use the settings in {Path(run_dir) / 'config.yaml'}")


def write_run_provenance(run_dir: str | Path, fields: dict) -> str:
    return write_provenance(Path(run_dir) / PROVENANCE_FILE, fields)

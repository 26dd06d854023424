"""Provenance keys: what determines a piece of work, hashed, so that resuming skips only identical work.

Every resumable artefact (a tracked sequence, a training run, a pipeline step, a generated dataset) stores the
*fields* that determine it (checkpoint and weights SHA-256, model name and options, tracker hyper-parameters,
seeds, a fingerprint of the input data, the package version ...) beside it, as a JSON file
``{"key": <sha256 of the fields>, "fields": {...}}``. Work is skipped only when the stored key equals the key of
the work about to be done; otherwise it is recomputed (tracking, data, pipeline steps) or refused with the list
of fields that differ (training). :func:`differing_fields` names them as dotted paths (``tracker.checkpoint_sha256``).

Fields must be JSON-serialisable; NumPy scalars and arrays, paths and tuples are converted (:func:`canonical`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .io import atomic_write_json

__all__ = [
    "canonical",
    "provenance_key",
    "differing_fields",
    "package_version",
    "package_source_sha256",
    "environment_versions",
    "array_sha256",
    "state_dict_sha256",
    "sequence_fingerprint",
    "files_fingerprint",
    "read_provenance",
    "write_provenance",
]


def canonical(value: Any) -> Any:
    """``value`` as plain JSON types, deterministically (dict keys sorted on dump; floats kept exact by repr)."""
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return canonical(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, float) and not np.isfinite(value):
        return repr(value)  # JSON has no NaN/inf
    return value


def provenance_key(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``fields``."""
    text = json.dumps(canonical(fields), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def differing_fields(old: Mapping[str, Any] | None, new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of the fields whose values differ between ``old`` and ``new`` (added or removed count)."""
    old = canonical(old or {})
    new = canonical(new)
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        a, b = old.get(key, "<absent>"), new.get(key, "<absent>")
        if isinstance(a, dict) and isinstance(b, dict):
            out += differing_fields(a, b, prefix=path + ".")
        elif a != b:
            out.append(path)
    return out


def package_version() -> str:
    import sesiam_lib

    return str(getattr(sesiam_lib, "__version__", "unknown"))


@functools.lru_cache(maxsize=1)
def package_source_sha256() -> str:
    """SHA-256 over the package's own files that decide what it computes (``sesiam_lib/**/*.py`` and the shipped
    presets and data ``*.yaml`` / ``*.json``: relative path and bytes, in sorted order).

    The version number alone does not change when the code or a shipped training preset does; a pipeline step keyed
    by this re-runs after any such change, and its inner work (training runs, tracked sequences, studies) still
    resumes wherever its own key is unchanged. Computed once per process.
    """
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".py", ".yaml", ".json") and p.is_file()
                       and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def environment_versions() -> dict[str, str]:
    """Versions of the libraries whose numerics a result depends on (a lock update changes results: re-run)."""
    import cv2
    import torch

    return {"torch": torch.__version__, "numpy": np.__version__, "opencv": cv2.__version__}


def array_sha256(array: Any) -> str:
    """SHA-256 of an array's dtype, shape and bytes (NaN-safe: bytes, not values, are hashed)."""
    a = np.ascontiguousarray(np.asarray(array))
    digest = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    digest.update(a.tobytes())
    return digest.hexdigest()


def state_dict_sha256(state: Mapping[str, Any]) -> str:
    """SHA-256 over a (torch) state dict: every entry's name, dtype, shape and bytes, in key order."""
    digest = hashlib.sha256()
    for name in sorted(state):
        value = state[name]
        if hasattr(value, "detach"):
            value = value.detach().cpu().contiguous().numpy()
        digest.update(name.encode())
        digest.update(array_sha256(value).encode())
    return digest.hexdigest()


def files_fingerprint(paths: Iterable[str | os.PathLike]) -> str:
    """SHA-256 over file names and sizes (cheap for thousands of frames; content changes that keep the size are
    caught by the dataset's own key where one exists, e.g. the synthetic benchmark's ``synthetic.json``)."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError:
            size = -1
        digest.update(f"{path.name}\0{size}\n".encode())
    return digest.hexdigest()


def sequence_fingerprint(sequence) -> dict[str, Any]:
    """The fields of a tracking input: name, frame count, ground truth and frame files (names and sizes)."""
    fields: dict[str, Any] = {
        "name": str(sequence.name),
        "frames": len(sequence),
        "boxes_sha256": array_sha256(np.asarray(sequence.boxes, dtype=np.float64)),
    }
    polygons = getattr(sequence, "polygons", None)
    if polygons is not None:
        fields["polygons_sha256"] = array_sha256(np.asarray(polygons, dtype=np.float64))
    frames = getattr(sequence, "frames", None)
    if frames is not None:
        fields["files_sha256"] = files_fingerprint(frames)
    return fields


def read_provenance(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``{"key", "fields"}`` record at ``path``, or ``None`` when absent or unreadable (= unknown work)."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("key"), str):
        return None
    return record


def write_provenance(path: str | os.PathLike, fields: Mapping[str, Any]) -> str:
    """Write ``{"key", "fields"}`` atomically; returns the key."""
    key = provenance_key(fields)
    atomic_write_json(path, {"key": key, "fields": canonical(fields)})
    return key

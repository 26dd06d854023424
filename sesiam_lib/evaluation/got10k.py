"""GOT-10k metrics: average overlap (AO) and success rates SR0.5 / SR0.75 (FACTS §7).

Follows the got10k toolkit's validation report (``got10k/experiments/got10k.py::ExperimentGOT10k.report``):

- frame 1 is excluded (it is the initialisation);
- only frames whose target is visible (``cover > 0``) count; without ``seq.cover``, frames with
  ``seq.absent`` true are dropped; without either, frames whose ground truth is invalid (NaN, ``w <= 0`` or
  ``h <= 0``) are dropped;
- IoU = ``rect_iou`` with the image bound when the image size is known (``seq.attributes["image_size"]``,
  ``["resolution"]`` or ``["meta"]["resolution"]`` (``meta_info.ini``'s ``"(W, H)"`` string), else the first
  frame's header when the file exists, else unbounded; applied to 0-based boxes). The
  toolkit's bound clips ``x`` into ``[0, W]`` and then ``w`` into ``[0, W - x]`` (same for y/h), without first
  shortening ``w`` by the part left of 0; this is replicated (:func:`got10k_clip`) so that numbers match;
- AO = mean IoU over the kept frames of all sequences **pooled** (and of all runs, concatenated), SR_t =
  fraction of those frames with IoU > t, exactly as the toolkit; the mean of per-sequence AOs is also
  reported (``ao_seq_mean``);
- several runs (``<seq>_001.txt``, ``<seq>_002.txt`` ...) are concatenated, as the toolkit does.

Result layouts (see :mod:`sesiam_lib.evaluation.results_io`):

- ``<results_dir>/<tracker>/<seq>/<seq>_NNN.txt`` (the got10k toolkit's): boxes in the ground-truth file's
  frame, read **unshifted** (``one_based=True`` for files written 1-based);
- ``<results_dir>/<tracker>/<seq>.txt`` (this project's one-pass OTB layout, also used for the synthetic sets):
  OTB convention, 1-based, shifted by -1 on reading.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable, Sequence as _Seq

import numpy as np

from .overlap import iou_xywh
from .results_io import (align_result, check_length, find_result_file, image_size, read_got10k_result,
                         vot_run_files)

__all__ = ["got10k_clip", "got10k_ious", "got10k_scores", "evaluate_got10k", "evaluate_got10k_boxes"]


def got10k_clip(boxes: np.ndarray, bound) -> np.ndarray:
    """The got10k toolkit's ``rect_iou`` bound: ``x <- clip(x, 0, W)``, ``w <- clip(w, 0, W - x)`` (same y, h)."""
    b = np.array(boxes, dtype=np.float64, copy=True)
    W, H = float(bound[0]), float(bound[1])
    b[:, 0] = np.clip(b[:, 0], 0, W)
    b[:, 1] = np.clip(b[:, 1], 0, H)
    b[:, 2] = np.clip(b[:, 2], 0, W - b[:, 0])
    b[:, 3] = np.clip(b[:, 3], 0, H - b[:, 1])
    return b


def _keep_mask(seq) -> np.ndarray:
    n = len(seq.boxes)
    if getattr(seq, "cover", None) is not None:
        keep = np.asarray(seq.cover).reshape(-1)[:n] > 0
    elif getattr(seq, "absent", None) is not None:
        keep = ~np.asarray(seq.absent, dtype=bool).reshape(-1)[:n]
    else:
        gt = np.asarray(seq.boxes, dtype=np.float64)
        keep = np.isfinite(gt).all(1) & (gt[:, 2] > 0) & (gt[:, 3] > 0)
    keep = keep.copy()
    keep[:1] = False  # frame 1 excluded
    return keep


def _bound(seq):
    attrs = getattr(seq, "attributes", None) or {}
    meta = attrs.get("meta") if isinstance(attrs.get("meta"), dict) else {}
    for v in (attrs.get("image_size"), attrs.get("resolution"), meta.get("resolution")):
        if v is not None:
            if isinstance(v, str):  # meta_info.ini stores "(W, H)"
                v = [float(t) for t in v.strip("()[] ").split(",")]
            return float(v[0]), float(v[1])
    if seq.frames and Path(seq.frames[0]).is_file():
        return image_size(seq.frames[0])
    return None


def got10k_ious(seq, pred: np.ndarray, bound="auto") -> np.ndarray:
    """IoUs of one run on the frames GOT-10k scores (frame 1 and invisible frames removed)."""
    gt = np.asarray(seq.boxes, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)[: len(gt)]
    if bound == "auto":
        bound = _bound(seq)
    if bound is not None:
        gt, pred = got10k_clip(gt, bound), got10k_clip(pred, bound)
    iou = np.nan_to_num(iou_xywh(gt, pred), nan=0.0)
    return iou[_keep_mask(seq)]


def got10k_scores(ious: np.ndarray) -> dict[str, float]:
    """``{"ao", "sr50", "sr75"}`` of pooled IoUs (NaN when empty)."""
    ious = np.asarray(ious, dtype=np.float64)
    if ious.size == 0:
        return {"ao": float("nan"), "sr50": float("nan"), "sr75": float("nan")}
    return {"ao": float(ious.mean()), "sr50": float((ious > 0.5).mean()), "sr75": float((ious > 0.75).mean())}


def evaluate_got10k_boxes(predictions: dict[str, _Seq[np.ndarray]], sequences: Iterable) -> dict[str, Any]:
    """Score in-memory runs ``{seq name: [run boxes (N, 4) 0-based, ...]}`` (or one array per sequence)."""
    pooled, per_seq = [], {}
    for seq in sequences:
        runs = predictions[seq.name]
        if isinstance(runs, np.ndarray) and runs.ndim == 2:
            runs = [runs]
        seq_ious = []
        for run in runs:
            check_length(len(run), len(seq.boxes), f"prediction of {seq.name}")
            seq_ious.append(got10k_ious(seq, run))
        seq_ious = np.concatenate(seq_ious) if seq_ious else np.zeros(0)
        pooled.append(seq_ious)
        per_seq[seq.name] = {**got10k_scores(seq_ious), "frames": int(seq_ious.size), "runs": len(runs)}
    allious = np.concatenate(pooled) if pooled else np.zeros(0)
    out = got10k_scores(allious)
    aos = [v["ao"] for v in per_seq.values() if np.isfinite(v["ao"])]
    out.update(
        ao_seq_mean=float(np.mean(aos)) if aos else float("nan"),
        n_frames=int(allious.size),
        success_curve=[float((allious > t).mean()) if allious.size else float("nan") for t in np.linspace(0, 1, 101)],
        per_sequence=per_seq,
    )
    return out


def _read_runs(tdir: Path, seq, one_based: bool | None) -> list[np.ndarray]:
    sdir = tdir / seq.name
    if sdir.is_dir():
        files = vot_run_files(sdir, seq.name)
        shift = bool(one_based)  # GOT-10k layout: unshifted unless told otherwise
    else:
        try:
            files = [find_result_file(tdir, seq.name)]
        except FileNotFoundError:
            raise FileNotFoundError(
                f"result file not found: {sdir / f'{seq.name}_001.txt'} (nor {tdir / f'{seq.name}.txt'})"
            ) from None
        shift = True if one_based is None else bool(one_based)  # OTB layout: 1-based
    # exactly one line per frame, as the got10k toolkit (``assert b.shape == anno.shape``)
    return [align_result(read_got10k_result(f, one_based=shift), seq, f) for f in files]


def evaluate_got10k(
    results_dir: str | os.PathLike,
    sequences: Iterable,
    trackers: _Seq[str] | None = None,
    *,
    one_based: bool | None = None,
) -> dict[str, dict[str, Any]]:
    """Evaluate GOT-10k-format results of one or more trackers.

    Args:
        results_dir: folder with ``<tracker>/<seq>/<seq>_NNN.txt`` (GOT-10k layout, unshifted) or
            ``<tracker>/<seq>.txt`` (OTB layout, 1-based).
        sequences: :class:`~sesiam_lib.core.sequence.Sequence` objects (0-based boxes; ``cover`` / ``absent``
            when available).
        trackers: tracker folder names; ``None`` = every sub-folder.
        one_based: force the convention of every file (``True``: subtract 1 from x, y; ``False``: as written);
            ``None`` (default): by layout, as above.

    Returns:
        ``{tracker: {"ao", "sr50", "sr75", "ao_seq_mean", "n_frames", "success_curve" (101 thresholds
        0..1), "per_sequence": {seq: {"ao", "sr50", "sr75", "frames", "runs"}}}}``.
    """
    results_dir = Path(results_dir)
    sequences = list(sequences)
    if trackers is None:
        trackers = sorted(p.name for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    out = {}
    for t in trackers:
        tdir = results_dir / t
        if not tdir.is_dir():
            raise FileNotFoundError(f"tracker results folder not found: {tdir}")
        preds = {seq.name: _read_runs(tdir, seq, one_based) for seq in sequences}
        out[t] = evaluate_got10k_boxes(preds, sequences)
    return out

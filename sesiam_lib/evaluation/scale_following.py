"""How well a tracker follows the target's size, and what scale mismatch its network had to match across.

A SiamFC tracker cuts the search crop of frame ``t`` with a side proportional to its size estimate from frame
``t - 1``, and the template was cut the same way around the true first box. So in the search crop the target
appears at the scale

    a_t = size(ground truth_t) / size(prediction_{t-1}),   size(w, h) = sqrt(w * h),

relative to the template (``a_t = 1``: the same size as in the template; ``1.4``: one step of SE-SiamFC's scale
axis larger). The distribution of ``a_t`` says which scale changes the backbone had to match across, to be
compared with the scale range of the SE layers; ``log2 a_t`` drifting away from 0 means the tracker's size
estimate falls behind the target. Frames with an invalid box (non-positive or NaN sides) give NaN and are left
out of the summaries.
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence as _Seq

import numpy as np

from .results_io import load_otb_results

__all__ = ["apparent_scales", "scale_following", "summarize_apparent_scales"]


def _sizes(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    w, h = boxes[:, 2], boxes[:, 3]
    with np.errstate(invalid="ignore"):
        return np.where((w > 0) & (h > 0), np.sqrt(np.abs(w * h)), np.nan)


def apparent_scales(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``a_t = size(gt_t) / size(pred_{t-1})`` for ``t = 1 .. N-1`` (module docstring).

    Args:
        gt, pred: ``[N, 4]`` boxes ``(x, y, w, h)`` of one sequence (same length).

    Returns:
        ``float64 [N - 1]``; NaN where either box is invalid.
    """
    gt, pred = np.asarray(gt, dtype=np.float64), np.asarray(pred, dtype=np.float64)
    if gt.ndim != 2 or gt.shape[1] != 4 or gt.shape != pred.shape:
        raise ValueError(f"gt and pred must both be [N, 4] with the same N, got {gt.shape} and {pred.shape}")
    return _sizes(gt)[1:] / _sizes(pred)[:-1]


def summarize_apparent_scales(scales: np.ndarray, ratio: float = 1.4) -> dict:
    """Summary of apparent scales (NaN ignored): ``median_abs_log2``, ``p90_abs_log2``, ``mean_log2`` (< 0: the
    tracker's boxes are too large, the target appears smaller), ``frac_outside`` (share of frames with
    ``a_t`` outside ``[1 / ratio, ratio]``) and ``frames``."""
    values = np.log2(np.asarray(scales, dtype=np.float64))
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"median_abs_log2": float("nan"), "p90_abs_log2": float("nan"), "mean_log2": float("nan"),
                "frac_outside": float("nan"), "frames": 0}
    magnitude = np.abs(values)
    return {"median_abs_log2": float(np.median(magnitude)), "p90_abs_log2": float(np.percentile(magnitude, 90)),
            "mean_log2": float(values.mean()), "frac_outside": float((magnitude > np.log2(ratio)).mean()),
            "frames": int(values.size)}


def scale_following(results_dir: str | os.PathLike, sequences: Iterable, trackers: _Seq[str] | None = None,
                    ratio: float = 1.4) -> dict[str, dict]:
    """Apparent scales of every tracker's OTB-format results in ``results_dir/<tracker>/<seq>.txt``.

    Returns:
        ``{tracker: {"scales": float64 [frames] (all sequences, in order), **summarize_apparent_scales(...)}}``.

    Raises:
        FileNotFoundError / ResultFileError: a missing or malformed result file (the message names it).
    """
    sequences = list(sequences)
    out = {}
    for name, preds in load_otb_results(results_dir, sequences, trackers).items():
        per_sequence = [apparent_scales(seq.boxes, preds[seq.name]) for seq in sequences]
        scales = np.concatenate(per_sequence) if per_sequence else np.zeros(0)
        out[name] = {"scales": scales, **summarize_apparent_scales(scales, ratio)}
    return out

"""SiamFC training labels (FACTS §3), shared by the pair sampler and the models' loss."""

from __future__ import annotations

import numpy as np

__all__ = ["siamfc_label", "scale_shift_index", "scale_shift_label"]


def siamfc_label(score_size: int, shift=(0, 0), stride: int = 8, radius: float = 2) -> np.ndarray:
    """Binary label map ``float32 [score_size, score_size]`` for one training pair.

    A cell is positive (1) when its Manhattan distance, in score cells, from the map centre shifted by
    ``shift // stride`` is at most ``radius``; all other cells are 0.

    Args:
        score_size: side of the score map (17 for the full models).
        shift: ``(dx, dy)`` in search-crop pixels: where the target centre lies relative to the search
            crop's centre (positive = right/down), as produced by the shift augmentation.
        stride: network stride in pixels per score cell.
        radius: positive radius in cells (the release: 16 px / stride 8 = 2).
    """
    centre = np.floor(score_size / 2.0)
    dx = int(shift[0]) // stride
    dy = int(shift[1]) // stride
    coords = np.arange(score_size, dtype=np.float64) - centre
    x, y = np.meshgrid(coords - dx, coords - dy)
    return (np.abs(x) + np.abs(y) <= radius).astype(np.float32)


def scale_shift_index(relative_scale: float, scale_ratio: float, max_shift: int) -> int:
    """The scale head's shift ``k`` for a pair whose target is ``relative_scale`` times larger in the search crop
    than in the template crop: ``round(log(relative_scale) / log(scale_ratio))`` clipped to ``[-max_shift,
    max_shift]`` (``k > 0``: larger in the search crop; see :mod:`sesiam_lib.models.scale_head`)."""
    if not (relative_scale > 0 and np.isfinite(relative_scale)):
        raise ValueError(f"relative_scale must be a finite number > 0, got {relative_scale!r}")
    if not scale_ratio > 1:
        raise ValueError(f"scale_ratio must be > 1, got {scale_ratio!r}")
    k = int(np.round(np.log(relative_scale) / np.log(scale_ratio)))
    return max(-int(max_shift), min(int(max_shift), k))


def scale_shift_label(score_size: int, shift=(0, 0), stride: int = 8, radius: float = 2, relative_scale: float = 1.0,
                      scale_ratio: float = 1.4, max_shift: int = 1) -> np.ndarray:
    """Label ``float32 [2 max_shift + 1, score_size, score_size]`` of the scale head (over shift and position).

    Positive (1): the usual spatial positives of :func:`siamfc_label` on the map of the shift
    :func:`scale_shift_index` ``(relative_scale, scale_ratio, max_shift)`` (channel ``k + max_shift``); every other
    cell, on every shift map, is negative (0). The model's loss is the same balanced BCE over all the cells.
    """
    k = scale_shift_index(relative_scale, scale_ratio, max_shift)
    label = np.zeros((2 * int(max_shift) + 1, score_size, score_size), dtype=np.float32)
    label[k + int(max_shift)] = siamfc_label(score_size, shift, stride, radius)
    return label

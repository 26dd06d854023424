"""SiamFC training labels (FACTS §3), shared by the pair sampler and the models' loss."""

from __future__ import annotations

import numpy as np

__all__ = ["siamfc_label"]


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

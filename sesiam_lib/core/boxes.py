"""Box conventions shared by data, tracking and evaluation.

The library's one box format is **0-based (x, y, w, h)** in pixels, as float arrays of shape (N, 4)
(or (4,) for one box); NaN marks an unknown box. OTB files are 1-based and converted at the file
boundary only (:func:`otb_to_xywh` / :func:`xywh_to_otb`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "xywh_to_center",
    "center_to_xywh",
    "otb_to_xywh",
    "xywh_to_otb",
    "polygon_to_xywh",
    "box_is_valid",
]


def xywh_to_center(box) -> tuple[np.ndarray, np.ndarray]:
    """0-based (x, y, w, h) -> (centre (cx, cy), size (w, h)), centre = (x + w/2, y + h/2)."""
    box = np.asarray(box, dtype=np.float64)
    return box[..., :2] + box[..., 2:] / 2.0, box[..., 2:].copy()


def center_to_xywh(center, size) -> np.ndarray:
    """Centre (cx, cy) and size (w, h) -> 0-based (x, y, w, h), as the release outputs it.

    The release clips the top-left corner at 0: ``x = max(0, cx - w/2)`` (same for y).
    """
    center = np.asarray(center, dtype=np.float64)
    size = np.asarray(size, dtype=np.float64)
    top_left = np.maximum(0.0, center - size / 2.0)
    return np.concatenate([top_left, size], axis=-1)


def otb_to_xywh(box) -> np.ndarray:
    """1-based OTB (x, y, w, h) -> 0-based (x, y, w, h)."""
    out = np.array(box, dtype=np.float64, copy=True)
    out[..., :2] -= 1.0
    return out


def xywh_to_otb(box) -> np.ndarray:
    """0-based (x, y, w, h) -> 1-based OTB (x, y, w, h)."""
    out = np.array(box, dtype=np.float64, copy=True)
    out[..., :2] += 1.0
    return out


def polygon_to_xywh(polygon) -> np.ndarray:
    """VOT polygon (8 values: x1 y1 .. x4 y4) -> axis-aligned 0-based (x, y, w, h), as the release does.

    Centre = mean of the corners; the box keeps the polygon's area:
    ``s = sqrt(polygon area / bounding-box area)``, ``w = s (x2 - x1) + 1``, ``h = s (y2 - y1) + 1``
    with x1..y2 the corners' extremes (the +1 follows the release). A 4-value input is returned unchanged.
    Accepts (8,) or (N, 8); returns (4,) or (N, 4).
    """
    poly = np.asarray(polygon, dtype=np.float64)
    if poly.shape[-1] == 4:
        return poly.copy()
    if poly.shape[-1] != 8:
        raise ValueError(f"polygon_to_xywh: expected 4 or 8 values per box, got shape {poly.shape}")
    xs, ys = poly[..., 0::2], poly[..., 1::2]
    cx, cy = xs.mean(-1), ys.mean(-1)
    x1, x2 = xs.min(-1), xs.max(-1)
    y1, y2 = ys.min(-1), ys.max(-1)
    # the release takes the product of two consecutive edge lengths as the polygon area (exact for rectangles)
    a1 = np.linalg.norm(poly[..., 0:2] - poly[..., 2:4], axis=-1) * np.linalg.norm(
        poly[..., 2:4] - poly[..., 4:6], axis=-1
    )
    a2 = (x2 - x1) * (y2 - y1)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.sqrt(a1 / a2)
    w = s * (x2 - x1) + 1.0
    h = s * (y2 - y1) + 1.0
    return np.stack([cx - w / 2.0, cy - h / 2.0, w, h], axis=-1)


def box_is_valid(box) -> np.ndarray:
    """True where a 0-based (x, y, w, h) box is finite with positive width and height."""
    box = np.asarray(box, dtype=np.float64)
    return np.isfinite(box).all(-1) & (box[..., 2] > 0) & (box[..., 3] > 0)

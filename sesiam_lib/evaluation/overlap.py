"""Region overlaps used by every benchmark metric.

- :func:`iou_xywh`: IoU of axis-aligned 0-based ``(x, y, w, h)`` boxes on *continuous* coordinates
  (no ``+1`` pixel convention), vectorised over ``(N, 4)`` arrays. This is what the python OTB
  toolkits compute (got10k-toolkit ``utils/metrics.py::rect_iou``, pysot ``toolkit/utils/statistics.py::
  overlap_ratio``) and what the OTB MATLAB toolkit's ``calcRectInt`` computes.
- :func:`center_error`: Euclidean distance between box centres, centre = ``x + (w - 1) / 2`` (OTB toolkit
  ``calcSeqErrRobust.m``, pysot ``convert_bb_to_center``).
- :func:`poly_overlap`: the VOT region overlap of a ground-truth polygon (8 values) or box (4 values) with a
  predicted region (box or polygon), both clipped to the image rectangle ``[0, W] x [0, H]`` first, as the VOT
  toolkit does (``region_compute_overlap`` with image bounds). Computed with shapely on continuous
  geometry.

  Note on exactness: the VOT C library (``vot-toolkit/native/region.c``, vendored by pysot as
  ``toolkit/utils/region.pyx``) computes polygon overlaps by *rasterising* both polygons on the pixel grid,
  so its values differ from the continuous shapely values by about one pixel row along the boundary
  (typically < 1e-2 relative on VOT-sized targets). Axis-aligned boxes with integer corners agree exactly.
"""

from __future__ import annotations

from typing import Sequence as _Seq

import numpy as np

__all__ = ["iou_xywh", "center_error", "poly_overlap", "poly_overlaps", "region_to_polygon"]


def _as_boxes(a) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.shape[-1] != 4:
        raise ValueError(f"expected (..., 4) x,y,w,h boxes, got shape {a.shape}")
    return a


def iou_xywh(a, b) -> np.ndarray:
    """Intersection over union of 0-based ``(x, y, w, h)`` boxes, element-wise.

    Args:
        a, b: ``(N, 4)`` (or broadcastable ``(..., 4)``) float arrays.

    Returns:
        ``float64`` IoU per row, in ``[0, 1]``. Continuous coordinates: the box covers ``[x, x + w]``.
        Boxes with zero or negative width/height have zero area (negative sides are clamped to 0), so their
        IoU is 0 against anything. A row with a NaN in either box gives NaN (callers decide what NaN means;
        the OTB metrics treat it as a failure, see :mod:`sesiam_lib.evaluation.otb`).
    """
    a = _as_boxes(a)
    b = _as_boxes(b)
    aw = np.maximum(a[..., 2], 0.0)
    ah = np.maximum(a[..., 3], 0.0)
    bw = np.maximum(b[..., 2], 0.0)
    bh = np.maximum(b[..., 3], 0.0)
    left = np.maximum(a[..., 0], b[..., 0])
    right = np.minimum(a[..., 0] + aw, b[..., 0] + bw)
    top = np.maximum(a[..., 1], b[..., 1])
    bottom = np.minimum(a[..., 1] + ah, b[..., 1] + bh)
    inter = np.maximum(right - left, 0.0) * np.maximum(bottom - top, 0.0)
    union = aw * ah + bw * bh - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    iou = np.clip(iou, 0.0, 1.0)
    nan = np.isnan(a).any(-1) | np.isnan(b).any(-1)
    return np.where(nan, np.nan, iou)


def center_error(a, b) -> np.ndarray:
    """Distance between the centres of 0-based ``(x, y, w, h)`` boxes, centre = ``x + (w - 1) / 2``.

    The ``(w - 1) / 2`` centre is the OTB toolkit's (``calcSeqErrRobust.m``); pysot and got10k-toolkit use the
    same. For a pair of boxes of equal size it cancels; it matters only when the sizes differ.
    """
    a = _as_boxes(a)
    b = _as_boxes(b)
    ca = a[..., :2] + (a[..., 2:] - 1.0) / 2.0
    cb = b[..., :2] + (b[..., 2:] - 1.0) / 2.0
    return np.sqrt(((ca - cb) ** 2).sum(-1))


def region_to_polygon(region) -> np.ndarray | None:
    """A VOT region (4-value box x,y,w,h or 8-value polygon) as a ``(K, 2)`` vertex array; ``None`` if empty.

    Returns ``None`` for special codes (a 1-value region such as ``[0]``, ``[1]``, ``[2]``), NaNs, and boxes
    with non-positive width or height.
    """
    r = np.asarray(region, dtype=np.float64).ravel()
    if r.size == 4:
        x, y, w, h = r
        if not (np.isfinite(r).all() and w > 0 and h > 0):
            return None
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]])
    if r.size >= 6 and r.size % 2 == 0:
        if not np.isfinite(r).all():
            return None
        return r.reshape(-1, 2)
    return None


def _shapely_polygon(vertices: np.ndarray):
    from shapely.geometry import Polygon

    poly = Polygon(vertices)
    if not poly.is_valid:  # self-intersecting (bow-tie) polygons: repair as the union of their parts
        poly = poly.buffer(0)
    return poly


def poly_overlap(gt_poly_or_box, pred_box, bounds: _Seq[float] | None = None) -> float:
    """VOT region overlap (IoU) of a ground-truth region and a predicted region.

    Args:
        gt_poly_or_box: 8 values ``x1 y1 .. x4 y4`` (polygon) or 4 values ``x, y, w, h``.
        pred_box: the prediction, 4 values ``x, y, w, h`` or a polygon (8 or more values). A 1-value special
            code (VOT ``0``/``1``/``2``) is not a region: the overlap is then NaN.
        bounds: ``(W, H)`` image size. When given, both regions are intersected with the image rectangle
            ``[0, W] x [0, H]`` before the overlap, as the VOT toolkit does (``region_compute_overlap`` with
            image bounds): the part of a region outside the image counts neither for the intersection nor
            for the union. ``None``: unbounded.

    Returns:
        IoU in ``[0, 1]``; 0 when either region is empty (after clipping); NaN for a special-code prediction.
    """
    pred = np.asarray(pred_box, dtype=np.float64).ravel()
    if pred.size == 1:
        return float("nan")
    gt_v = region_to_polygon(gt_poly_or_box)
    pr_v = region_to_polygon(pred)
    if gt_v is None or pr_v is None:
        return 0.0
    from shapely.geometry import box as _box

    pa = _shapely_polygon(gt_v)
    pb = _shapely_polygon(pr_v)
    if bounds is not None:
        frame = _box(0.0, 0.0, float(bounds[0]), float(bounds[1]))
        pa = pa.intersection(frame)
        pb = pb.intersection(frame)
    inter = pa.intersection(pb).area
    union = pa.area + pb.area - inter
    if union <= 0:
        return 0.0
    return float(min(max(inter / union, 0.0), 1.0))


def poly_overlaps(gt_regions, pred_regions, bounds: _Seq[float] | None = None) -> np.ndarray:
    """:func:`poly_overlap` for every frame of a trajectory.

    ``gt_regions``: ``(N, 4)`` or ``(N, 8)`` array (or a list of per-frame regions). ``pred_regions``: a list of
    per-frame regions of any length (1 = special code -> NaN, 4 = box, 8 = polygon) or an ``(N, 4)`` array.
    Axis-aligned boxes against axis-aligned boxes take a vectorised path (same values).
    """
    n = len(gt_regions)
    if len(pred_regions) != n:
        raise ValueError(f"poly_overlaps: {n} ground-truth regions but {len(pred_regions)} predictions")
    out = np.empty(n, dtype=np.float64)
    gt_arr = np.asarray(gt_regions, dtype=np.float64) if n else np.zeros((0, 4))
    for i in range(n):
        out[i] = poly_overlap(gt_arr[i], pred_regions[i], bounds)
    return out

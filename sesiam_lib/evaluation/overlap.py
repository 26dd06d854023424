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

__all__ = [
    "iou_xywh",
    "center_error",
    "poly_overlap",
    "poly_overlaps",
    "vot_overlaps",
    "region_to_polygon",
    "clip_polygons_to_rects",
    "polygon_areas",
]


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


def _regions_to_vertices(regions: np.ndarray) -> np.ndarray:
    """(N, 4) boxes or (N, 2K) polygons -> (N, K, 2) vertices (boxes: 4 corners, counter-clockwise in y-down)."""
    regions = np.asarray(regions, dtype=np.float64)
    if regions.shape[-1] == 4:
        x, y, w, h = (regions[:, i] for i in range(4))
        return np.stack(
            [np.stack([x, y], -1), np.stack([x + w, y], -1), np.stack([x + w, y + h], -1), np.stack([x, y + h], -1)],
            axis=1,
        )
    return regions.reshape(len(regions), -1, 2)


def _successor(P: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Vertex k+1 (cyclic over each row's ``cnt`` valid vertices) for every vertex k."""
    N, M, _ = P.shape
    if N and (cnt == M).all():
        return np.roll(P, -1, axis=1)
    k = np.arange(M)[None, :]
    nxt = np.where(k + 1 < cnt[:, None], k + 1, 0)
    return P[np.arange(N)[:, None], nxt]


def _clip_halfplane(P: np.ndarray, cnt: np.ndarray, axis: int, bound: np.ndarray, keep_greater: bool):
    """One Sutherland-Hodgman step for N polygons at once: keep the side ``coord >= bound`` (or ``<=``)."""
    N, M, _ = P.shape
    if M == 0 or N == 0:
        return P, cnt
    valid = np.arange(M)[None, :] < cnt[:, None]
    Q = _successor(P, cnt)
    b = bound[:, None]
    s_cur = (P[..., axis] - b) if keep_greater else (b - P[..., axis])
    s_nxt = (Q[..., axis] - b) if keep_greater else (b - Q[..., axis])
    in_cur = s_cur >= 0
    in_nxt = s_nxt >= 0
    emit = valid & in_cur
    cross = valid & (in_cur != in_nxt)
    if not cross.any():  # nothing crosses this line: drop the outside vertices only
        if emit.sum() == valid.sum():
            return P, cnt
        cand, mask = P, emit
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(cross, s_cur / np.where(cross, s_cur - s_nxt, 1.0), 0.0)
        inter = P + t[..., None] * (Q - P)
        cand = np.stack([P, inter], axis=2).reshape(N, 2 * M, 2)
        mask = np.stack([emit, cross], axis=2).reshape(N, 2 * M)
    new_cnt = mask.sum(1)
    m = int(new_cnt.max())
    out = np.zeros((N, m, 2))
    rows, cols = np.nonzero(mask)
    pos = np.cumsum(mask, axis=1) - 1
    out[rows, pos[rows, cols]] = cand[rows, cols]
    return out, new_cnt


def clip_polygons_to_rects(P: np.ndarray, cnt: np.ndarray, rects: np.ndarray):
    """Clip N polygons ``P (N, M, 2)`` (``cnt`` valid vertices each) by N rectangles ``(x1, y1, x2, y2)``.

    Exact (Sutherland-Hodgman against a convex window; correct areas for any simple subject polygon).
    Polygons whose bounding box lies inside their rectangle are returned unchanged and those whose bounding
    box misses it become empty, so only the straddling ones are clipped. Returns the vertices and counts.
    """
    N, M, _ = P.shape
    if N == 0 or M == 0:
        return P, cnt
    valid = np.arange(M)[None, :] < cnt[:, None]
    # unused vertex slots repeat vertex 0, so plain min/max give each polygon's bounding box
    xs = np.where(valid, P[..., 0], P[:, :1, 0])
    ys = np.where(valid, P[..., 1], P[:, :1, 1])
    has = cnt > 0
    bx1, bx2 = xs.min(1), xs.max(1)
    by1, by2 = ys.min(1), ys.max(1)
    inside = (bx1 >= rects[:, 0]) & (bx2 <= rects[:, 2]) & (by1 >= rects[:, 1]) & (by2 <= rects[:, 3])
    outside = (bx2 <= rects[:, 0]) | (bx1 >= rects[:, 2]) | (by2 <= rects[:, 1]) | (by1 >= rects[:, 3])
    todo = np.flatnonzero(has & ~inside & ~outside)
    out_cnt = np.where(has & ~outside, cnt, 0)
    if len(todo) == 0:
        return P, out_cnt
    Pt, ct = P[todo], cnt[todo]
    rt = rects[todo]
    for axis, col, greater in ((0, 0, True), (0, 2, False), (1, 1, True), (1, 3, False)):
        Pt, ct = _clip_halfplane(Pt, ct, axis, rt[:, col], greater)
    m = max(M, Pt.shape[1])
    out = np.zeros((N, m, 2))
    out[:, :M] = P
    out[todo] = 0.0
    out[todo, : Pt.shape[1]] = Pt
    out_cnt[todo] = ct
    return out, out_cnt


def polygon_areas(P: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """Unsigned shoelace areas of N polygons ``P (N, M, 2)`` with ``cnt`` valid vertices each."""
    N, M, _ = P.shape
    if M == 0:
        return np.zeros(N)
    valid = np.arange(M)[None, :] < cnt[:, None]
    Q = _successor(P, cnt)
    cross = P[..., 0] * Q[..., 1] - Q[..., 0] * P[..., 1]
    return 0.5 * np.abs(np.where(valid, cross, 0.0).sum(1))


def _box_box_overlaps(gt: np.ndarray, pred: np.ndarray, lo: float, W: float, H: float) -> np.ndarray:
    """IoU of (N, 4) boxes after clipping both to ``[lo, W] x [lo, H]``; 0 for empty/invalid boxes."""

    def clip(b):
        ok = np.isfinite(b).all(1) & (b[:, 2] > 0) & (b[:, 3] > 0)
        x1 = np.maximum(b[:, 0], lo)
        y1 = np.maximum(b[:, 1], lo)
        x2 = np.minimum(b[:, 0] + b[:, 2], W)
        y2 = np.minimum(b[:, 1] + b[:, 3], H)
        with np.errstate(invalid="ignore"):
            area = np.where(ok, np.maximum(x2 - x1, 0.0) * np.maximum(y2 - y1, 0.0), 0.0)
        return ok, x1, y1, x2, y2, area

    ok_a, ax1, ay1, ax2, ay2, area_a = clip(gt)
    ok_b, bx1, by1, bx2, by2, area_b = clip(pred)
    with np.errstate(invalid="ignore"):
        iw = np.maximum(np.minimum(ax2, bx2) - np.maximum(ax1, bx1), 0.0)
        ih = np.maximum(np.minimum(ay2, by2) - np.maximum(ay1, by1), 0.0)
    inter = np.where(ok_a & ok_b, iw * ih, 0.0)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(iou, 0.0, 1.0)


def _box_polygon_overlaps(gt: np.ndarray, pred: np.ndarray, bounds) -> np.ndarray:
    """Vectorised VOT overlap of (N, 4|2K) ground-truth regions with (N, 4) predicted boxes, image-bounded."""
    N = len(gt)
    if bounds is None:
        W = H = np.inf
        lo = -np.inf
    else:
        W, H = float(bounds[0]), float(bounds[1])
        lo = 0.0
    if gt.shape[-1] == 4:  # axis-aligned ground truth: rectangle intersection, no polygon clipping needed
        return _box_box_overlaps(gt, pred, lo, W, H)
    G = _regions_to_vertices(gt)
    gcnt = np.full(N, G.shape[1], dtype=np.int64)
    g_ok = np.isfinite(G).all((1, 2))
    if gt.shape[-1] == 4:
        g_ok &= (gt[:, 2] > 0) & (gt[:, 3] > 0)
    G = np.where(g_ok[:, None, None], G, 0.0)
    gcnt = np.where(g_ok, gcnt, 0)
    # prediction box clipped to the image
    p_ok = np.isfinite(pred).all(1) & (pred[:, 2] > 0) & (pred[:, 3] > 0)
    px1 = np.maximum(pred[:, 0], lo)
    py1 = np.maximum(pred[:, 1], lo)
    px2 = np.minimum(pred[:, 0] + pred[:, 2], W)
    py2 = np.minimum(pred[:, 1] + pred[:, 3], H)
    with np.errstate(invalid="ignore"):
        area_p = np.where(p_ok, np.maximum(px2 - px1, 0.0) * np.maximum(py2 - py1, 0.0), 0.0)
    # ground truth clipped to the image
    img = np.tile(np.array([[lo, lo, W, H]], dtype=np.float64), (N, 1))
    Gi, gicnt = clip_polygons_to_rects(G, gcnt, img)
    area_g = polygon_areas(Gi, gicnt)
    # intersection: ground truth (in the image) clipped by the (image-clipped) prediction box
    rect = np.stack([px1, py1, px2, py2], axis=1)
    rect = np.where(p_ok[:, None], rect, 0.0)
    Gx, gxcnt = clip_polygons_to_rects(Gi, np.where(p_ok & (area_p > 0), gicnt, 0), rect)
    inter = polygon_areas(Gx, gxcnt)
    union = area_g + area_p - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(iou, 0.0, 1.0)


def vot_overlaps(gt_regions, pred_regions, bounds: _Seq[float] | None = None) -> np.ndarray:
    """Per-frame VOT overlaps of a trajectory; NaN on special-code frames (VOT ``0``/``1``/``2``).

    Args:
        gt_regions: ``(N, 4)`` boxes or ``(N, 8)`` polygons (one region per frame).
        pred_regions: list of N per-frame regions: 1 value (code -> NaN), 4 (box) or 8+ (polygon); a
            :class:`~sesiam_lib.evaluation.results_io.VotTrajectory`; or an ``(N, 4)`` array of boxes.
        bounds: ``(W, H)``: both regions are clipped to ``[0, W] x [0, H]`` first (see :func:`poly_overlap`).

    Box predictions (the usual case) are computed in one vectorised pass with exact polygon clipping
    (Sutherland-Hodgman) and shoelace areas, equal to :func:`poly_overlap` (shapely) up to float rounding;
    polygon predictions go through :func:`poly_overlap`.
    """
    gt = np.asarray(gt_regions, dtype=np.float64)
    n = len(gt)
    if len(pred_regions) != n:
        raise ValueError(f"vot_overlaps: {n} ground-truth regions but {len(pred_regions)} predictions")
    if n == 0:
        return np.zeros(0)
    gt = gt.reshape(n, -1)
    out = np.full(n, np.nan)
    if isinstance(pred_regions, np.ndarray) and pred_regions.ndim == 2 and pred_regions.shape[1] == 4:
        return _box_polygon_overlaps(gt, pred_regions.astype(np.float64), bounds)
    from .results_io import VotTrajectory

    traj = VotTrajectory.from_regions(pred_regions)
    box_idx, boxes = traj.boxes()
    if len(box_idx):
        out[box_idx] = _box_polygon_overlaps(gt[box_idx], boxes, bounds)
    for i in np.flatnonzero((traj.sizes != 4) & (traj.sizes != 1)):
        out[i] = poly_overlap(gt[i], traj[i], bounds)
    return out


def poly_overlaps(gt_regions, pred_regions, bounds: _Seq[float] | None = None) -> np.ndarray:
    """:func:`poly_overlap` for every frame (alias of :func:`vot_overlaps`, vectorised for box predictions)."""
    return vot_overlaps(gt_regions, pred_regions, bounds)

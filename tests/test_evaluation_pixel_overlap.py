"""``pixel_overlap`` / ``overlap="pixels"``: the VOT (MATLAB) toolkit's pixel-counting region overlap.

Checked three ways: (1) against numbers produced by the C code itself, (2) against a slow loop-over-pixels
reference written here from the C code's rules, (3) closed forms for integer boxes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sesiam_lib.evaluation.overlap import pixel_overlap, pixel_overlaps, vot_overlaps
from sesiam_lib.evaluation.vot import VotGroundTruth, evaluate_vot_trajectories

# (a, b, bounds, expected). Expected values = pysot's ``toolkit/utils/src/region.c`` (= trax src/region.c of
# 2017, the code the VOT2016/2017 MATLAB toolkit compiled), ``compute_polygon_overlap`` with flags 0, called
# through ctypes on a copy compiled in a temporary folder (gcc -O2, x86-64), boxes turned into polygons
# (x, y), (x+w, y), (x+w, y+h), (x, y+h) as pysot's ``region.vot_overlap`` and the toolkit's ``region_overlap``
# MEX (2016-2019) do; our bounds (W, H) were passed as the C bounds left 0, top 0, right W-1, bottom H-1 (the
# toolkit's ``[width height] - 1``), a 4-tuple as is. The same harness agreed exactly (==) with pixel_overlap on
# 9000 random box / rotated / tiny / half-integer / out-of-image pairs under the three kinds of bounds.
C_REFERENCE = [
    ([10, 10, 10, 10], [10, 10, 10, 10], (100, 100), 1.0),
    ([10, 10, 10, 10], [15, 12, 10, 10], (100, 100), 0.28723403811454773),
    ([10.3, 10.6, 9.4, 20.2], [12.5, 9.5, 10.5, 18.5], (64, 48), 0.4864864945411682),
    ([14.32, 12.18, 27.19, 13.99, 24.68, 31.82, 11.81, 30.01], [11.3734, 11.5936, 14.5823, 18.3065], (192, 192),
     0.7923322916030884),
    ([89.46, -32.61, 120.02, 9.38, 93.38, 28.77, 62.82, -13.22],
     [87.23, -35.37, 118.65, 10.04, 90.36, 28.14, 62.35, -11.59], (119, 26), 0.8905529975891113),
    ([2.5, 118.5, 53.5, 149.0, 42.5, 167.5, -9.0, 137.0], [1.11, 122.19, 50.18, 152.09, 43.03, 165.09, -9.87, 134.24],
     (41, 168), 0.718898355960846),
    ([8.5, 61.0, 29.5, 90.0, 12.5, 102.5, -8.5, 73.0], [34.27, 64.31, 26.67, 100.56, 3.58, 95.72, 11.18, 59.47], None,
     0.42939719557762146),
    ([47.5, 49.0, 75.5, 51.5, 70.0, 108.5, 42.0, 105.5], [42.44, 46.74, 78.86, 51.06, 73.48, 105.47, 42.99, 105.05],
     (0, 0, 144, 72), 0.7549591660499573),
    ([0, 0, 10, 10], [10, 0, 10, 10], (100, 100), 0.0),  # touching boxes: the bounding-box shortcut gives 0
    ([0, 0, 10, 10], [9.6, 0, 10, 10], (100, 100), 0.0476190485060215),
    ([50.2, 40.7, 51.9, 41.1, 51.4, 43.3, 49.8, 42.6], [50, 41, 2, 2], (100, 100), 0.7777777910232544),
    ([90, 70, 20, 20], [95, 75, 20, 20], (100, 80), 0.25),  # clipped by the image (right / bottom)
    ([90, 70, 20, 20], [95, 75, 20, 20], (0, 0, 100, 80), 0.2975206673145294),  # pysot's accuracy bounds
    ([-5.5, -4.5, 20, 15], [-3.0, -2.0, 18, 16], (50, 50), 0.800000011920929),  # clipped left / top
    ([30, 10, 50, 30, 30, 50, 10, 30], [20, 20, 20, 20], (80, 80), 0.5256257653236389),  # diamond
]


@pytest.mark.parametrize("a, b, bounds, expected", C_REFERENCE)
def test_pixel_overlap_equals_the_c_library(a, b, bounds, expected):
    assert pixel_overlap(a, b, bounds) == expected


# ------------------------------------------------------------------------------------------------------------
# a slow reference, pixel by pixel, written from region.c (compute_polygon_overlap + rasterize_polygon, flags 0)
# ------------------------------------------------------------------------------------------------------------
f32 = np.float32
FLT_MAX = float(np.finfo(np.float32).max)


def _c_round(v):
    v = float(v)
    return f32(math.floor(v + 0.5) if v >= 0 else math.ceil(v - 0.5))


def _row_runs(xs, ys, y, width):
    """The pixel runs rasterize_polygon fills on row ``y`` (polygon already offset and rounded)."""
    n = len(xs)
    nodes = []
    j = n - 1
    for i in range(n):
        yi, yj = int(ys[i]), int(ys[j])
        if ((yi <= y < yj) or (yj <= y < yi) or (yi < y <= yj) or (yj < y <= yi) or (yi == yj == y)):
            r = float(f32(ys[j] - ys[i]))
            k = float(f32(xs[j] - xs[i]))
            if r != 0:
                nodes.append(int(float(xs[i]) + float(f32(y - ys[i])) / r * k))  # int(): truncation, as C
        j = i
    nodes.sort()
    runs = []
    i = 0
    while i < len(nodes) - 1:
        if nodes[i] == nodes[i + 1]:
            i += 1
            continue
        if nodes[i] >= width:
            break
        if nodes[i + 1] >= 0:
            runs.append((max(nodes[i], 0), min(nodes[i + 1], width - 1)))
        i += 2
    return runs


def slow_pixel_overlap(a, b, bounds):
    def poly(r):
        r = [float(v) for v in r]
        if len(r) == 4:
            x, y, w, h = r
            r = [x, y, x + w, y, x + w, y + h, x, y + h]
        return [f32(v) for v in r[0::2]], [f32(v) for v in r[1::2]]

    if bounds is None:
        L, T, R, B = -FLT_MAX, -FLT_MAX, FLT_MAX, FLT_MAX
    elif len(bounds) == 2:
        L, T, R, B = 0.0, 0.0, bounds[0] - 1.0, bounds[1] - 1.0
    else:
        L, T, R, B = bounds
    L, T, R, B = f32(L), f32(T), f32(R), f32(B)
    (x1, y1), (x2, y2) = poly(a), poly(b)

    def box(xs, ys):
        return (max(f32(math.floor(min(xs))), L), max(f32(math.floor(min(ys))), T),
                min(f32(math.ceil(max(xs))), R), min(f32(math.ceil(max(ys))), B))

    b1, b2 = box(x1, y1), box(x2, y2)
    ox, oy = min(b1[0], b2[0]), min(b1[1], b2[1])
    width = int(max(b1[2], b2[2]) - ox) + 1
    height = int(max(b1[3], b2[3]) - oy) + 1
    a1 = float(f32((b1[2] - b1[0]) * (b1[3] - b1[1])))
    a2 = float(f32((b2[2] - b2[0]) * (b2[3] - b2[1])))
    with np.errstate(all="ignore"):
        q1 = np.float64(a1) / np.float64(a2)
        q2 = np.float64(a2) / np.float64(a1)
        if q1 < 1e-10 or q2 < 1e-10 or width < 1 or height < 1:
            return 0.0
        il, it, ir, ib = max(b1[0], b2[0]), max(b1[1], b2[1]), min(b1[2], b2[2]), min(b1[3], b2[3])
        inter = f32((ir - il) * (ib - it))
        den = f32(f32(f32((b1[2] - b1[0]) * (b1[3] - b1[1])) + f32((b2[2] - b2[0]) * (b2[3] - b2[1]))) - inter)
        ratio = f32(inter / den)
        if not np.isnan(ratio) and ratio <= 0:
            return 0.0

    def mask(xs, ys):
        xs = [_c_round(f32(v - ox)) for v in xs]
        ys = [_c_round(f32(v - oy)) for v in ys]
        m = np.zeros((height, width), dtype=bool)
        for y in range(height):
            for s, e in _row_runs(xs, ys, y, width):
                for x in range(s, e + 1):  # pixel by pixel
                    m[y, x] = True
        return m

    m1, m2 = mask(x1, y1), mask(x2, y2)
    inter = int((m1 & m2).sum())
    union = int((m1 | m2).sum())
    with np.errstate(all="ignore"):
        return float(f32(inter) / f32(union))


def _random_region(rng, kind, W, H):
    if kind == 0:  # box
        x, y = rng.uniform(-8, W - 4, 2)
        w, h = rng.uniform(0.5, 25, 2)
        if rng.random() < 0.4:
            x, y, w, h = np.round(np.array([x, y, w, h]) * 2) / 2  # on the .5 grid: ties of round()
        return [x, y, w, h]
    cx, cy = rng.uniform(-5, W + 5), rng.uniform(-5, H + 5)
    w, h = rng.uniform(0.3, 25, 2)
    t = rng.uniform(0, math.pi)
    pts = []
    for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
        px, py = dx * w / 2, dy * h / 2
        pts += [cx + math.cos(t) * px - math.sin(t) * py, cy + math.sin(t) * px + math.cos(t) * py]
    if kind == 2:
        pts = list(np.round(np.array(pts) * 2) / 2)
    return pts


def test_pixel_overlap_equals_a_pixel_by_pixel_reference():
    rng = np.random.default_rng(7)
    checked = 0
    for t in range(160):
        W, H = (int(v) for v in rng.integers(12, 48, 2))
        a = _random_region(rng, t % 3, W, H)
        b = _random_region(rng, int(rng.integers(0, 3)), W, H)
        if t % 2 and len(a) == len(b):  # mostly overlapping pairs
            b = list(np.asarray(a) + rng.normal(0, 1.5, len(a)))
        bounds = [None, (W, H), (0, 0, W, H)][t % 3]
        expected = slow_pixel_overlap(a, b, bounds)
        got = pixel_overlap(a, b, bounds)
        assert got == expected or (math.isnan(got) and math.isnan(expected)), (a, b, bounds, got, expected)
        checked += expected > 0
    assert checked > 60


def test_pixel_overlap_integer_boxes_closed_form():
    # boxes with integer corners cover (w + 1) x (h + 1) pixels (the fill is inclusive at both ends)
    a, b = [10, 20, 30, 15], [18, 24, 30, 15]
    inter = (30 - 8 + 1) * (15 - 4 + 1)
    union = 2 * 31 * 16 - inter
    assert pixel_overlap(a, b, (200, 200)) == pytest.approx(inter / union, rel=1e-7)
    # image bounds: the pixels 0..W-1 x 0..H-1
    assert pixel_overlap([0, 0, 10, 10], [0, 0, 20, 20], (6, 6)) == 1.0
    # codes and non-finite regions
    assert math.isnan(pixel_overlap([1, 2, 3, 4], [2], (50, 50)))
    assert pixel_overlap([np.nan] * 8, [1, 2, 3, 4], (50, 50)) == 0.0
    with pytest.raises(ValueError):
        pixel_overlap([1, 2, 3, 4], [1, 2, 3, 4], (1, 2, 3))


def test_pixel_overlaps_vectorised_equals_per_frame():
    rng = np.random.default_rng(3)
    n = 60
    gt = np.array([_random_region(rng, 1, 80, 60) for _ in range(n)])
    pred: list = []
    for i in range(n):
        if i % 9 == 0:
            pred.append([1 if i % 2 else 2])
        elif i % 7 == 0:
            pred.append(list(gt[i] + rng.normal(0, 2, 8)))  # a polygon prediction
        else:
            xs, ys = gt[i, 0::2], gt[i, 1::2]
            pred.append([xs.min() + rng.normal(0, 2), ys.min() + rng.normal(0, 2), np.ptp(xs), np.ptp(ys)])
    for bounds in ((80, 60), None):
        vec = vot_overlaps(gt, pred, bounds, overlap="pixels")
        one = np.array([pixel_overlap(g, p, bounds) for g, p in zip(gt, pred)])
        np.testing.assert_array_equal(vec, one)
        assert np.isnan(vec[::9]).all() and (vec[1:9] > 0).any()
    boxes = np.array([p for p in pred if len(p) == 4])
    gtb = np.array([g for g, p in zip(gt, pred) if len(p) == 4])
    np.testing.assert_array_equal(pixel_overlaps(gtb, boxes, (80, 60)),
                                  [pixel_overlap(g, p, (80, 60)) for g, p in zip(gtb, boxes)])
    with pytest.raises(ValueError):
        vot_overlaps(gt, pred, (80, 60), overlap="pixel")


def test_evaluate_vot_pixels_vs_continuous():
    # a small target tracked with a 1 px error: pixel counting gives the higher overlap (boundary pixels count)
    n = 40
    boxes = np.array([[20.0 + i, 30.0, 12.0, 10.0] for i in range(n)])
    gt = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 0] + 12, boxes[:, 1], boxes[:, 0] + 12, boxes[:, 1] + 10,
                   boxes[:, 0], boxes[:, 1] + 10], axis=1)
    traj = [1] + [list(b + [1.0, 1.0, 0.0, 0.0]) for b in boxes[1:]]
    gts = [VotGroundTruth("s", gt, (100, 80))]
    cont = evaluate_vot_trajectories({"s": [traj]}, gts, "VOT2016", eao_range=(5, 30))
    pix = evaluate_vot_trajectories({"s": [traj]}, gts, "VOT2016", eao_range=(5, 30), overlap="pixels")
    assert cont["overlap"] == "continuous" and pix["overlap"] == "pixels"
    assert cont["accuracy"] == pytest.approx((11 * 9) / (2 * 120 - 11 * 9))
    # 13 x 11 pixels each, 12 x 10 in common
    assert pix["accuracy"] == pytest.approx((12 * 10) / (2 * 13 * 11 - 12 * 10), rel=1e-6)
    assert pix["accuracy"] > cont["accuracy"] and pix["eao"] > cont["eao"]
    with pytest.raises(ValueError):
        evaluate_vot_trajectories({"s": [traj]}, gts, "VOT2016", overlap="area")

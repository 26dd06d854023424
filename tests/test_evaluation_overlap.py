"""Overlaps: box IoU, centre error, VOT region overlap (image-bounded), vectorised vs shapely."""

import numpy as np
import pytest

from sesiam_lib.evaluation.overlap import center_error, iou_xywh, poly_overlap, poly_overlaps, vot_overlaps


def test_iou_identical_disjoint_half_shift():
    a = np.array([[10.0, 20.0, 30.0, 40.0]])
    assert iou_xywh(a, a)[0] == pytest.approx(1.0)
    assert iou_xywh(a, a + [100, 0, 0, 0])[0] == 0.0
    # shifted by half its width: intersection 15x40 = 600, union 1200 + 1200 - 600 = 1800 -> 1/3
    b = a + [15.0, 0, 0, 0]
    assert iou_xywh(a, b)[0] == pytest.approx(600 / 1800)
    assert iou_xywh(a, b)[0] == pytest.approx(1 / 3)
    # touching edges: continuous boxes [0,10] and [10,20] share no area
    assert iou_xywh([[0, 0, 10, 10]], [[10, 0, 10, 10]])[0] == 0.0


def test_iou_degenerate_and_nan():
    z = np.array([[5.0, 5.0, 0.0, 10.0]])
    assert iou_xywh(z, z)[0] == 0.0  # zero area: IoU 0, not NaN
    assert iou_xywh(z, [[0, 0, 20, 20]])[0] == 0.0
    assert np.isnan(iou_xywh([[np.nan, 0, 1, 1]], [[0, 0, 1, 1]])[0])
    # vectorised over rows, symmetric
    rng = np.random.default_rng(0)
    a = np.c_[rng.uniform(0, 50, (100, 2)), rng.uniform(1, 30, (100, 2))]
    b = np.c_[rng.uniform(0, 50, (100, 2)), rng.uniform(1, 30, (100, 2))]
    np.testing.assert_allclose(iou_xywh(a, b), iou_xywh(b, a))
    assert ((iou_xywh(a, b) >= 0) & (iou_xywh(a, b) <= 1)).all()


def test_center_error_uses_w_minus_1_over_2():
    # centre = x + (w - 1) / 2: box (0,0,11,11) -> (5,5); box (3,4,1,1) -> (3,4); distance sqrt(4 + 1)
    assert center_error([[0, 0, 11, 11]], [[3, 4, 1, 1]])[0] == pytest.approx(np.sqrt(5.0))


def test_poly_overlap_bounds_clip_both_regions():
    gt = [0, 0, 10, 0, 10, 10, 0, 10]  # the square [0,10]^2 as a polygon
    pred = [5, 0, 10, 10]  # [5,15] x [0,10]
    # unbounded: inter 50, union 100 + 100 - 50 = 150
    assert poly_overlap(gt, pred) == pytest.approx(50 / 150)
    # image 12 wide: prediction clipped to [5,12] (area 70): union 100 + 70 - 50 = 120
    assert poly_overlap(gt, pred, bounds=(12, 12)) == pytest.approx(50 / 120)
    # image 8 wide: gt -> [0,8] (80), pred -> [5,8] (30), inter 30: union 80
    assert poly_overlap(gt, pred, bounds=(8, 12)) == pytest.approx(30 / 80)
    # a 4-value ground truth is a box
    assert poly_overlap([0, 0, 10, 10], pred, bounds=(12, 12)) == pytest.approx(50 / 120)
    # special codes are not regions -> NaN; empty prediction -> 0
    assert np.isnan(poly_overlap(gt, [2]))
    assert poly_overlap(gt, [1, 1, 0, 5]) == 0.0


def test_rotated_polygon_overlap_known_value():
    # diamond with vertices on the axes of the square [0,2]^2 has area 2 and lies inside the square: IoU 2/4
    diamond = [1, 0, 2, 1, 1, 2, 0, 1]
    assert poly_overlap(diamond, [0, 0, 2, 2]) == pytest.approx(0.5)
    assert vot_overlaps(np.array([diamond], float), [np.array([0, 0, 2, 2.0])])[0] == pytest.approx(0.5)


def _random_rotated(rng, n):
    c = rng.uniform(-10, 110, (n, 2))
    wh = rng.uniform(1, 40, (n, 2))
    th = rng.uniform(0, np.pi, n)
    th[::4] = 0.0  # some axis-aligned polygons
    corners = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    cs, sn = np.cos(th)[:, None], np.sin(th)[:, None]
    dx, dy = corners[None, :, 0] * wh[:, :1], corners[None, :, 1] * wh[:, 1:]
    poly = np.stack([c[:, :1] + cs * dx - sn * dy, c[:, 1:] + sn * dx + cs * dy], -1)
    return poly.reshape(n, 8), c, wh


@pytest.mark.parametrize("bounds", [None, (90, 80), (40, 40)])
def test_vectorised_overlaps_equal_shapely(bounds):
    rng = np.random.default_rng(1)
    n = 800
    gt, c, wh = _random_rotated(rng, n)
    pred = np.c_[c - wh / 2 + rng.normal(0, 6, (n, 2)), wh * rng.uniform(0.5, 1.5, (n, 2))]
    pred[::37, 2] = 0.0
    pred[::41] = np.nan
    pred[1::7] = np.c_[c - wh, 2 * wh][1::7]  # boxes containing the polygon
    ref = np.array([poly_overlap(g, p, bounds) for g, p in zip(gt, pred)])
    np.testing.assert_allclose(vot_overlaps(gt, pred, bounds), ref, atol=1e-12)
    gtb = np.c_[c - wh / 2, wh]
    refb = np.array([poly_overlap(g, p, bounds) for g, p in zip(gtb, pred)])
    np.testing.assert_allclose(vot_overlaps(gtb, pred, bounds), refb, atol=1e-12)


def test_vot_overlaps_mixed_list_codes_and_polygons():
    gt = np.array([[0, 0, 10, 0, 10, 10, 0, 10]] * 4, dtype=float)
    preds = [[1], [0, 0, 10, 5], [2], [0, 0, 10, 0, 10, 10, 0, 10]]
    out = poly_overlaps(gt, preds, (100, 100))
    assert np.isnan(out[0]) and np.isnan(out[2])
    assert out[1] == pytest.approx(0.5)
    assert out[3] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        vot_overlaps(gt, preds[:3])

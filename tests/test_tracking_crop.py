"""Crop geometry and box conventions used by the tracker (FACTS §4)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from sesiam_lib.core.boxes import center_to_xywh, otb_to_xywh, polygon_to_xywh, xywh_to_center, xywh_to_otb
from sesiam_lib.core.crop import channel_mean, crop_window, get_subwindow
from sesiam_lib.tracking import as_rgb_uint8, hann_window, parse_box, scale_factors


def reference_subwindow(im, pos, model_sz, original_sz, avg_chans):
    """The release's routine, written out: pad the *whole* image with the mean colour, then slice, then resize."""
    sz = original_sz
    c = (original_sz + 1) / 2
    xmin = round(pos[0] - c)
    xmax = xmin + sz - 1
    ymin = round(pos[1] - c)
    ymax = ymin + sz - 1
    left = int(max(0.0, -xmin))
    top = int(max(0.0, -ymin))
    right = int(max(0.0, xmax - im.shape[1] + 1))
    bottom = int(max(0.0, ymax - im.shape[0] + 1))
    r, cc, k = im.shape
    big = np.zeros((r + top + bottom, cc + left + right, k), np.uint8)
    big[top:top + r, left:left + cc] = im
    big[:top, left:left + cc] = avg_chans
    big[r + top:, left:left + cc] = avg_chans
    big[:, :left] = avg_chans
    big[:, cc + left:] = avg_chans
    patch = big[ymin + top:ymax + top + 1, xmin + left:xmax + left + 1]
    if model_sz != original_sz:
        patch = cv2.resize(patch, (model_sz, model_sz))
    return patch


@pytest.mark.parametrize(
    "pos, sz, out",
    [
        ((50.0, 40.0), 31, 31),  # inside, no resize
        ((50.5, 40.5), 30, 64),  # half-pixel centre: round half to even
        ((2.0, 3.0), 41, 20),  # over the top-left corner
        ((95.0, 75.0), 57, 127),  # over the bottom-right corner
        ((-30.0, 200.0), 25, 25),  # wholly outside
        ((50.0, 40.0), 301, 255),  # larger than the image on every side
        ((0.49, 79.51), 8, 16),
    ],
)
def test_get_subwindow_matches_pad_whole_image_reference(pos, sz, out):
    rng = np.random.default_rng(1)
    im = rng.integers(0, 256, (80, 100, 3), dtype=np.uint8)
    avg = channel_mean(im)
    got = get_subwindow(im, pos, out, sz, avg)
    ref = reference_subwindow(im, pos, out, sz, avg)
    assert got.shape == (out, out, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, ref)


def test_crop_window_rounds_half_to_even():
    # first = round(c - (sz + 1) / 2): 10.5 -> 10, 11.5 -> 12 (banker's rounding, like Python/NumPy)
    assert crop_window(15.5, 11) == (10, 20)  # round(9.5) = 10
    assert crop_window(16.5, 11) == (10, 20)  # round(10.5) = 10
    assert crop_window(17.5, 11) == (12, 22)  # round(11.5) = 12
    assert crop_window(16.0, 10) == (10, 19)  # round(10.5) = 10


def test_padding_colour_is_truncated_mean():
    im = np.zeros((10, 10, 3), np.uint8)
    im[..., 0] = 255
    im[0, 0] = (0, 200, 7)
    avg = channel_mean(im)
    patch = get_subwindow(im, (-50.0, -50.0), 5, 5, avg)
    np.testing.assert_array_equal(patch[0, 0], avg.astype(np.uint8))


def test_box_conversions_round_trip():
    box = np.array([10.0, 20.0, 30.0, 40.0])
    c, s = xywh_to_center(box)
    np.testing.assert_allclose(c, [25.0, 40.0])
    np.testing.assert_allclose(center_to_xywh(c, s), box)
    np.testing.assert_allclose(center_to_xywh([5.0, 5.0], [20.0, 20.0]), [0.0, 0.0, 20.0, 20.0])  # clipped at 0
    np.testing.assert_allclose(otb_to_xywh(xywh_to_otb(box)), box)
    np.testing.assert_allclose(xywh_to_otb(box), [11.0, 21.0, 30.0, 40.0])


def test_parse_box_polygon_follows_the_release():
    poly = np.array([10.0, 10.0, 50.0, 10.0, 50.0, 30.0, 10.0, 30.0])
    c, s = parse_box(poly)
    np.testing.assert_allclose(c, [30.0, 20.0])
    np.testing.assert_allclose(s, [41.0, 21.0])  # axis-aligned: s = 1, sides + 1
    np.testing.assert_allclose(polygon_to_xywh(poly)[2:], s)
    c, s = parse_box([1, 2, 3, 4])
    np.testing.assert_allclose(c, [2.5, 4.0])


@pytest.mark.parametrize("bad", [[np.nan, 0, 10, 10], [0, 0, 0, 10], [0, 0, 10, -1], [1, 2, 3], "abc", [0, 0, np.inf, 1]])
def test_parse_box_rejects_bad_boxes(bad):
    with pytest.raises(ValueError, match="box"):
        parse_box(bad)


def test_as_rgb_uint8_accepts_common_inputs():
    gray = (np.arange(12).reshape(3, 4) * 10).astype(np.uint8)
    out = as_rgb_uint8(gray)
    assert out.shape == (3, 4, 3) and (out[..., 0] == gray).all() and (out[..., 2] == gray).all()
    assert as_rgb_uint8(gray[..., None]).shape == (3, 4, 3)
    rgba = np.zeros((3, 4, 4), np.uint8)
    assert as_rgb_uint8(rgba).shape == (3, 4, 3)
    pil = Image.fromarray(np.full((5, 6, 3), 7, np.uint8))
    assert as_rgb_uint8(pil).shape == (5, 6, 3)
    assert as_rgb_uint8(Image.fromarray(gray)).shape == (3, 4, 3)
    f = as_rgb_uint8(np.full((2, 2, 3), 300.0))
    assert f.dtype == np.uint8 and (f == 255).all()
    with pytest.raises(ValueError, match="image"):
        as_rgb_uint8(np.zeros((3, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="image"):
        as_rgb_uint8(np.full((2, 2, 3), np.nan))
    with pytest.raises(ValueError, match="image"):
        as_rgb_uint8(np.zeros((0, 4, 3), np.uint8))


def test_window_and_scales():
    w = hann_window(272)
    assert w.shape == (272, 272) and abs(w.sum() - 1) < 1e-12
    np.testing.assert_allclose(w, np.outer(np.hanning(272), np.hanning(272)) / np.outer(np.hanning(272), np.hanning(272)).sum())
    np.testing.assert_allclose(scale_factors(1.1, 3), [1 / 1.1, 1.0, 1.1])
    np.testing.assert_allclose(scale_factors(1.1, 5), [1.1 ** -2, 1.1 ** -1, 1.0, 1.1, 1.1 ** 2])


def test_cv2_bicubic_equals_torch_bicubic():
    """The release upsamples with torch (align_corners=False); cv2.INTER_CUBIC is the same filter."""
    torch = pytest.importorskip("torch")
    m = np.random.default_rng(0).standard_normal((3, 17, 17)).astype(np.float32)
    t = torch.nn.functional.interpolate(torch.from_numpy(m)[:, None], size=(272, 272), mode="bicubic").numpy()[:, 0]
    c = np.stack([cv2.resize(x, (272, 272), interpolation=cv2.INTER_CUBIC) for x in m])
    np.testing.assert_allclose(c, t, atol=2e-5)  # float32 rounding (<= 4.3e-6 measured); another filter: > 1e-2

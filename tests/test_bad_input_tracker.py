"""Bad input to the tracker and its crop: a clear error naming the argument, or the correct result."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sesiam_lib.core import crop
from sesiam_lib.models import build_model
from sesiam_lib.tracking import SiamFCTracker, as_rgb_uint8


@pytest.fixture(scope="module")
def tracker():
    torch.manual_seed(0)
    return SiamFCTracker(build_model("siamfc_tiny"), device="cpu", fast=False)


def _frame(size=192, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_float_image_in_0_1_is_rejected_with_advice(tracker):
    img = _frame()
    with pytest.raises(ValueError, match=r"image: .*0\.\.1 image.*255"):
        tracker.init(img.astype(np.float32) / 255, (65, 113, 47, 50))
    tracker.init(img, (65, 113, 47, 50))
    with pytest.raises(ValueError, match=r"image: .*0\.\.1 image"):
        tracker.update(img.astype(np.float64) / 255)


def test_float_image_in_0_255_equals_uint8(tracker):
    img = _frame()
    assert (as_rgb_uint8(img.astype(np.float32)) == img).all()
    assert (as_rgb_uint8(np.zeros((4, 4, 3), np.float32)) == 0).all()  # all-black: same in both conventions
    tracker.init(img.astype(np.float32), (65, 113, 47, 50))
    a = tracker.update(img.astype(np.float32))
    tracker.init(img, (65, 113, 47, 50))
    b = tracker.update(img)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("box", [(1000, 1000, 30, 30), (-100, 10, 50, 50), (10, 192, 20, 20), (-30, -30, 30, 30)])
def test_box_entirely_outside_the_image_is_rejected(tracker, box):
    with pytest.raises(ValueError, match=r"box: .*entirely outside the 192x192 image"):
        tracker.init(_frame(), box)


def test_box_touching_the_image_is_accepted(tracker):
    tracker.init(_frame(), (-29, -29, 30, 30))  # one pixel inside
    assert np.isfinite(tracker.update(_frame(seed=1))).all()


@pytest.mark.parametrize("side", [1e4, 1e300])
def test_absurdly_large_box_is_rejected(tracker, side):
    with pytest.raises(ValueError, match=r"box: .*times larger than the 192x192 image"):
        tracker.init(_frame(), (0, 0, side, side))


def test_large_box_crop_costs_no_more_memory(tracker):
    """A box 15x the image (accepted) crops a 2e4-px context window without materialising it."""
    img = _frame()
    tracker.init(img, (0, 0, 15 * 192, 15 * 192))
    assert tracker.last_debug["s_z"] > 2048
    out = tracker.update(img)
    assert np.isfinite(out).all()


def test_huge_window_sampling_matches_materialised_crop(monkeypatch):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    pad = crop.channel_mean(img)
    for cx, cy, out, ins in [(40, 30, 17, 301), (10, 50, 31, 257), (70.3, 5.6, 25, 99)]:
        ref = crop.get_subwindow(img, (cx, cy), out, ins, pad).astype(int)
        monkeypatch.setattr(crop, "MAX_CROP_PIXELS", 1)
        fast = crop.get_subwindow(img, (cx, cy), out, ins, pad).astype(int)
        monkeypatch.undo()
        assert np.abs(ref - fast).max() <= 1  # cv2 fixed-point rounding


def test_non_finite_crop_side_is_a_value_error():
    img = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="in_size"):
        crop.get_subwindow(img, (4, 4), 5, float("inf"), (0, 0, 0))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_device_without_cuda_says_what_to_do():
    with pytest.raises(ValueError, match=r"device='cuda'.*CUDA is not available.*device='cpu'"):
        SiamFCTracker(build_model("siamfc_tiny"), device="cuda")


def test_bad_device_string_names_the_argument():
    with pytest.raises(ValueError, match=r"device: not a device: 'gpu'"):
        SiamFCTracker(build_model("siamfc_tiny"), device="gpu")

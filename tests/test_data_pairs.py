"""Training pairs: crop geometry vs. label and shift, validity filtering, determinism across workers."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.data import PairDataset, context_side, generate_synthetic, search_side


def _square_sequence(tmp_path: Path, n=6, size=(160, 200), side=24, seed=0, absent=None) -> Sequence:
    """Frames with one bright square (lossless PNG) on a dark noisy background; boxes exact."""
    rng = np.random.default_rng(seed)
    h, w = size
    frames, boxes = [], []
    for i in range(n):
        img = rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
        x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
        img[y : y + side, x : x + side] = 255
        path = tmp_path / f"{i + 1:08d}.png"
        cv2.imwrite(str(path), img)
        frames.append(path)
        boxes.append((x, y, side, side))
    return Sequence("squares", frames, np.asarray(boxes, float), absent=absent)


def _bright_centre(img_chw: torch.Tensor) -> np.ndarray:
    """Continuous (x, y) centre of the bright square in a crop (pixel i spans [i, i + 1))."""
    g = img_chw.numpy().astype(np.float64).mean(0)
    mass = np.clip(g - 128.0, 0, None)
    ys, xs = np.mgrid[: g.shape[0], : g.shape[1]]
    return np.array([(mass * xs).sum(), (mass * ys).sum()]) / mass.sum() + 0.5


@pytest.mark.parametrize("sizes", [(127, 255, 17, 8), (63, 127, 9, 8)])
def test_target_lands_at_centre_plus_shift(tmp_path, sizes):
    E, I, S, stride = sizes
    seq = _square_sequence(tmp_path)
    ds = PairDataset([seq], E, I, S, stride, shift=12, scale=0.05, color=0.0, pairs_per_epoch=40, seed=1)
    seen_shifts = []
    for i in range(len(ds)):
        sample = ds[i]
        assert sample["template"].shape == (3, E, E) and sample["template"].dtype == torch.uint8
        assert sample["search"].shape == (3, I, I) and sample["search"].dtype == torch.uint8
        assert sample["label"].shape == (1, S, S) and sample["label"].dtype == torch.float32
        shift = sample["shift"].numpy().astype(np.float64)
        seen_shifts.append(shift)
        # the template is the tracker's exemplar crop, centred on the target up to the release's crop
        # rounding: its window starts at round(c - (side + 1) / 2), up to one frame pixel off centre
        z_tol = 1.0 * E / (48 * 0.95) + 0.25
        np.testing.assert_allclose(_bright_centre(sample["template"]), [E / 2, E / 2], atol=z_tol)
        # the search crop has the target at centre + shift
        np.testing.assert_allclose(_bright_centre(sample["search"]), [I / 2 + shift[0], I / 2 + shift[1]], atol=1.0)
        # the label's positive blob sits at the map centre + shift // stride
        label = sample["label"][0].numpy()
        ys, xs = np.nonzero(label)
        expect = np.array([S // 2 + int(shift[0]) // stride, S // 2 + int(shift[1]) // stride])
        np.testing.assert_allclose([xs.mean(), ys.mean()], expect, atol=1e-6)
        # the square (24 px) fills the context crop as the formula says
        s_z = context_side(24, 24)
        assert abs(s_z - 48) < 1e-9 and search_side(s_z, E, I) == pytest.approx(48 * I / E)
    seen = np.abs(np.asarray(seen_shifts))
    assert seen.max() > 8  # shifts large enough to move the label were drawn


def test_frames_without_target_are_skipped(tmp_path):
    absent = np.array([False, True, False, True, False, False])
    seq = _square_sequence(tmp_path, absent=absent)
    seq.boxes[5] = (np.nan, np.nan, np.nan, np.nan)
    seq.boxes[4, 2] = 0.0  # no area
    ds = PairDataset([seq], frame_range=100, pairs_per_epoch=60, color=0.0)
    used = {int(ds[i]["template_frame"]) for i in range(len(ds))} | {int(ds[i]["search_frame"]) for i in range(len(ds))}
    assert used == {0, 2}
    # frame_range excludes far partners
    with pytest.raises(ValueError, match="no training pair"):
        PairDataset([seq], frame_range=1)


def test_no_valid_pairs_raises(tmp_path):
    seq = _square_sequence(tmp_path, n=2)
    seq.boxes[1] = np.nan
    with pytest.raises(ValueError, match="no training pair can be made"):
        PairDataset([seq])


def test_deterministic_across_workers_and_epochs(tmp_path):
    generate_synthetic(tmp_path, "S-MNIST", "train", num_sequences=2, num_frames=8, progress=False)
    ds = PairDataset(tmp_path / "train", 63, 127, 9, 8, pairs_per_epoch=12, seed=4)
    assert ds.num_usable_sequences == 2

    def run(workers):
        loader = DataLoader(ds, batch_size=4, num_workers=workers, shuffle=False)
        return [b for b in loader]

    ds.set_epoch(0)
    a, b = run(0), run(2)
    for x, y in zip(a, b):
        for k in x:
            assert torch.equal(x[k], y[k]), k
    ds.set_epoch(1)
    c = run(0)
    assert not all(torch.equal(x["search"], y["search"]) for x, y in zip(a, c))
    ds.set_epoch(0)
    assert torch.equal(ds[3]["search"], a[0]["search"][3])
    # other seed, other pairs
    other = PairDataset(tmp_path / "train", 63, 127, 9, 8, pairs_per_epoch=12, seed=5)
    assert not torch.equal(other[3]["search"], ds[3]["search"])


def test_colour_jitter_changes_pixels_only_a_little(tmp_path):
    seq = _square_sequence(tmp_path)
    plain = PairDataset([seq], color=0.0, pairs_per_epoch=5, seed=2)
    jitter = PairDataset([seq], color=0.05, pairs_per_epoch=5, seed=2)
    for i in range(5):
        p, j = plain[i]["search"].float(), jitter[i]["search"].float()
        assert (p - j).abs().mean() < 20
        torch.testing.assert_close(plain[i]["shift"], jitter[i]["shift"])


def _reference_jitter(image, b, c, s):
    """Plain step-by-step brightness, contrast (around the mean grey), saturation, in float (no hue)."""
    luma = np.array([0.299, 0.587, 0.114])
    img = image.astype(np.float64) * b
    mean_grey = (img @ luma).mean()
    img = (img - mean_grey) * c + mean_grey
    grey = (img @ luma)[..., None]
    img = grey + (img - grey) * s
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def test_fast_colour_jitter_matches_reference():
    from sesiam_lib.data.pairs import color_jitter

    img = np.random.default_rng(0).integers(0, 256, (31, 37, 3), dtype=np.uint8)
    for seed in range(5):
        b, c, s = 1.0 + np.random.default_rng(seed).uniform(-0.3, 0.3, 3)
        fast = color_jitter(img, _FixedRng([b, c, s], 0.0), 1.0)  # the affine fast path, no hue rotation
        assert np.abs(fast.astype(int) - _reference_jitter(img, b, c, s).astype(int)).max() <= 1
    # a hue rotation moves colours but keeps grey pixels grey
    grey = np.full((4, 4, 3), 90, np.uint8)
    assert (color_jitter(grey, _FixedRng([1.0, 1.0, 1.0], 0.2), 1.0) == grey).all()


class _FixedRng:
    """Stands in for a Generator: uniform() returns preset factors (minus 1) then the hue."""

    def __init__(self, factors, hue):
        self.values = [np.asarray(factors, float) - 1.0, hue]

    def uniform(self, low, high, size=None):
        return self.values.pop(0)


def test_fast_mean_colour_matches_core_channel_mean():
    from sesiam_lib.core.crop import channel_mean
    from sesiam_lib.data.pairs import _mean_colour

    for shape in ((5, 7, 3), (192, 191, 3), (480, 640, 3)):
        img = np.random.default_rng(len(shape)).integers(0, 256, shape, dtype=np.uint8)
        np.testing.assert_allclose(_mean_colour(img), channel_mean(img), rtol=0, atol=1e-9)

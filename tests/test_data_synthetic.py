"""Synthetic T-MNIST / S-MNIST generator: determinism, scale statistics, layout, resumability."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from sesiam_lib.data import generate_synthetic, load_got10k, synthetic_benchmark

SMALL = dict(num_sequences=2, num_frames=12, progress=False)


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_identical_bytes(tmp_path):
    generate_synthetic(tmp_path / "a", "S-MNIST", "train", seed=3, **SMALL)
    generate_synthetic(tmp_path / "b", "S-MNIST", "train", seed=3, **SMALL)
    da, db = _tree_digest(tmp_path / "a"), _tree_digest(tmp_path / "b")
    assert len(da) == 2 * (12 + 6) + 3  # per sequence: frames + 6 files; per split: list, params, stats
    assert da == db


def test_different_seed_gives_different_data(tmp_path):
    generate_synthetic(tmp_path / "a", "S-MNIST", "train", seed=0, **SMALL)
    generate_synthetic(tmp_path / "b", "S-MNIST", "train", seed=1, **SMALL)
    da, db = _tree_digest(tmp_path / "a"), _tree_digest(tmp_path / "b")
    assert da.keys() == db.keys()
    differing = [k for k in da if k.endswith(".jpg") and da[k] != db[k]]
    assert len(differing) == 24
    ga = (tmp_path / "a/train/S-MNIST_train_0001/groundtruth.txt").read_text()
    gb = (tmp_path / "b/train/S-MNIST_train_0001/groundtruth.txt").read_text()
    assert ga != gb


def test_splits_and_kinds_differ(tmp_path):
    tr = generate_synthetic(tmp_path / "s", "S-MNIST", "train", **SMALL)
    te = generate_synthetic(tmp_path / "s", "S-MNIST", "test", **SMALL)
    assert not np.array_equal(tr[0].boxes, te[0].boxes)
    assert tr[0].name == "S-MNIST_train_0001" and te[0].name == "S-MNIST_test_0001"


def test_s_mnist_scale_change_at_least_2(tmp_path):
    seqs = generate_synthetic(tmp_path, "S-MNIST", "val", num_sequences=3, num_frames=30, seed=5, progress=False)
    for seq in seqs:
        sides = np.sqrt(seq.boxes[:, 2] * seq.boxes[:, 3])
        ratio = sides.max() / sides.min()
        assert ratio >= 2.0, (seq.name, ratio)
        assert seq.attributes["scale_change"] == pytest.approx(ratio, rel=1e-5)
        assert isinstance(seq.attributes["scale_change"], float)
        assert 0 < seq.attributes["mean_rel_change"] < 0.2
        longer = np.maximum(seq.boxes[:, 2], seq.boxes[:, 3])
        assert longer.min() >= 16 - 2 and longer.max() <= 64 + 2  # size range (longer stroke-box side)
    stats = json.loads((tmp_path / "val" / "scale_stats.json").read_text())
    assert set(stats) == {s.name for s in seqs}
    ini = (tmp_path / "val" / seqs[0].name / "meta_info.ini").read_text()
    assert ini.startswith("[METAINFO]\n") and "scale_change: " in ini


def test_t_mnist_keeps_one_size(tmp_path):
    seqs = generate_synthetic(tmp_path, "T-MNIST", "train", num_sequences=3, num_frames=30, seed=2, progress=False)
    for seq in seqs:
        w, h = seq.boxes[:, 2], seq.boxes[:, 3]
        # the rendered scale is constant; the stroke box only moves by pixel rounding
        assert w.max() - w.min() <= 2 and h.max() - h.min() <= 2, seq.name
        assert seq.attributes["nominal_ratio"] == pytest.approx(1.0)
        assert seq.attributes["scale_change"] < 1.25


def test_layout_readable_like_the_got10k_toolkit(tmp_path):
    seqs = generate_synthetic(tmp_path, "S-MNIST", "train", **SMALL)
    split = tmp_path / "train"
    names = (split / "list.txt").read_text().strip().split("\n")
    assert names == [s.name for s in seqs]
    for name in names:
        d = split / name
        imgs = sorted(d.glob("*.jpg"))
        assert [p.name for p in imgs] == [f"{i:08d}.jpg" for i in range(1, 13)]
        anno = np.loadtxt(d / "groundtruth.txt", delimiter=",")  # what the toolkit does
        assert anno.shape == (12, 4)
        meta = (d / "meta_info.ini").read_text().strip().split("\n")[1:]
        meta = dict(line.split(": ") for line in meta)  # the toolkit's own parsing
        assert meta["kind"] == "S-MNIST"
        for label in ("cover", "absence", "cut_by_image"):
            assert np.loadtxt(d / f"{label}.label").shape == (12,)
    seq = seqs[0]
    img = seq.image(0)
    assert img.shape == (192, 192, 3) and img.dtype == np.uint8
    # boxes inside the frame, cover consistent with absence
    assert (seq.boxes[:, :2] >= 0).all() and (seq.boxes[:, :2] + seq.boxes[:, 2:] <= 192).all()
    assert np.array_equal(seq.absent, seq.cover == 0)
    assert seq.cover.min() >= 0 and seq.cover.max() <= 8


def test_ground_truth_is_the_stroke_box(tmp_path):
    """The target's box frames bright strokes: its border rows/columns hold target-coloured ink."""
    seqs = generate_synthetic(tmp_path, "T-MNIST", "train", num_sequences=1, num_frames=3, seed=7,
                              num_distractors=0, progress=False)
    seq = seqs[0]
    img = seq.image(0).astype(np.float64)
    x, y, w, h = seq.boxes[0].astype(int)
    inside = img[y : y + h, x : x + w].max(axis=2)
    background = np.median(img.max(axis=2))
    assert inside[0].max() > background + 40 and inside[-1].max() > background + 40
    assert inside[:, 0].max() > background + 40 and inside[:, -1].max() > background + 40


def test_resumable_and_idempotent(tmp_path):
    generate_synthetic(tmp_path, "T-MNIST", "train", **SMALL)
    before = _tree_digest(tmp_path)
    victim = tmp_path / "train" / "T-MNIST_train_0002"
    for p in victim.iterdir():
        p.unlink()
    victim.rmdir()
    (tmp_path / "train" / ".tmp-T-MNIST_train_0002-999").mkdir()  # an interrupted run's leftover
    first = tmp_path / "train" / "T-MNIST_train_0001" / "00000001.jpg"
    mtime = first.stat().st_mtime_ns
    generate_synthetic(tmp_path, "T-MNIST", "train", **SMALL)
    assert _tree_digest(tmp_path) == before
    assert first.stat().st_mtime_ns == mtime  # complete sequences are skipped
    assert not list((tmp_path / "train").glob(".tmp-*"))


def test_other_parameters_refuse_to_mix(tmp_path):
    generate_synthetic(tmp_path, "T-MNIST", "train", **SMALL)
    with pytest.raises(ValueError, match="other parameters"):
        generate_synthetic(tmp_path, "T-MNIST", "train", **{**SMALL, "num_frames": 13})
    seqs = generate_synthetic(tmp_path, "T-MNIST", "train", overwrite=True, **{**SMALL, "num_frames": 13})
    assert len(seqs[0]) == 13


def test_synthetic_benchmark_all_splits(tmp_path):
    out = synthetic_benchmark(tmp_path, "T-MNIST", counts={"train": 2, "val": 1, "test": 1}, num_frames=5,
                              progress=False)
    assert {k: len(v) for k, v in out.items()} == {"train": 2, "val": 1, "test": 1}
    again = load_got10k(tmp_path, "test")
    assert np.array_equal(again[0].boxes, out["test"][0].boxes)
    assert np.isfinite(again[0].boxes).all()  # the synthetic test split is fully annotated


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="kind"):
        generate_synthetic(tmp_path, "R-MNIST", "train", **SMALL)
    with pytest.raises(ValueError, match="split"):
        generate_synthetic(tmp_path, "T-MNIST", "dev", **SMALL)


def test_digit_env_override_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("SESIAM_DIGITS", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="SESIAM_DIGITS"):
        generate_synthetic(tmp_path / "x", "T-MNIST", "train", **SMALL)

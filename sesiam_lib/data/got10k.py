"""GOT-10k layout loader (also the layout of the synthetic T-MNIST / S-MNIST benchmark).

Layout: ``root/<split>/list.txt`` (sequence names), ``root/<split>/<name>/00000001.jpg ...``,
``groundtruth.txt`` (comma separated ``x, y, w, h``), optional ``absence.label``, ``cover.label``,
``cut_by_image.label``, ``meta_info.ini`` and (synthetic sets) ``scale_stats.json``.

Boxes are read **as written**: the GOT-10k toolkit scores predictions against the file values unchanged and the
released trackers feed them to their 0-based crop code unchanged, so no offset is applied (the synthetic
benchmark writes 0-based boxes). The test split of the real GOT-10k only annotates frame 1: the other frames
get NaN boxes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..core.sequence import Sequence
from ._parse import (
    AnnotationError,
    check_contiguous,
    first_box_only,
    list_images,
    read_int_labels,
    read_rows,
    read_sequence_list,
    read_text,
)

__all__ = ["load_got10k", "load_got10k_sequence", "read_meta_info"]


def read_meta_info(path: str | os.PathLike) -> dict:
    """``meta_info.ini`` (a ``[METAINFO]`` header, then ``key: value`` lines) -> dict of strings."""
    meta = {}
    for line in read_text(path, "meta_info.ini").splitlines():
        line = line.strip()
        if not line or line.startswith("[") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        meta[key.strip()] = value.strip()
    return meta


def _label(seq_dir: Path, name: str, n: int):
    path = seq_dir / f"{name}.label"
    if not path.is_file():
        return None
    values = read_int_labels(path)
    if len(values) != n:
        raise AnnotationError(f"{path}: {len(values)} lines but the sequence has {n} frames")
    return values


def load_got10k_sequence(seq_dir: str | os.PathLike, name: str | None = None, first_frame_only_ok: bool = False):
    """One GOT-10k-layout sequence folder -> :class:`Sequence`."""
    seq_dir = Path(seq_dir)
    name = name or seq_dir.name
    if not seq_dir.is_dir():
        raise AnnotationError(f"{seq_dir}: sequence folder not found")
    images = list_images(seq_dir)
    if not images:
        raise AnnotationError(f"{seq_dir}: no images")
    frames = check_contiguous(images, images[0][0], images[-1][0], seq_dir)
    gt_path = seq_dir / "groundtruth.txt"
    boxes = read_rows(gt_path, widths=(4,))
    n = len(frames)
    if len(boxes) != n:
        if first_frame_only_ok and len(boxes) == 1:
            boxes = first_box_only(boxes, n)
        else:
            raise AnnotationError(
                f"{gt_path}: {len(boxes)} annotation lines but {n} images in {seq_dir} "
                "(annotation and image counts disagree)"
            )
    absent = _label(seq_dir, "absence", n)
    cover = _label(seq_dir, "cover", n)
    cut = _label(seq_dir, "cut_by_image", n)
    attributes: dict = {}
    if (seq_dir / "meta_info.ini").is_file():
        attributes["meta"] = read_meta_info(seq_dir / "meta_info.ini")
    if cut is not None:
        attributes["cut_by_image"] = cut.astype(bool)
    stats_path = seq_dir / "scale_stats.json"
    if stats_path.is_file():
        try:
            attributes.update(json.loads(read_text(stats_path, "scale_stats.json")))
        except json.JSONDecodeError as exc:
            raise AnnotationError(f"{stats_path}:{exc.lineno}: malformed JSON ({exc.msg})") from None
    return Sequence(
        name=name,
        frames=frames,
        boxes=boxes,
        absent=None if absent is None else absent.astype(bool),
        cover=cover,
        attributes=attributes,
    )


def load_got10k(root: str | os.PathLike, split: str | None = "train", missing: list | None = None) -> list[Sequence]:
    """Every sequence of ``root/<split>/list.txt`` (``split=None``: ``root`` is the split folder itself).

    ``missing``: a list to append the names of listed sequences whose folder (or ``groundtruth.txt``) is absent;
    they are then skipped instead of raising :class:`AnnotationError`."""
    split_dir = Path(root) if split is None else Path(root) / split
    list_file = split_dir / "list.txt"
    if not list_file.is_file():
        root_dir = split_dir.parent if split is not None else split_dir
        splits = sorted(p.name for p in root_dir.iterdir() if (p / "list.txt").is_file()) if root_dir.is_dir() else []
        hint = f"; splits found under {root_dir}: {', '.join(splits)}" if splits and split is not None else ""
        raise AnnotationError(f"{list_file}: list.txt not found (is {split_dir} a GOT-10k-layout split?){hint}")
    names = read_sequence_list(list_file, check_folders=missing is None)
    first_only = (split or split_dir.name) == "test"
    if missing is not None:
        absent = [n for n in names if not (split_dir / n / "groundtruth.txt").is_file()]
        missing.extend(absent)
        names = [n for n in names if n not in absent]
    return [load_got10k_sequence(split_dir / n, n, first_frame_only_ok=first_only) for n in names]

"""Temple-Color-128 (TC128) loader (Liang, Blasch and Ling, TIP 2015).

Layout (the official ``Temple-color-128.zip``): ``root/<seq>/img/0001.jpg ...``, ``root/<seq>/<seq>_gt.txt``
(1-based ``x, y, w, h``, comma separated, one line per frame of the range) and ``root/<seq>/<seq>_frames.txt``
(one line ``first,last``: the image numbers the sequence uses, inclusive).

Quirks handled:

- **frame ranges**: only images ``first..last`` of ``img/`` are the sequence (several folders hold more
  images, and some ranges do not start at 1); the annotation has exactly ``last - first + 1`` lines;
- the annotation and range files are found as ``*_gt.txt`` / ``*_frames.txt`` in the folder (as the got10k
  toolkit does), because a few are not named exactly after the folder; more than one raises;
- separators: commas, tabs or spaces (any mix).

Sequences are the sub-folders holding ``img/``, sorted by name (128 in the full benchmark; pysot and pytracking
have no TC128 loader, the got10k toolkit's ``TColor128`` reads this layout). Boxes are converted to 0-based
(x - 1, y - 1) as for OTB (TC128 uses the OTB toolkit). The archive carries no per-sequence attribute files that
this loader reads (``attributes["tags"]`` is empty).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.boxes import otb_to_xywh
from ..core.sequence import Sequence
from ._parse import AnnotationError, check_contiguous, list_images, read_rows

__all__ = ["load_tc128"]


def _one(seq_dir: Path, suffix: str, what: str) -> Path:
    exact = seq_dir / f"{seq_dir.name}{suffix}"
    if exact.is_file():
        return exact
    found = sorted(seq_dir.glob(f"*{suffix}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise AnnotationError(f"{exact}: {what} not found")
    raise AnnotationError(f"{seq_dir}: several {what}s ({', '.join(p.name for p in found)}); keep one")


def _load_sequence(seq_dir: Path) -> Sequence:
    gt_path = _one(seq_dir, "_gt.txt", "TC128 annotation file")
    range_path = _one(seq_dir, "_frames.txt", "TC128 frame-range file")
    rng = read_rows(range_path, widths=(2,))
    if len(rng) != 1 or not (rng[0] == rng[0].round()).all() or rng[0, 0] < 0 or rng[0, 1] < rng[0, 0]:
        raise AnnotationError(f"{range_path}:1: expected one line 'first,last' (image numbers, first <= last), got "
                              f"{rng.tolist()}")
    first, last = int(rng[0, 0]), int(rng[0, 1])
    frames = check_contiguous(list_images(seq_dir / "img"), first, last, seq_dir / "img")
    rows = read_rows(gt_path, widths=(4,))
    if len(rows) != len(frames):
        raise AnnotationError(f"{gt_path}: {len(rows)} annotation lines, but {range_path.name} selects frames "
                              f"{first}..{last} ({len(frames)} frames)")
    return Sequence(name=seq_dir.name, frames=frames, boxes=otb_to_xywh(rows),
                    attributes={"tags": [], "folder": str(seq_dir), "annotation": str(gt_path),
                                "start_frame": first, "end_frame": last, "benchmark": "TC128"})


def load_tc128(root: str | os.PathLike) -> list[Sequence]:
    """Every TC128 sequence under ``root`` (sub-folders with ``img/``), sorted by name.

    Raises:
        AnnotationError: naming the file (and line): a missing annotation / range file or image, a malformed
            line, or an annotation whose length is not the range's.
    """
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(f"{root}: TC128 root folder not found")
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and (p / "img").is_dir())
    if not dirs:
        raise AnnotationError(f"{root}: no TC128 sequence (<seq>/img/ with <seq>_gt.txt) found")
    return [_load_sequence(d) for d in dirs]

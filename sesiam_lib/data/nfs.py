"""Need for Speed (NfS) loader (Kiani Galoogahi et al., ICCV 2017), 30 fps or 240 fps, in the raw archive layout.

Layout (one zip per sequence, extracted): ``root/<seq>/30/<seq>/00001.jpg ...`` and ``root/<seq>/30/<seq>.txt``
(the 30 fps frames), ``root/<seq>/240/<seq>/...`` and ``root/<seq>/240/<seq>.txt`` (240 fps). The annotation
file is the labelling tool's own format, one line per annotated frame, space separated::

    track_id xmin ymin xmax ymax frame lost occluded generated "label"

e.g. ``1 328 120 386 172 0 0 0 0 "person"``. Boxes are ``xmin, ymin, xmax, ymax``: ``w = xmax - xmin``,
``h = ymax - ymin``; ``lost`` (column 7) marks frames without the target (-> ``Sequence.absent``), ``occluded``
(column 8) partial occlusion (-> ``attributes["occluded"]``).

Quirks, handled with the got10k toolkit's rule (``got10k/datasets/nfs.py``):

- many ``30/<seq>.txt`` files hold the **240 fps annotations** (about 8 lines per 30 fps image): when the line
  count is within 1 of 8 times the image count, every 8th line is used (``anno[0::8]``);
- then a difference of **one** line between annotations and images is resolved by dropping the extra image or
  line at the end (``attributes["trimmed"]`` records it); any other mismatch raises naming the file.

Sequences are the folders holding ``<fps>/<name>.txt``, sorted by name (100 in the full benchmark). Boxes are
converted with x - 1, y - 1 as for OTB, so that one-pass result files (written 1-based) are in the annotation
file's pixel frame. NfS defines no per-sequence attribute tags in its archives (pytracking's re-annotated copy
has only an occlusion flag per sequence), so ``attributes["tags"]`` is empty.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import numpy as np

from ..core.boxes import otb_to_xywh
from ..core.sequence import Sequence
from ._parse import AnnotationError, list_images, read_text

__all__ = ["load_nfs", "read_nfs_annotation"]


def read_nfs_annotation(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """An NfS annotation file -> ``{"boxes": (N, 4) x, y, w, h as written, "frame": (N,), "lost": bool (N,),
    "occluded": bool (N,)}``; a malformed line raises :class:`AnnotationError` naming the file and line."""
    path = Path(path)
    boxes, frame, lost, occluded = [], [], [], []
    for lineno, line in enumerate(read_text(path, "NfS annotation file").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            tokens = shlex.split(line)
        except ValueError:
            tokens = line.split()
        try:
            values = [float(t) for t in tokens[:9]]
        except ValueError:
            values = []
        if len(values) < 8:
            raise AnnotationError(f"{path}:{lineno}: expected 'track_id xmin ymin xmax ymax frame lost occluded "
                                  f"generated label', got {line.strip()!r}")
        _, x1, y1, x2, y2, f, lo, oc = values[:8]
        boxes.append([x1, y1, x2 - x1, y2 - y1])
        frame.append(int(f))
        lost.append(lo != 0)
        occluded.append(oc != 0)
    if not boxes:
        raise AnnotationError(f"{path}: annotation file is empty")
    return {"boxes": np.asarray(boxes, dtype=np.float64), "frame": np.asarray(frame, dtype=np.int64),
            "lost": np.asarray(lost, dtype=bool), "occluded": np.asarray(occluded, dtype=bool)}


def _load_sequence(anno_path: Path, fps: int) -> Sequence:
    name = anno_path.stem
    img_dir = anno_path.parent / name
    images = [p for _, p in list_images(img_dir)]
    if not images:
        raise AnnotationError(f"{img_dir}: no images")
    ann = read_nfs_annotation(anno_path)
    n_img, n_ann = len(images), len(ann["boxes"])
    stride = 1
    if n_ann != n_img and abs(n_ann / n_img - 8) < 1:
        stride = 8  # 240 fps annotations beside 30 fps frames
        ann = {k: v[0::8] for k, v in ann.items()}
        n_ann = len(ann["boxes"])
    trimmed = 0
    if n_ann != n_img:
        if abs(n_ann - n_img) > 1:
            raise AnnotationError(
                f"{anno_path}: {n_ann} annotations{' (every 8th line)' if stride == 8 else ''} but {n_img} images "
                f"in {img_dir} (annotation and image counts disagree)")
        trimmed = abs(n_ann - n_img)
        n = min(n_ann, n_img)
        images = images[:n]
        ann = {k: v[:n] for k, v in ann.items()}
    return Sequence(
        name=name,
        frames=images,
        boxes=otb_to_xywh(ann["boxes"]),
        absent=ann["lost"],
        attributes={"tags": [], "fps": fps, "folder": str(img_dir), "annotation": str(anno_path),
                    "annotation_stride": stride, "trimmed": trimmed, "occluded": ann["occluded"],
                    "benchmark": f"NfS{fps}"},
    )


def load_nfs(root: str | os.PathLike, fps: int = 30, missing: list | None = None) -> list[Sequence]:
    """Every NfS sequence under ``root`` at ``fps`` (30 or 240), sorted by name; see the module docstring.

    ``missing``: a list to append the names of sequence folders without a ``<fps>/`` folder (they are skipped;
    e.g. only the 30 fps part extracted); without it such a folder raises.

    Raises:
        AnnotationError: naming the file (and line): no sequence found, a sequence folder without its
            ``<fps>/<name>.txt`` or image folder, a malformed line, or counts that the quirk rules cannot align.
    """
    root = Path(root)
    if fps not in (30, 240):
        raise ValueError(f"load_nfs: fps must be 30 or 240, got {fps!r}")
    if not root.is_dir():
        raise AnnotationError(f"{root}: NfS root folder not found")
    out = []
    for seq_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        anno = seq_dir / str(fps) / f"{seq_dir.name}.txt"
        if missing is not None and not (seq_dir / str(fps)).is_dir():
            missing.append(seq_dir.name)
            continue
        if not anno.is_file():
            others = sorted((seq_dir / str(fps)).glob("*.txt")) if (seq_dir / str(fps)).is_dir() else []
            if len(others) == 1:  # a folder renamed after extraction: the file names the sequence
                anno = others[0]
            else:
                raise AnnotationError(f"{anno}: NfS annotation file not found (expected <seq>/{fps}/<seq>.txt "
                                      f"beside the image folder <seq>/{fps}/<seq>/)")
        out.append(_load_sequence(anno, fps))
    if not out:
        raise AnnotationError(f"{root}: no NfS sequence (<seq>/{fps}/<seq>.txt) found")
    return out

"""OTB-2013 / OTB-2015 loader with every known quirk of the benchmark.

Layout: ``root/<Folder>/img/NNNN.jpg`` and ``root/<Folder>/groundtruth_rect[.k].txt`` (1-based ``x, y, w, h``;
commas, tabs, spaces or a mix). Boxes are converted to the library's 0-based convention (x - 1, y - 1).

Quirks handled (frame numbers are the image file numbers, inclusive):

- David 300-770, Football1 1-74, Freeman3 1-460, Freeman4 1-283, Diving 1-215: only those frames are used
  (the image folder holds more); the annotation file covers exactly those frames.
- BlurCar1 247-988, BlurCar3 3-359, BlurCar4 18-397: the image files start at that number.
- Tiger1: the official start frame is 6: frames 6.. are used, with annotation lines 6.. (the file annotates
  every frame from 1).
- Board: 5-digit image names (any width is accepted: names are parsed as numbers).
- Jogging, Skating2: two targets (``groundtruth_rect.1.txt`` / ``.2.txt``) -> sequences ``Jogging.1``,
  ``Jogging.2``, ``Skating2.1``, ``Skating2.2`` (the GOT-10k toolkit's names). Folders already split as
  ``Jogging-1`` / ``Jogging.1`` (other distributions) are accepted too.
- Human4: only target 2 counts (``groundtruth_rect.2.txt``; the ``.1`` file is empty); the sequence is named
  ``Human4``, as the GOT-10k toolkit names it.
- Folder names are matched case-insensitively (``BasketBall`` / ``Basketball``).

OTB-2013 = 51 sequences (50 folders, Jogging twice); OTB-2015 (OTB-100) = 100 (98 folders, Jogging and
Skating2 twice). Sequence lists: the GOT-10k toolkit (``got10k/datasets/otb.py``). Attribute tags (IV, SV,
OCC, DEF, MB, FM, IPR, OPR, OV, BC, LR) come from ``<Folder>/attrs.txt`` when present, else from the table
below, transcribed from the OTB authors' own list (``tb_100.txt`` / ``cvpr13.txt`` in the tracker_benchmark
repository; the two agree on every shared sequence).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..core.boxes import otb_to_xywh
from ..core.sequence import Sequence
from ._parse import AnnotationError, check_contiguous, list_images, read_rows, read_text

__all__ = ["OTB2013_FOLDERS", "OTB2015_FOLDERS", "OTB_ATTRIBUTES", "OTB_FRAME_RANGES", "load_otb", "otb_names"]

OTB2013_FOLDERS = (
    "Basketball", "Bolt", "Boy", "Car4", "CarDark", "CarScale", "Coke", "Couple", "Crossing", "David",
    "David2", "David3", "Deer", "Dog1", "Doll", "Dudek", "FaceOcc1", "FaceOcc2", "Fish", "FleetFace",
    "Football", "Football1", "Freeman1", "Freeman3", "Freeman4", "Girl", "Ironman", "Jogging", "Jumping",
    "Lemming", "Liquor", "Matrix", "Mhyang", "MotorRolling", "MountainBike", "Shaking", "Singer1", "Singer2",
    "Skating1", "Skiing", "Soccer", "Subway", "Suv", "Sylvester", "Tiger1", "Tiger2", "Trellis", "Walking",
    "Walking2", "Woman",
)  # fmt: skip

TB50_FOLDERS = (
    "Basketball", "Biker", "Bird1", "BlurBody", "BlurCar2", "BlurFace", "BlurOwl", "Bolt", "Box", "Car1",
    "Car4", "CarDark", "CarScale", "ClifBar", "Couple", "Crowds", "David", "Deer", "Diving", "DragonBaby",
    "Dudek", "Football", "Freeman4", "Girl", "Human3", "Human4", "Human6", "Human9", "Ironman", "Jump",
    "Jumping", "Liquor", "Matrix", "MotorRolling", "Panda", "RedTeam", "Shaking", "Singer2", "Skating1",
    "Skating2", "Skiing", "Soccer", "Surfer", "Sylvester", "Tiger2", "Trellis", "Walking", "Walking2", "Woman",
)  # fmt: skip

OTB2015_FOLDERS = (
    "Bird2", "BlurCar1", "BlurCar3", "BlurCar4", "Board", "Bolt2", "Boy", "Car2", "Car24", "Coke", "Coupon",
    "Crossing", "Dancer", "Dancer2", "David2", "David3", "Dog", "Dog1", "Doll", "FaceOcc1", "FaceOcc2", "Fish",
    "FleetFace", "Football1", "Freeman1", "Freeman3", "Girl2", "Gym", "Human2", "Human5", "Human7", "Human8",
    "Jogging", "KiteSurf", "Lemming", "Man", "Mhyang", "MountainBike", "Rubik", "Singer1", "Skater",
    "Skater2", "Subway", "Suv", "Tiger1", "Toy", "Trans", "Twinnings", "Vase",
) + TB50_FOLDERS  # fmt: skip

#: folders with several annotated targets: folder -> annotation file index per target
MULTI_TARGET = {"Jogging": (1, 2), "Skating2": (1, 2)}
#: folders where only some targets count: folder -> (index, sequence name)
SINGLE_OF_MANY = {"Human4": (2, "Human4")}

#: frame ranges (first, last image number, inclusive; None = the folder's last image) and the image number
#: that the annotation file's first line belongs to
OTB_FRAME_RANGES = {
    "David": (300, 770, 300),
    "Football1": (1, 74, 1),
    "Freeman3": (1, 460, 1),
    "Freeman4": (1, 283, 1),
    "Diving": (1, 215, 1),
    "BlurCar1": (247, 988, 247),
    "BlurCar3": (3, 359, 3),
    "BlurCar4": (18, 397, 18),
    "Tiger1": (6, None, 1),
}

_ATTR_TABLE = """
Basketball IV OCC DEF OPR BC|Biker SV OCC MB FM OPR OV LR|Bird1 DEF FM OV|Bird2 OCC DEF FM IPR OPR
BlurBody SV DEF MB FM IPR|BlurCar1 MB FM|BlurCar2 SV MB FM|BlurCar3 MB FM|BlurCar4 MB FM|BlurFace MB FM IPR
BlurOwl SV MB FM IPR|Board SV MB FM OPR OV BC|Bolt OCC DEF IPR OPR|Bolt2 DEF BC
Box IV SV OCC MB IPR OPR OV BC LR|Boy SV MB FM IPR OPR|Car1 IV SV MB FM BC LR|Car2 IV SV MB FM BC
Car24 IV SV BC|Car4 IV SV|CarDark IV BC|CarScale SV OCC FM IPR OPR|ClifBar SV OCC MB FM IPR OV BC
Coke IV OCC FM IPR OPR BC|Couple SV DEF FM OPR BC|Coupon OCC BC|Crossing SV DEF FM OPR BC|Crowds IV DEF BC
Dancer SV DEF IPR OPR|Dancer2 DEF|David IV SV OCC DEF MB IPR OPR|David2 IPR OPR|David3 OCC DEF OPR BC
Deer MB FM IPR BC LR|Diving SV DEF IPR|Dog SV DEF OPR|Dog1 SV IPR OPR|Doll IV SV OCC IPR OPR
DragonBaby SV OCC MB FM IPR OPR OV|Dudek SV OCC DEF FM IPR OPR OV BC|FaceOcc1 OCC|FaceOcc2 IV OCC IPR OPR
Fish IV|FleetFace SV DEF MB FM IPR OPR|Football OCC IPR OPR BC|Football1 IPR OPR BC|Freeman1 SV IPR OPR
Freeman3 SV IPR OPR|Freeman4 SV OCC IPR OPR|Girl SV OCC IPR OPR|Girl2 SV OCC DEF MB OPR|Gym SV DEF IPR OPR
Human2 IV SV MB OPR|Human3 SV OCC DEF OPR BC|Human4 IV SV OCC DEF|Human5 SV OCC DEF|Human6 SV OCC DEF FM OPR OV
Human7 IV SV OCC DEF MB FM|Human8 IV SV DEF|Human9 IV SV DEF MB FM|Ironman IV SV OCC MB FM IPR OPR OV BC LR
Jogging.1 OCC DEF OPR|Jogging.2 OCC DEF OPR|Jump SV OCC DEF MB FM IPR OPR|Jumping MB FM|KiteSurf IV OCC IPR OPR
Lemming IV SV OCC FM OPR OV|Liquor IV SV OCC MB FM OPR OV BC|Man IV|Matrix IV SV OCC FM IPR OPR BC
Mhyang IV DEF OPR BC|MotorRolling IV SV MB FM IPR BC LR|MountainBike IPR OPR BC|Panda SV OCC DEF IPR OPR OV LR
RedTeam SV OCC IPR OPR LR|Rubik SV OCC IPR OPR|Shaking IV SV IPR OPR BC|Singer1 IV SV OCC OPR
Singer2 IV DEF IPR OPR BC|Skater SV DEF IPR OPR|Skater2 SV DEF FM IPR OPR|Skating1 IV SV OCC DEF OPR BC
Skating2.1 SV OCC DEF FM OPR|Skating2.2 SV OCC DEF FM OPR|Skiing IV SV DEF IPR OPR|Soccer IV SV OCC MB FM IPR OPR BC
Subway OCC DEF BC|Surfer SV FM IPR OPR LR|Suv OCC IPR OV|Sylvester IV IPR OPR|Tiger1 IV OCC DEF MB FM IPR OPR
Tiger2 IV OCC DEF MB FM IPR OPR OV|Toy SV FM IPR OPR|Trans IV SV OCC DEF|Trellis IV SV IPR OPR BC|Twinnings SV OPR
Vase SV FM IPR|Walking SV OCC DEF|Walking2 SV OCC LR|Woman IV SV OCC DEF MB FM OPR
"""
#: OTB attribute tags per sequence name (100 OTB-2015 sequences; OTB-2013's are the same)
OTB_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    entry.split()[0]: tuple(entry.split()[1:])
    for entry in _ATTR_TABLE.replace("\n", "|").split("|")
    if entry.strip()
}

_VERSIONS = {
    "otb2013": OTB2013_FOLDERS, "2013": OTB2013_FOLDERS, "cvpr13": OTB2013_FOLDERS,
    "otb2015": OTB2015_FOLDERS, "2015": OTB2015_FOLDERS, "otb100": OTB2015_FOLDERS, "tb100": OTB2015_FOLDERS,
    "otb50": TB50_FOLDERS, "tb50": TB50_FOLDERS,
}  # fmt: skip


def _folders_for(version) -> tuple[str, ...]:
    key = str(version).lower().replace("-", "").replace("_", "")
    if key not in _VERSIONS:
        raise ValueError(f"load_otb: unknown version {version!r} (use 'OTB2013', 'OTB2015', 'TB50' or None)")
    return _VERSIONS[key]


def _targets(folder: str) -> list[tuple[str, int | None]]:
    """(sequence name, annotation index or None for groundtruth_rect.txt) of one official folder."""
    if folder in MULTI_TARGET:
        return [(f"{folder}.{k}", k) for k in MULTI_TARGET[folder]]
    if folder in SINGLE_OF_MANY:
        k, name = SINGLE_OF_MANY[folder]
        return [(name, k)]
    return [(folder, None)]


def otb_names(version) -> list[str]:
    """Sequence names of an OTB version, in the toolkit's folder order (two-target folders expanded)."""
    return [name for folder in _folders_for(version) for name, _ in _targets(folder)]


def _dir_index(root: Path) -> dict[str, Path]:
    return {p.name.lower(): p for p in root.iterdir() if p.is_dir()} if root.is_dir() else {}


def _resolve(root_index: dict[str, Path], folder: str, name: str, k: int | None):
    """Find (sequence folder, annotation file) for one target, or None."""
    candidates = []
    main = root_index.get(folder.lower())
    if k is not None:
        if main is not None:
            candidates.append((main, main / f"groundtruth_rect.{k}.txt"))
        for alias in (f"{folder}-{k}", f"{folder}.{k}", f"{folder}_{k}"):
            if alias.lower() in root_index:
                d = root_index[alias.lower()]
                candidates.append((d, d / "groundtruth_rect.txt"))
        if main is not None and folder in SINGLE_OF_MANY:
            candidates.append((main, main / "groundtruth_rect.txt"))
    elif main is not None:
        candidates.append((main, main / "groundtruth_rect.txt"))
    for seq_dir, anno in candidates:
        if anno.is_file() and anno.stat().st_size > 0 and read_text(anno).strip():
            return seq_dir, anno
    return None


def _tags(seq_dir: Path, name: str) -> list[str]:
    attrs = seq_dir / "attrs.txt"
    if attrs.is_file():
        return [t.strip() for t in read_text(attrs, "attribute file").replace("\n", ",").split(",") if t.strip()]
    return list(OTB_ATTRIBUTES.get(name, ()))


def _load_target(seq_dir: Path, anno: Path, name: str, folder_key: str, version: str | None) -> Sequence:
    images = list_images(seq_dir / "img")
    if not images:
        raise AnnotationError(f"{seq_dir / 'img'}: no images")
    rows = read_rows(anno, widths=(4,))
    quirk = next((v for k, v in OTB_FRAME_RANGES.items() if k.lower() == folder_key.lower()), None)
    if quirk is not None:
        first, last, gt_first = quirk
        last = images[-1][0] if last is None else last
        frames = check_contiguous(images, first, last, seq_dir / "img")
        n = len(frames)
        offset = first - gt_first
        if len(rows) == n:
            offset = 0  # an annotation file already cut to the range
        if len(rows) < offset + n:
            raise AnnotationError(
                f"{anno}: {len(rows)} annotation lines, but frames {first}..{last} need lines "
                f"{offset + 1}..{offset + n} (annotation and image counts disagree)"
            )
        rows = rows[offset : offset + n]
        start_frame = first
    else:
        first, last = images[0][0], images[-1][0]
        frames = check_contiguous(images, first, last, seq_dir / "img")
        if len(rows) != len(frames):
            raise AnnotationError(
                f"{anno}: {len(rows)} annotation lines but {len(frames)} images in {seq_dir / 'img'} "
                f"(frames {first}..{last}; annotation and image counts disagree)"
            )
        start_frame = first
    return Sequence(
        name=name,
        frames=frames,
        boxes=otb_to_xywh(rows),
        attributes={
            "tags": _tags(seq_dir, name),
            "folder": str(seq_dir),
            "annotation": str(anno),
            "start_frame": int(start_frame),
            "benchmark": version or "OTB-layout",
        },
    )


def load_otb(root: str | os.PathLike, version: str | int | None = "OTB2015",
             missing: list | None = None) -> list[Sequence]:
    """Load an OTB benchmark (or, with ``version=None``, every OTB-layout folder under ``root``).

    Args:
        root: folder holding one sub-folder per OTB sequence.
        version: ``"OTB2013"`` (51 sequences), ``"OTB2015"`` (100), ``"TB50"`` (50), or ``None``: every
            sub-folder with ``img/`` and a non-empty ``groundtruth*.txt`` (custom benchmarks; a folder with
            several such files gives ``<folder>.<k>`` sequences; known OTB quirks still apply by folder name).

    Returns:
        Sequences in the official order, boxes 0-based ``(x, y, w, h)``; ``attributes["tags"]`` holds the OTB
        attribute tags.

    Raises:
        AnnotationError (a ``ValueError``) naming every missing sequence (unless ``missing`` is a list: then
        the missing sequence names are appended to it and the sequences present are returned), or the file and
        line of bad input.
    """
    root = Path(root)
    if not root.is_dir():
        raise AnnotationError(f"{root}: OTB root folder not found")
    index = _dir_index(root)
    if version is None:
        return _load_custom(root)
    folders = _folders_for(version)
    label = {OTB2013_FOLDERS: "OTB2013", OTB2015_FOLDERS: "OTB2015", TB50_FOLDERS: "TB50"}[folders]
    found, absent = [], []
    for folder in folders:
        for name, k in _targets(folder):
            hit = _resolve(index, folder, name, k)
            if hit is None:
                absent.append(name)
            else:
                found.append((folder, name, *hit))
    if absent and missing is not None:
        missing.extend(absent)  # the caller lists them (dry runs: sesiam_lib.pipeline.experiment.load_benchmark)
    elif absent:
        raise AnnotationError(
            f"{root}: {label} is missing {len(absent)} of {len(found) + len(absent)} sequences "
            f"(folder with img/ and groundtruth_rect*.txt not found): {', '.join(absent)}"
        )
    return [_load_target(seq_dir, anno, name, folder, label) for folder, name, seq_dir, anno in found]


def _load_custom(root: Path) -> list[Sequence]:
    out = []
    for seq_dir in sorted(p for p in root.iterdir() if p.is_dir() and (p / "img").is_dir()):
        annos = sorted(
            a for a in seq_dir.glob("groundtruth*.txt") if a.is_file() and read_text(a).strip()
        )
        if not annos:
            continue
        for anno in annos:
            name = seq_dir.name if len(annos) == 1 else f"{seq_dir.name}.{anno.name.split('.')[-2]}"
            out.append(_load_target(seq_dir, anno, name, seq_dir.name, None))
    if not out:
        raise AnnotationError(f"{root}: no OTB-layout sequence (<folder>/img/ + groundtruth*.txt) found")
    return out

"""UAV123 / UAV20L loader (Mueller, Smith and Ghanem, ECCV 2016), with the benchmark's frame-range table.

Layout (the official archive): ``root/data_seq/UAV123/<folder>/000001.jpg ...`` (6-digit names, one folder per
recording), ``root/anno/UAV123/<seq>.txt`` and ``root/anno/UAV20L/<seq>.txt`` (comma separated 1-based
``x, y, w, h``, one line per frame of the sequence), optional ``root/anno/UAV123/att/<seq>.txt`` (12 comma
separated 0/1 attribute flags).

Quirks handled:

- UAV123's 123 sequences are **frame ranges of 91 shared folders**: ``bird1_1``, ``bird1_2``, ``bird1_3`` are frames
  1-253, 775-1477 and 1573-2437 of ``data_seq/UAV123/bird1`` (the gaps are frames the authors left out), and
  ranges may share a frame (``car1_1`` ends and ``car1_2`` starts on frame 751). The ranges are the official
  configuration (the MATLAB toolkit's ``configSeqs.m``), transcribed below from pytracking
  (``pytracking/evaluation/uavdataset.py``); the got10k toolkit's ``uav123.json`` has the same 123 ranges.
- ``NaN,NaN,NaN,NaN`` rows mark frames where the target is absent (fully occluded or out of view): the box stays
  NaN and ``Sequence.absent`` is true there. ``evaluate_otb``'s default (``invalid_gt="otb"``) keeps such frames
  in the denominator, failures on the success curve and successes on the precision curves, as the MATLAB
  toolkit, pysot and pytracking (``dataset='uav'``) do; the got10k toolkit's ``ExperimentUAV123`` drops them
  instead, which is ``invalid_gt="exclude"`` (both checked in ``tests/test_evaluation_toolkits.py``).
- UAV20L: the 20 long sequences, each a whole folder (frames 1..N) of ``data_seq/UAV123``, annotated in
  ``anno/UAV20L``.
- The 10 fps variant (``UAV123_10fps``, other ranges) is not covered.

Boxes are 1-based in the files and converted to the library's 0-based convention (x - 1, y - 1), as for OTB (the
benchmark's MATLAB toolkit is OTB's; one-pass result files, written 1-based, are then in the ground-truth file's
frame, which is what pysot and pytracking compare them with).

Attribute tags (``attributes["tags"]``; SV ARC LR FM FOC POC OV BC IV VC CM SOB) come from
``anno/UAV123/att/<seq>.txt`` when present, else from the table (pytracking's ``UAV123_attributes.json``); UAV20L
sequences carry none. ``attributes["object_class"]`` is pytracking's class name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..core.boxes import otb_to_xywh
from ..core.sequence import Sequence
from ._parse import AnnotationError, check_contiguous, list_images, read_rows, read_text

__all__ = ["UAV123_ATTRIBUTE_NAMES", "UAV123_SEQUENCES", "UAV20L_SEQUENCES", "load_uav123"]

#: attribute tags in the order of the flags of ``anno/UAV123/att/<seq>.txt``
UAV123_ATTRIBUTE_NAMES = ("SV", "ARC", "LR", "FM", "FOC", "POC", "OV", "BC", "IV", "VC", "CM", "SOB")

# name, folder ("=": the name), first frame, last frame, attribute flags, object class
_UAV123_TABLE = """
bike1 = 1 3085 110100001111 vehicle | bike2 = 1 553 111011011000 vehicle | bike3 = 1 433 101001000000 vehicle
bird1_1 bird1 1 253 111111100000 bird | bird1_2 bird1 775 1477 111111100000 bird
bird1_3 bird1 1573 2437 111111100010 bird | boat1 = 1 901 100000000000 vessel | boat2 = 1 799 100000000000 vessel
boat3 = 1 901 110000000100 vessel | boat4 = 1 553 110000001100 vessel | boat5 = 1 505 110000000100 vessel
boat6 = 1 805 100000000000 vessel | boat7 = 1 535 110100000110 vessel | boat8 = 1 685 111000000100 vessel
boat9 = 1 1399 111001000100 vessel | building1 = 1 469 000000000000 other | building2 = 1 577 100000000000 other
building3 = 1 829 100000000001 other | building4 = 1 787 000000000000 other | building5 = 1 481 000000000010 other
car1_1 car1 1 751 100000000011 car | car1_2 car1 751 1627 111011000111 car
car1_3 car1 1627 2629 110011100101 car | car10 = 1 1405 100001000001 car | car11 = 1 337 101011000111 car
car12 = 1 499 111011000101 car | car13 = 1 415 101000000010 car | car14 = 1 1327 111011100110 car
car15 = 1 469 111001000001 car | car16_1 car16 1 415 101101100110 car | car16_2 car16 415 1993 110100000110 car
car17 = 1 1057 111000000110 car | car18 = 1 1207 110100000110 car | car1_s = 1 1475 110101101110 car
car2 = 1 1321 111011100011 car | car2_s = 1 320 100101001110 car | car3 = 1 1717 101001100011 car
car3_s = 1 1300 100101001110 car | car4 = 1 1345 111001000011 car | car4_s = 1 830 110100001110 car
car5 = 1 745 100000000000 car | car6_1 car6 1 487 100000000000 car | car6_2 car6 487 1807 110001100110 car
car6_3 car6 1807 2953 110000001101 car | car6_4 car6 2953 3925 100000001111 car
car6_5 car6 3925 4861 110001100110 car | car7 = 1 1033 110011000101 car | car8_1 car8 1 1357 110001100111 car
car8_2 car8 1357 2575 100000001001 car | car9 = 1 1879 111101000011 car
group1_1 group1 1 1333 100001000001 person | group1_2 group1 1333 2515 100001000001 person
group1_3 group1 2515 3925 111001000111 person | group1_4 group1 3925 4873 110001001111 person
group2_1 group2 1 907 110011010111 person | group2_2 group2 907 1771 100011000111 person
group2_3 group2 1771 2683 111011011111 person | group3_1 group3 1 1567 111001000001 person
group3_2 group3 1567 2827 111011011011 person | group3_3 group3 2827 4369 110001010011 person
group3_4 group3 4369 5527 111011011011 person | person1 = 1 799 000000000010 person
person10 = 1 1021 100011100111 person | person11 = 1 721 110001000101 person
person12_1 person12 1 601 000000011110 person | person12_2 person12 601 1621 110011001010 person
person13 = 1 883 000001011100 person | person14_1 person14 1 847 111011010010 person
person14_2 person14 847 1813 000000010010 person | person14_3 person14 1813 2923 000001110110 person
person15 = 1 1339 100001000001 person | person16 = 1 1147 110011011010 person
person17_1 person17 1 1501 110011001000 person | person17_2 person17 1501 2347 110001011010 person
person18 = 1 1393 110001100110 person | person19_1 person19 1 1243 110111100010 person
person19_2 person19 1243 2791 110111100010 person | person19_3 person19 2791 4357 111111100111 person
person1_s = 1 1600 100101001110 person | person2_1 person2 1 1189 000000000010 person
person2_2 person2 1189 2623 000001100010 person | person20 = 1 1783 110001100111 person
person21 = 1 487 111001011101 person | person22 = 1 199 101000000100 person | person23 = 1 397 100100000010 person
person2_s = 1 250 000000000000 person | person3 = 1 643 100000000010 person
person3_s = 1 505 110101101010 person | person4_1 person4 1 1501 100001100011 person
person4_2 person4 1501 2743 100000000010 person | person5_1 person5 1 877 100000000100 person
person5_2 person5 877 2101 000000000100 person | person6 = 1 901 000000000110 person
person7_1 person7 1 1249 110111100110 person | person7_2 person7 1249 2065 110101100110 person
person8_1 person8 1 1075 110111100010 person | person8_2 person8 1075 1525 110001100000 person
person9 = 1 661 110011100111 person | truck1 = 1 463 110001000100 truck | truck2 = 1 385 111001000000 truck
truck3 = 1 535 001001010000 truck | truck4_1 truck4 1 577 101001000000 truck
truck4_2 truck4 577 1261 101001000100 truck | uav1_1 uav1 1 1555 111011111110 aircraft
uav1_2 uav1 1555 2377 111011111100 aircraft | uav1_3 uav1 2473 3469 111111111110 aircraft
uav2 = 1 133 101011000000 aircraft | uav3 = 1 265 101100000010 aircraft | uav4 = 1 157 101000000001 aircraft
uav5 = 1 139 101000010000 aircraft | uav6 = 1 109 101111000011 aircraft | uav7 = 1 373 101011010000 aircraft
uav8 = 1 301 101000011000 aircraft | wakeboard1 = 1 421 110000001000 person
wakeboard10 = 1 469 101000000000 person | wakeboard2 = 1 733 110100000110 person
wakeboard3 = 1 823 111000000110 person | wakeboard4 = 1 697 110000000100 person
wakeboard5 = 1 1675 111101001110 person | wakeboard6 = 1 1165 111100001110 person
wakeboard7 = 1 199 110000000100 person | wakeboard8 = 1 1543 111000001110 person
wakeboard9 = 1 355 101000000010 person
"""

# name, last frame (UAV20L: folder = name, first frame 1)
_UAV20L_TABLE = """
bike1 3085 bird1 2437 car1 2629 car3 1717 car6 4861 car8 2575 car9 1879 car16 1993 group1 4873 group2 2683
group3 5527 person2 2623 person4 2743 person5 2101 person7 2065 person14 2923 person17 2347 person19 4357
person20 1783 uav1 3469
"""


def _parse_uav123(table: str) -> dict[str, dict]:
    out = {}
    for entry in table.replace("\n", " | ").split(" | "):
        if not entry.strip():
            continue
        name, folder, first, last, bits, cls = entry.split()
        out[name] = {"folder": name if folder == "=" else folder, "first": int(first), "last": int(last),
                     "tags": tuple(t for t, b in zip(UAV123_ATTRIBUTE_NAMES, bits) if b == "1"),
                     "object_class": cls.replace("_", " ")}
    return out


def _parse_uav20l(table: str) -> dict[str, dict]:
    tokens = table.split()
    return {name: {"folder": name, "first": 1, "last": int(last), "tags": (), "object_class": None}
            for name, last in zip(tokens[0::2], tokens[1::2])}


#: UAV123: sequence -> {"folder", "first", "last" (image numbers, inclusive), "tags", "object_class"}
UAV123_SEQUENCES: dict[str, dict] = _parse_uav123(_UAV123_TABLE)
#: UAV20L: the 20 long sequences (whole folders)
UAV20L_SEQUENCES: dict[str, dict] = _parse_uav20l(_UAV20L_TABLE)

_SUBSETS = {"uav123": ("UAV123", UAV123_SEQUENCES), "uav20l": ("UAV20L", UAV20L_SEQUENCES)}


def _att_tags(path: Path) -> tuple[str, ...]:
    text = read_text(path, "attribute file").strip()
    flags = [t for t in text.replace("\n", ",").replace(" ", ",").split(",") if t.strip()]
    if len(flags) != len(UAV123_ATTRIBUTE_NAMES) or any(f not in ("0", "1") for f in flags):
        raise AnnotationError(f"{path}:1: expected {len(UAV123_ATTRIBUTE_NAMES)} comma separated 0/1 flags "
                              f"({' '.join(UAV123_ATTRIBUTE_NAMES)}), got {text[:80]!r}")
    return tuple(t for t, f in zip(UAV123_ATTRIBUTE_NAMES, flags) if f == "1")


def load_uav123(root: str | os.PathLike, subset: str = "UAV123", missing: list | None = None) -> list[Sequence]:
    """Load UAV123 (123 sequences) or UAV20L (20 long sequences) in the official order.

    Args:
        root: the folder holding ``data_seq/`` and ``anno/``.
        subset: ``"UAV123"`` or ``"UAV20L"`` (case-insensitive).
        missing: a list to append the names of sequences whose annotation file or image folder is absent
            (they are skipped); without it such a sequence raises.

    Returns:
        :class:`~sesiam_lib.core.sequence.Sequence` objects, boxes 0-based ``x, y, w, h`` (NaN where the
        target is absent), ``absent`` from the NaN rows, ``attributes``: ``tags``, ``object_class``,
        ``folder``, ``start_frame``, ``end_frame``, ``annotation``, ``benchmark``.

    Raises:
        AnnotationError: naming the file (and line) for a missing or malformed annotation, a missing image, or an
            annotation whose line count is not the frame range's length.
    """
    root = Path(root)
    key = str(subset).lower().replace("-", "").replace("_", "")
    if key not in _SUBSETS:
        raise ValueError(f"load_uav123: unknown subset {subset!r} (use 'UAV123' or 'UAV20L')")
    label, table = _SUBSETS[key]
    if not root.is_dir():
        raise AnnotationError(f"{root}: UAV123 root folder not found")
    anno_dir, data_dir = root / "anno" / label, root / "data_seq" / "UAV123"
    if not anno_dir.is_dir():
        raise AnnotationError(f"{anno_dir}: annotation folder not found (is {root} the UAV123 root, holding "
                              "anno/ and data_seq/?)")
    absent_names = [n for n, info in table.items()
                    if not (anno_dir / f"{n}.txt").is_file() or not (data_dir / info["folder"]).is_dir()]
    if absent_names and missing is None:
        first = absent_names[0]
        what = (anno_dir / f"{first}.txt") if not (anno_dir / f"{first}.txt").is_file() \
            else data_dir / table[first]["folder"]
        raise AnnotationError(f"{what}: not found; {label} is missing {len(absent_names)} of {len(table)} "
                              f"sequences: {', '.join(absent_names[:10])}{' ...' if len(absent_names) > 10 else ''}")
    if missing is not None:
        missing.extend(absent_names)
    images_by_folder: dict[str, list] = {}
    out = []
    for name, info in table.items():
        if name in absent_names:
            continue
        folder = data_dir / info["folder"]
        if info["folder"] not in images_by_folder:
            images_by_folder[info["folder"]] = list_images(folder)
        frames = check_contiguous(images_by_folder[info["folder"]], info["first"], info["last"], folder)
        anno = anno_dir / f"{name}.txt"
        rows = read_rows(anno, widths=(4,))
        if len(rows) != len(frames):
            raise AnnotationError(
                f"{anno}: {len(rows)} annotation lines, but {label} sequence {name} is frames "
                f"{info['first']}..{info['last']} of {folder} ({len(frames)} frames)")
        absent = np.isnan(rows).any(1)  # the benchmark writes NaN,NaN,NaN,NaN
        att = anno_dir / "att" / f"{name}.txt"
        tags = _att_tags(att) if att.is_file() else info["tags"]
        out.append(Sequence(
            name=name,
            frames=frames,
            boxes=otb_to_xywh(rows),
            absent=absent,
            attributes={"tags": list(tags), "object_class": info["object_class"], "folder": str(folder),
                        "start_frame": info["first"], "end_frame": info["last"], "annotation": str(anno),
                        "benchmark": label},
        ))
    return out

"""LaSOT loader (Fan et al., CVPR 2019): the 280-sequence test set (protocol II) or the training sequences.

Layout (the official archives): ``root/<class>/<class>-<n>/img/00000001.jpg ...`` (8-digit names),
``groundtruth.txt`` (comma separated 1-based ``x, y, w, h``, one line per frame), ``full_occlusion.txt`` and
``out_of_view.txt`` (one 0/1 flag per frame, comma separated on one line), ``nlp.txt`` (a sentence describing the
target). A root holding the sequence folders directly (``root/<class>-<n>/``) is accepted too.

- ``split="test"``: the 280 test sequences of protocol II, in the order of the list below (pytracking's
  ``pytracking/evaluation/lasotdataset.py``; the got10k toolkit's ``lasot.json`` ``test`` list holds the same 280).
- ``split="train"``: every ``<class>/<class>-<n>`` folder under ``root`` that is not a test sequence (the 1120
  training sequences when the whole dataset is there), sorted by class and number.
- Frames: ``img/00000001.jpg`` .. one per annotation line (extra images in the folder are ignored, as
  pytracking does); a missing image raises naming it.
- ``Sequence.absent`` = ``full_occlusion | out_of_view`` (pytracking's ``target_visible`` negated). The LaSOT
  protocol (pytracking ``extract_results`` for ``lasot``, pysot ``OPEBenchmark`` with ``video.absent``) keeps
  these frames in the denominator and counts them as **failures on every curve** (success, precision and
  normalised precision); it does not exclude them: evaluate with
  ``sesiam_lib.evaluation.evaluate_otb(..., invalid_gt="lasot")`` (see :mod:`sesiam_lib.evaluation.otb`).
  Normalised precision (thresholds 0..0.5, score at 0.20) is ``CurveScores.norm_precision``.
- Boxes are 1-based in the files and converted to 0-based (x - 1, y - 1), as OTB (the LaSOT toolkit is OTB's
  MATLAB code): one-pass results written 1-based are then in the ground-truth file's frame, which pysot and
  pytracking compare them with.

Attribute tags (``attributes["tags"]``: IV POC DEF MB CM ROT BC VC SV FOC FM OV LR ARC) of the test sequences are
in the table below (pytracking's ``LaSOT_attributes.json``; the LaSOT toolkit ships them, they are not part of
the dataset archives); training sequences carry none. ``attributes["object_class"]`` is the class folder,
``attributes["nlp"]`` the text of ``nlp.txt`` when present.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..core.boxes import otb_to_xywh
from ..core.sequence import Sequence
from ._parse import AnnotationError, check_contiguous, list_images, read_rows, read_text

__all__ = ["LASOT_ATTRIBUTE_NAMES", "LASOT_TEST_SEQUENCES", "LASOT_ATTRIBUTES", "load_lasot", "read_flags"]

#: attribute tags, in the order of the flags below
LASOT_ATTRIBUTE_NAMES = ("IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC")

# test sequence:attribute flags
_LASOT_TEST_TABLE = """
airplane-1:01000100100010 airplane-9:11000100100011 airplane-13:01000100101011 airplane-15:10001100101111
basketball-1:00000010111010 basketball-6:01010000111111 basketball-7:01010000100101 basketball-11:11000000111011
bear-2:01101000100101 bear-4:01100100100001 bear-6:01111000100101 bear-17:01101000100001 bicycle-2:01100100110111
bicycle-7:11000010100001 bicycle-9:11000010110011 bicycle-18:11100100111011 bird-2:11001010110001
bird-3:01100000100101 bird-15:10101010100011 bird-17:01110010100001 boat-3:00001000100001 boat-4:00000000100001
boat-12:01000001100010 boat-17:00000000100001 book-3:01010100100001 book-10:00100000100000 book-11:01000000000000
book-19:01000100100001 bottle-1:00010100101101 bottle-12:01001010110011 bottle-14:01000010110011
bottle-18:00011000111111 bus-2:01001000100001 bus-5:10011010100000 bus-17:11011000100000 bus-19:01011010111011
car-2:11010010100000 car-6:10011010101000 car-9:11000010100000 car-17:11000010111011 cat-1:01111000100001
cat-3:00100010100001 cat-18:00101000110011 cat-20:00100010100001 cattle-2:01111010100111 cattle-7:00011010100000
cattle-12:00111000101111 cattle-13:01101010100011 spider-14:00100100100111 spider-16:10100100100011
spider-18:00100100100000 spider-20:00100100000011 coin-3:11000010110011 coin-6:11001110111011
coin-7:11000100111001 coin-18:01011010110011 crab-3:01111110100001 crab-6:00101010100001 crab-12:11001000100111
crab-18:00000110100000 surfboard-12:01000101110011 surfboard-4:01001100110111 surfboard-5:00000101100111
surfboard-8:01000100110111 cup-1:00011010100000 cup-4:00000010000000 cup-7:00001010000000 cup-17:01010100110001
deer-4:01111000100111 deer-8:01100001101111 deer-10:01100010110011 deer-14:01100000100001 dog-1:01111000111011
dog-7:00101100100001 dog-15:00101000100001 dog-19:01100010100111 guitar-3:10001100100001 guitar-8:01001100110111
guitar-10:11011010111011 guitar-16:01011100100001 person-1:11111000110001 person-5:11100010110001
person-10:11000101100001 person-12:01110010100011 pig-2:11101110100001 pig-10:01111100110001 pig-13:01111110110111
pig-18:01001110110011 rubicCube-1:01010110110001 rubicCube-6:01000000110011 rubicCube-14:01100100100001
rubicCube-19:01000110110011 swing-10:01000101110101 swing-14:01000100101111 swing-17:01000000111011
swing-20:01000100100001 drone-13:00011011111111 drone-15:10000110110111 drone-2:10011010100111
drone-7:10011000110111 pool-12:01011010111101 pool-15:00011011100111 pool-3:00011000101111 pool-7:00010000011011
rabbit-10:01111110100111 rabbit-13:00110100100011 rabbit-17:01111100110111 rabbit-19:00110101100011
racing-10:01000110110010 racing-15:01011110110000 racing-16:01001111110011 racing-20:01000101110011
robot-1:01011110110111 robot-19:01100110100011 robot-5:01010100110101 robot-8:00011101100000
sepia-13:01111110100001 sepia-16:10111100100101 sepia-6:00001100100001 sepia-8:00111110110111
sheep-3:01111110100111 sheep-5:01100010100001 sheep-7:00011000100000 sheep-9:00011111101011
skateboard-16:01010100100011 skateboard-19:10010101110011 skateboard-3:01001001100011 skateboard-8:01000001110011
tank-14:01000001100111 tank-16:00000100100001 tank-6:00100101100000 tank-9:01000100110011 tiger-12:01101000100001
tiger-18:00111100100001 tiger-4:01100110100001 tiger-6:01111110100001 train-1:00000101100001
train-11:00000001100011 train-20:01000000100001 train-7:01000001110011 truck-16:01011101110111
truck-3:00000001100001 truck-6:01001100100111 truck-7:00000101100011 turtle-16:10100101100111
turtle-5:00100001100011 turtle-8:01100110110001 turtle-9:00100110100001 umbrella-17:00010100100001
umbrella-19:01001110110001 umbrella-2:01000100100101 umbrella-9:01000110100011 yoyo-15:01011000100111
yoyo-17:01011000111111 yoyo-19:01010000111011 yoyo-7:01010000101111 zebra-10:01110110110001
zebra-14:01101100110011 zebra-16:01010110110011 zebra-17:01111100100111 elephant-1:11111010111101
elephant-12:01111010111101 elephant-16:11111010111111 elephant-18:01111010100001 goldfish-3:11100110111111
goldfish-7:11100110111011 goldfish-8:11100110100001 goldfish-10:01100110110111 hat-1:01010110111111
hat-2:01000100110011 hat-5:01000110111111 hat-18:01000100101011 kite-4:00000100100111 kite-6:00000100100111
kite-10:00000100100011 kite-15:00000100101111 motorcycle-1:01000100110001 motorcycle-3:01000100111111
motorcycle-9:01000100100001 motorcycle-18:01000100110111 mouse-1:00101100110011 mouse-8:00111100110111
mouse-9:00000100100111 mouse-17:01101100110011 flag-3:00100100100001 flag-9:00100100100101 flag-5:00100100110011
flag-2:00100100100001 frog-3:00100101100101 frog-4:01100110100000 frog-20:01100100100111 frog-9:11100100100000
gametarget-1:01100100100001 gametarget-2:01100100111011 gametarget-7:01100110110011 gametarget-13:00000110100010
hand-2:00100110100000 hand-3:00110110111111 hand-9:01100110101011 hand-16:00110000100001 helmet-5:01000110110111
helmet-11:01000100110111 helmet-19:00000110110111 helmet-13:00000101100111 licenseplate-6:00000000100010
licenseplate-12:01000000111111 licenseplate-13:00000000100010 licenseplate-15:00000001100111
electricfan-1:00011000100101 electricfan-10:00000100000000 electricfan-18:01011010110101
electricfan-20:01000000110111 chameleon-3:00100000100001 chameleon-6:10100010100001 chameleon-11:00111010100001
chameleon-20:01111000110000 crocodile-3:01111000110001 crocodile-4:01100000100001 crocodile-10:11110000110001
crocodile-14:01101000100000 gecko-1:10100101111111 gecko-5:00110110100111 gecko-16:01100111111101
gecko-19:01100100110001 fox-2:00100111100001 fox-3:11100100100111 fox-5:01100100100001 fox-20:01110100110101
giraffe-2:00100110100001 giraffe-10:01101100101101 giraffe-13:01100110111011 giraffe-15:01100100110101
gorilla-4:01100110110111 gorilla-6:11100100100001 gorilla-9:01100110110001 gorilla-13:11100110100101
hippo-1:01100100101001 hippo-7:01100100100101 hippo-9:01110100100111 hippo-20:00100100100001
horse-1:11100100110101 horse-4:01100100100001 horse-12:11100100100001 horse-15:01100100100001
kangaroo-2:01110100110001 kangaroo-5:01100110110001 kangaroo-11:01100100110111 kangaroo-14:01100100110001
leopard-1:11100100100101 leopard-7:01100100100001 leopard-16:01100100110101 leopard-20:01100100100101
lion-1:00100100100011 lion-5:01100100111111 lion-12:01100110110001 lion-20:01100100100001 lizard-1:00100100100001
lizard-3:01100101100101 lizard-6:01100100100101 lizard-13:01100100100101 microphone-2:01000100111111
microphone-6:00000110110110 microphone-14:00000100110011 microphone-16:01000100111101 monkey-3:01100110110111
monkey-4:01100100110111 monkey-9:01100100110111 monkey-17:00100100101101 shark-2:01010110100111
shark-3:01000110110001 shark-5:10000100100001 shark-6:01000100100001 squirrel-8:01110100100001
squirrel-11:01110010110001 squirrel-13:01111100110011 squirrel-19:01100100100001 volleyball-1:01010010110011
volleyball-13:01010000011111 volleyball-18:01010010111111 volleyball-19:01010000111111
"""

_ENTRIES = [e.split(":") for e in _LASOT_TEST_TABLE.split()]
#: the 280 test sequences (protocol II), in pytracking's order
LASOT_TEST_SEQUENCES: tuple[str, ...] = tuple(name for name, _ in _ENTRIES)
#: attribute tags of the test sequences
LASOT_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    name: tuple(t for t, b in zip(LASOT_ATTRIBUTE_NAMES, bits) if b == "1") for name, bits in _ENTRIES
}
_SEQ_NAME = re.compile(r"^(?P<cls>.+)-(?P<n>\d+)$")


def read_flags(path: str | os.PathLike, n: int) -> np.ndarray:
    """LaSOT ``full_occlusion.txt`` / ``out_of_view.txt``: ``n`` 0/1 flags, comma separated on one line (or one
    per line) -> ``bool (n,)``; a wrong count or value raises :class:`AnnotationError` naming the file."""
    path = Path(path)
    text = read_text(path, "flag file")
    flags = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        for token in (t.strip() for t in re.split(r"[,\s]+", line)):
            if not token:
                continue
            if token not in ("0", "1", "0.0", "1.0"):
                raise AnnotationError(f"{path}:{lineno}: expected 0/1 flags, got {token!r}")
            flags.append(token.startswith("1"))
    if len(flags) != n:
        raise AnnotationError(f"{path}: {len(flags)} flags but groundtruth.txt has {n} lines")
    return np.asarray(flags, dtype=bool)


def _seq_dir(root: Path, name: str) -> Path:
    cls = _SEQ_NAME.match(name).group("cls")
    nested = root / cls / name
    return nested if nested.is_dir() or not (root / name).is_dir() else root / name


def _load_sequence(seq_dir: Path, name: str) -> Sequence:
    gt_path = seq_dir / "groundtruth.txt"
    rows = read_rows(gt_path, widths=(4,))
    n = len(rows)
    frames = check_contiguous(list_images(seq_dir / "img"), 1, n, seq_dir / "img")
    absent = read_flags(seq_dir / "full_occlusion.txt", n) | read_flags(seq_dir / "out_of_view.txt", n)
    cls = _SEQ_NAME.match(name).group("cls")
    attributes = {"tags": list(LASOT_ATTRIBUTES.get(name, ())), "object_class": cls, "folder": str(seq_dir),
                  "annotation": str(gt_path), "benchmark": "LaSOT"}
    if (seq_dir / "nlp.txt").is_file():
        attributes["nlp"] = read_text(seq_dir / "nlp.txt", "nlp.txt").strip()
    return Sequence(name=name, frames=frames, boxes=otb_to_xywh(rows), absent=absent, attributes=attributes)


def _train_names(root: Path) -> list[str]:
    test = set(LASOT_TEST_SEQUENCES)
    found = []
    for cls_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for seq in cls_dir.iterdir():
            m = _SEQ_NAME.match(seq.name)
            if seq.is_dir() and m and m.group("cls") == cls_dir.name and seq.name not in test:
                found.append((cls_dir.name, int(m.group("n")), seq.name))
    return [name for _, _, name in sorted(found)]


def load_lasot(root: str | os.PathLike, split: str = "test", missing: list | None = None) -> list[Sequence]:
    """Load LaSOT's test (280 sequences) or training split; see the module docstring for layout and protocol.

    Args:
        root: the LaSOT folder (class folders inside, or the sequence folders directly).
        split: ``"test"`` or ``"train"``.
        missing: a list to append the names of test sequences whose folder is absent (they are skipped);
            without it a missing test sequence raises.

    Raises:
        AnnotationError: naming the file (and line) of a missing or malformed annotation, a missing image, or an
            occlusion / out-of-view file whose length differs from ``groundtruth.txt``.
    """
    root = Path(root)
    if split not in ("test", "train"):
        raise ValueError(f"load_lasot: split must be 'test' or 'train', got {split!r}")
    if not root.is_dir():
        raise AnnotationError(f"{root}: LaSOT root folder not found")
    if split == "train":
        names = _train_names(root)
        if not names:
            raise AnnotationError(f"{root}: no LaSOT training sequence (<class>/<class>-<n>/) found")
    else:
        names = list(LASOT_TEST_SEQUENCES)
        absent = [n for n in names if not _seq_dir(root, n).is_dir()]
        if absent and missing is None:
            raise AnnotationError(
                f"{_seq_dir(root, absent[0])}: sequence folder not found; LaSOT test is missing {len(absent)} of "
                f"{len(names)} sequences: {', '.join(absent[:10])}{' ...' if len(absent) > 10 else ''}")
        if missing is not None:
            missing.extend(absent)
        names = [n for n in names if n not in absent]
    return [_load_sequence(_seq_dir(root, n), n) for n in names]

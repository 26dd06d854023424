"""Reading benchmark result files and ground truth in the standard formats.

Formats (what other papers release, and what this project's runners write):

- **OTB** ``<tracker>/<seq>.txt``: one line per frame, ``x, y, w, h`` **1-based** (the OTB convention,
  FACTS §4); separators comma, tab or spaces, any mix, extra whitespace and blank lines allowed; ``NaN`` /
  ``nan`` accepted. :func:`read_otb_result` returns 0-based boxes (x, y minus 1).
- **VOT** ``<tracker>/baseline/<seq>/<seq>_NNN.txt`` (one file per run, ``_001``, ``_002`` ...): one line per
  frame, either a one-value code (``1`` initialisation, ``2`` failure, ``0`` skipped frame) or a region, 4
  values ``x, y, w, h`` or 8 values ``x1, y1, ..., x4, y4`` (comma separated; other separators accepted).
  VOT coordinates are **not shifted**: the VOT toolkit (and pysot, and the got10k toolkit) compare a result
  region directly with the ``groundtruth.txt`` region of the same frame, so a result file is in the same
  coordinate frame as the sequence's ground-truth file, whatever that frame is. The only place where the
  origin matters is the image-bounds clipping of the overlap, done on ``[0, W] x [0, H]`` (see
  :mod:`sesiam_lib.evaluation.overlap`). Runners must write regions in the ground-truth file's frame (for this
  project: ``Sequence.polygons`` / ``Sequence.boxes`` as loaded, without adding 1).
- **GOT-10k** ``<tracker>/<seq>/<seq>_NNN.txt`` (one file per run): comma separated ``x, y, w, h`` in the
  coordinate frame of the sequence's ``groundtruth.txt``: the got10k toolkit compares result boxes with the
  ground-truth values unchanged (and hands trackers the first box unchanged), and this project's loader
  (:mod:`sesiam_lib.data.got10k`) keeps ``groundtruth.txt`` as written, so :func:`read_got10k_result` applies
  **no shift** by default and :func:`write_got10k_result` writes boxes unshifted (``one_based=True`` reads a
  file written 1-based, e.g. with :func:`write_otb_result`). A one-pass result in the OTB layout
  ``<tracker>/<seq>.txt`` is OTB-convention (1-based) whatever the dataset.

- **Times** (seconds per frame, one per line): OTB layout ``<tracker>/times/<seq>_time.txt`` (the got10k
  toolkit's ``ExperimentOTB`` reads only there and reports speed -1 otherwise; this project's runners also keep
  ``<tracker>/<seq>_time.txt``), GOT-10k layout ``<tracker>/<seq>/<seq>_time.txt`` (``ExperimentGOT10k``), VOT
  ``baseline/<seq>/<seq>_001_time.value`` (the VOT Python toolkit's property name; never a ``.txt`` there:
  pysot's VOT loader takes any ``*0*.txt`` of the folder for a run file, and :func:`vot_run_files` only
  ``<seq>_NNN.txt``).

Lengths: a result file must have exactly one line per frame of the sequence (:func:`align_result`); files the
got10k toolkit wrote for OTB (one line per image of its own frame list, e.g. Tiger1 from frame 1 where
:func:`sesiam_lib.data.load_otb` starts at frame 6) are read with ``align="got10k"``.

Every reader raises :class:`ResultFileError` (a ``ValueError``) naming the file for a malformed line or a wrong
length and :class:`FileNotFoundError` naming the expected path for a missing file.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path

import numpy as np

__all__ = [
    "ResultFileError",
    "parse_numeric_lines",
    "check_empty_fields",
    "read_otb_result",
    "read_got10k_result",
    "read_vot_result",
    "read_vot_trajectory",
    "VotTrajectory",
    "find_result_file",
    "load_otb_results",
    "vot_run_files",
    "check_length",
    "ALIGN_MODES",
    "align_result",
    "got10k_otb_frames",
    "find_time_file",
    "read_times",
    "read_vot_groundtruth",
    "image_size",
    "write_otb_result",
    "write_got10k_result",
    "write_vot_result",
]

_SEP = re.compile(r"[,\t ;]+")


class ResultFileError(ValueError):
    """A result (or ground-truth) file that cannot be used; the message names the file."""


def _read_text(path: str | os.PathLike) -> str:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"result file not found: {path}")
    return path.read_text(encoding="utf-8", errors="replace")


_EMPTY_FIELD = re.compile(r"[,;][ \t]*[,;]|^[ \t]*[,;]", re.MULTILINE)


def check_empty_fields(text: str, source: str = "<text>") -> None:
    """Raise :class:`ResultFileError` naming ``source`` and the line for an empty field (``65,,113,47,50`` or a
    line starting with a separator): dropping it would silently shift the remaining values. A trailing separator
    at the end of a line is allowed."""
    match = _EMPTY_FIELD.search(text)
    while match is not None:
        end = text.find("\n", match.end())
        line_end = len(text) if end < 0 else end
        start = text.rfind("\n", 0, match.start()) + 1
        line = text[start:line_end]
        if line[match.end() - start:].strip(" \t\r,;"):  # a value follows: a real empty field
            lineno = text.count("\n", 0, match.start()) + 1
            raise ResultFileError(f"{source}: line {lineno}: empty field in {line.strip()!r} "
                                  "(two separators with no number between them)")
        match = _EMPTY_FIELD.search(text, line_end)


def parse_numeric_lines(text: str, source: str = "<text>") -> list[list[float]]:
    """Split ``text`` into non-blank lines of floats (separators: comma, tab, space, semicolon; any mix).

    Raises :class:`ResultFileError` naming ``source`` and the line number for a non-numeric token or an empty
    field (``1,,2``).
    """
    check_empty_fields(text, source)
    rows: list[list[float]] = []
    for lineno, line in enumerate(_SEP.sub(" ", text).splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            rows.append([float(t) for t in line.split(" ")])
        except ValueError as err:
            raise ResultFileError(f"{source}: line {lineno}: cannot parse {line!r} as numbers ({err})") from None
    return rows


def _parse_boxes_fast(text: str, source: str) -> np.ndarray:
    """(N, 4) float64 boxes from text; a fast path for well-formed files, a per-line path for errors."""
    check_empty_fields(text, source)
    lines = [ln for ln in (s.strip() for s in _SEP.sub(" ", text).splitlines()) if ln]
    if not lines:
        return np.zeros((0, 4))
    # after the substitution every separator run is one space: 3 spaces per line <=> 4 values per line
    if all(ln.count(" ") == 3 for ln in lines):
        try:
            return np.array(" ".join(lines).split(" "), dtype=np.float64).reshape(-1, 4)
        except ValueError:
            pass
    rows = parse_numeric_lines(text, source)
    for i, row in enumerate(rows):
        if len(row) != 4:
            numbered = [n for n, ln in enumerate(text.splitlines(), start=1) if ln.strip(" \t\r,;")]
            raise ResultFileError(f"{source}: line {numbered[i]}: box {i + 1} has {len(row)} values, expected 4 "
                                  "(x, y, w, h)")
    return np.asarray(rows, dtype=np.float64).reshape(-1, 4)


def read_otb_result(path: str | os.PathLike) -> np.ndarray:
    """Read an OTB result/ground-truth file (1-based ``x, y, w, h``) as 0-based ``float64 (N, 4)``."""
    boxes = _parse_boxes_fast(_read_text(path), str(path))
    boxes[:, :2] -= 1.0
    return boxes


def read_got10k_result(path: str | os.PathLike, one_based: bool = False) -> np.ndarray:
    """Read a GOT-10k result file (``x, y, w, h``, comma separated) as ``float64 (N, 4)``.

    By default the values are returned as written (the ground-truth file's frame, see the module docstring);
    ``one_based=True`` subtracts 1 from x, y (a file written in the OTB convention).
    """
    boxes = _parse_boxes_fast(_read_text(path), str(path))
    if one_based:
        boxes[:, :2] -= 1.0
    return boxes


class VotTrajectory:
    """A VOT trajectory stored flat: frame ``i`` holds ``values[offsets[i] : offsets[i] + sizes[i]]``.

    ``sizes[i]`` is 1 for a code (``0`` skip, ``1`` init, ``2`` failure), 4 for a box, 8+ for a polygon. Indexing
    gives the per-frame region array; ``len`` is the number of frames. Built by :func:`read_vot_trajectory` or
    :meth:`from_regions`; every VOT measure accepts it as well as a plain list of regions.
    """

    __slots__ = ("sizes", "values", "offsets")

    def __init__(self, sizes: np.ndarray, values: np.ndarray) -> None:
        self.sizes = np.asarray(sizes, dtype=np.int64)
        self.values = np.asarray(values, dtype=np.float64)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.int64)

    @classmethod
    def from_regions(cls, regions) -> "VotTrajectory":
        if isinstance(regions, VotTrajectory):
            return regions
        arrs = [np.asarray(r, dtype=np.float64).ravel() for r in regions]
        sizes = np.fromiter((a.size for a in arrs), dtype=np.int64, count=len(arrs))
        values = np.concatenate(arrs) if arrs else np.zeros(0)
        return cls(sizes, values)

    def __len__(self) -> int:
        return len(self.sizes)

    def __getitem__(self, i):
        if isinstance(i, slice):
            idx = range(*i.indices(len(self)))
            if idx.step != 1:
                return VotTrajectory.from_regions([self[k] for k in idx])
            sizes = self.sizes[i]
            if len(sizes) == 0:
                return VotTrajectory(sizes, np.zeros(0))
            start = int(self.offsets[idx[0]])
            return VotTrajectory(sizes, self.values[start : start + int(sizes.sum())])
        o = int(self.offsets[i])
        return self.values[o : o + int(self.sizes[i])]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def codes(self) -> np.ndarray:
        """``(N,)`` code per frame (0/1/2) and -1 on region frames."""
        first = self.values[self.offsets] if len(self) else np.zeros(0)
        return np.where(self.sizes == 1, first, -1.0)

    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices of box frames, (K, 4) boxes)``."""
        idx = np.flatnonzero(self.sizes == 4)
        return idx, self.values[self.offsets[idx][:, None] + np.arange(4)[None, :]]

    def to_list(self) -> list[np.ndarray]:
        return list(self)


def read_vot_trajectory(path: str | os.PathLike) -> VotTrajectory:
    """Read a VOT result file into a :class:`VotTrajectory` (vectorised parse; errors name the file)."""
    text = _read_text(path)
    check_empty_fields(text, str(path))
    lines = [ln for ln in (s.strip() for s in _SEP.sub(" ", text).splitlines()) if ln]
    sizes = np.fromiter((ln.count(" ") + 1 for ln in lines), dtype=np.int64, count=len(lines))
    try:
        values = np.array(" ".join(lines).split(" "), dtype=np.float64) if lines else np.zeros(0)
    except ValueError:
        parse_numeric_lines(text, str(path))  # raises with the line number
        raise
    traj = VotTrajectory(sizes, values)
    bad = np.flatnonzero((sizes != 1) & (sizes != 4) & ((sizes < 6) | (sizes % 2 == 1)))
    if len(bad):
        i = int(bad[0])
        raise ResultFileError(
            f"{path}: frame {i + 1} has {sizes[i]} values; expected a code (1 value), a box (4) or a polygon (8)"
        )
    codes = traj.codes()
    badc = np.flatnonzero((sizes == 1) & ~np.isin(codes, (0.0, 1.0, 2.0)))
    if len(badc):
        i = int(badc[0])
        raise ResultFileError(f"{path}: frame {i + 1}: unknown VOT code {codes[i]!r} (expected 0, 1 or 2)")
    return traj


def read_vot_result(path: str | os.PathLike) -> list[np.ndarray]:
    """Read a VOT result file: one ``float64`` array per frame, of length 1 (code), 4 (box) or 8+ (polygon).

    Codes: ``1`` = (re)initialisation, ``2`` = failure, ``0`` = skipped frame. Regions are returned as
    written (no coordinate shift, see the module docstring). :func:`read_vot_trajectory` gives the same data
    in a flat, faster form.
    """
    return read_vot_trajectory(path).to_list()


def check_length(n_result: int, n_gt: int, path: str | os.PathLike) -> None:
    """Raise :class:`ResultFileError` naming ``path`` when a result has fewer frames than the ground truth."""
    if n_result < n_gt:
        raise ResultFileError(
            f"{path}: {n_result} result lines but the ground truth has {n_gt} frames (result file is too short)"
        )


def _name_variants(name: str) -> list[str]:
    variants = [name]
    for a, b in (("-", "."), (".", "-"), ("-", "_"), ("_", "-"), (".", "_"), ("_", ".")):
        if a in name:
            variants.append(name.replace(a, b))
    return variants


def find_result_file(tracker_dir: str | os.PathLike, seq_name: str, suffix: str = ".txt") -> Path:
    """Locate ``<tracker_dir>/<seq_name><suffix>``, tolerating the naming differences of released results.

    Tried in order: the exact name; the name with ``-``/``.``/``_`` swapped (``Jogging-1`` vs ``Jogging.1``);
    the same case-insensitively. Raises :class:`FileNotFoundError` naming the exact expected path.
    """
    tracker_dir = Path(tracker_dir)
    expected = tracker_dir / f"{seq_name}{suffix}"
    for v in _name_variants(seq_name):
        p = tracker_dir / f"{v}{suffix}"
        if p.is_file():
            return p
    if tracker_dir.is_dir():
        lower = {p.name.lower(): p for p in tracker_dir.iterdir() if p.is_file()}
        for v in _name_variants(seq_name):
            p = lower.get(f"{v}{suffix}".lower())
            if p is not None:
                return p
    raise FileNotFoundError(f"result file not found: {expected}")


#: ``align`` values of :func:`align_result` / :func:`load_otb_results` / ``evaluate_otb``
ALIGN_MODES = (None, "exact", "got10k", "truncate")

#: the got10k toolkit's ``OTB.__getitem__`` cuts of the image list: folder (lower case) -> (first, last) index
#: of ``sorted(glob(img/*.jpg))``, Python slice ``[first:last]``
_GOT10K_OTB_CUTS = {"david": (299, 770), "football1": (0, 74), "freeman3": (0, 460), "freeman4": (0, 283),
                    "diving": (0, 215)}


def got10k_otb_frames(seq) -> list[str] | None:
    """The frames the got10k toolkit's ``OTB`` dataset gives sequence ``seq`` (``None`` if unknown).

    Its rule (``got10k/datasets/otb.py``): every ``<folder>/img/*.jpg`` sorted by name, cut only for David
    (``[299:770]``), Football1 (``[:74]``), Freeman3 (``[:460]``), Freeman4 (``[:283]``) and Diving (``[:215]``).
    It has no start-frame rule: Tiger1 keeps frames 1..5, which :func:`sesiam_lib.data.load_otb` drops (frames
    6.., ``attributes["start_frame"] == 6``), so a got10k-toolkit Tiger1 result has 5 lines more than ours.
    Needs ``seq.attributes["folder"]`` (set by :func:`~sesiam_lib.data.load_otb`).
    """
    import glob as _glob

    folder = (getattr(seq, "attributes", None) or {}).get("folder")
    if not folder or not (Path(folder) / "img").is_dir():
        return None
    files = sorted(_glob.glob(os.path.join(_glob.escape(str(Path(folder) / "img")), "*.jpg")))
    cut = _GOT10K_OTB_CUTS.get(Path(folder).name.lower())
    if cut is not None:
        files = files[cut[0]:cut[1]]
    return files


def align_result(boxes: np.ndarray, seq, path, align: str | None = None) -> np.ndarray:
    """The rows of a result file that belong to ``seq``'s frames, or :class:`ResultFileError` naming ``path``.

    Args:
        align: ``None`` / ``"exact"`` (default): the file must have exactly one line per frame of ``seq``;
            ``"got10k"``: the file has one line per frame of the got10k toolkit's frame list of the sequence
            (:func:`got10k_otb_frames`; e.g. Tiger1 from frame 1): exactly that many lines are required, and the
            lines of ``seq``'s frames are taken (lines 6.. for Tiger1); without ``seq.attributes["folder"]`` the
            file must match ``seq`` exactly; ``"truncate"``: the first ``len(seq)`` lines of a file at least that
            long (the old, permissive behaviour).
    """
    if align not in ALIGN_MODES:
        raise ValueError(f"align must be one of {ALIGN_MODES}, got {align!r}")
    n, m = len(seq.boxes), len(boxes)
    if align == "truncate":
        check_length(m, n, path)
        return boxes[:n]
    if align == "got10k":
        frames = got10k_otb_frames(seq)
        ours = [str(Path(f)) for f in seq.frames]
        if frames is not None and frames != ours:
            names = [str(Path(f)) for f in frames]
            try:
                offset = names.index(ours[0]) if ours else 0
            except ValueError:
                raise ResultFileError(f"{path}: align='got10k': the sequence's first frame {ours[0]} is not in the "
                                      f"got10k toolkit's frame list of {seq.attributes.get('folder')}") from None
            if names[offset:offset + n] != ours:
                raise ResultFileError(f"{path}: align='got10k': the sequence's frames are not a contiguous range of "
                                      f"the got10k toolkit's frame list of {seq.attributes.get('folder')}")
            if m != len(names):
                raise ResultFileError(
                    f"{path}: {m} result lines, but the got10k toolkit's frame list of {seq.name} has "
                    f"{len(names)} frames (align='got10k' expects one line per image of "
                    f"{Path(seq.attributes['folder']) / 'img'}, of which frames {offset + 1}..{offset + n} are "
                    f"the sequence's)")
            return boxes[offset:offset + n]
    if m != n:
        kind = "too short" if m < n else "too long"
        hint = ""
        if m > n:
            hint = ("; if it was written by the got10k toolkit (which scores every image of the folder, e.g. Tiger1 "
                    "from frame 1) pass align='got10k', or align='truncate' to use its first lines")
        raise ResultFileError(
            f"{path}: {m} result lines but the sequence {seq.name} has {n} frames (result file is {kind}){hint}")
    return boxes


def load_otb_results(results_dir: str | os.PathLike, sequences, trackers=None, *,
                     align: str | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Read every tracker's OTB-format results for ``sequences``: ``{tracker: {seq.name: 0-based [N, 4]}}``.

    ``trackers``: folder names under ``results_dir``; ``None`` = every sub-folder (sorted, hidden ones skipped).
    A file must have exactly one line per frame; ``align`` (:func:`align_result`): ``"got10k"`` reads files
    written by the got10k toolkit (its frame list, e.g. Tiger1 from frame 1), ``"truncate"`` cuts longer files.

    Raises:
        FileNotFoundError: the results folder, a tracker folder or a result file is missing (names the path).
        ResultFileError: a result file is malformed, shorter or longer than the sequence (names the file).
    """
    results_dir = Path(results_dir)
    sequences = list(sequences)
    if trackers is None:
        if not results_dir.is_dir():
            raise FileNotFoundError(f"results folder not found: {results_dir}")
        trackers = sorted(p.name for p in results_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    out: dict[str, dict[str, np.ndarray]] = {}
    for name in trackers:
        tracker_dir = results_dir / name
        if not tracker_dir.is_dir():
            raise FileNotFoundError(f"tracker results folder not found: {tracker_dir}")
        boxes_by_sequence = {}
        for seq in sequences:
            path = find_result_file(tracker_dir, seq.name)
            boxes_by_sequence[seq.name] = align_result(read_otb_result(path), seq, path, align)
        out[name] = boxes_by_sequence
    return out


def find_time_file(tracker_dir: str | os.PathLike, seq_name: str) -> Path | None:
    """The per-frame times of an OTB-layout result: ``<tracker_dir>/times/<seq>_time.txt`` (where the got10k
    toolkit's ``ExperimentOTB`` writes and reads them), else ``<tracker_dir>/<seq>_time.txt``; ``None`` if neither."""
    tracker_dir = Path(tracker_dir)
    for p in (tracker_dir / "times" / f"{seq_name}_time.txt", tracker_dir / f"{seq_name}_time.txt"):
        if p.is_file():
            return p
    return None


def read_times(path: str | os.PathLike) -> np.ndarray:
    """Seconds per frame (one value per line; comma separated runs allowed) as a flat ``float64`` array."""
    rows = parse_numeric_lines(_read_text(path), str(path))
    return np.asarray([v for r in rows for v in r], dtype=np.float64)


def vot_run_files(seq_dir: str | os.PathLike, seq_name: str) -> list[Path]:
    """The run files ``<seq_dir>/<seq_name>_NNN.txt`` (sorted); ``FileNotFoundError`` naming ``_001`` if none."""
    seq_dir = Path(seq_dir)
    pattern = os.path.join(glob.escape(str(seq_dir)), f"{glob.escape(seq_name)}_[0-9]*.txt")
    files = sorted(
        Path(p) for p in glob.glob(pattern) if re.fullmatch(rf"{re.escape(seq_name)}_\d+\.txt", Path(p).name)
    )
    if not files:
        raise FileNotFoundError(f"result file not found: {seq_dir / f'{seq_name}_001.txt'}")
    return files


def read_vot_groundtruth(path: str | os.PathLike) -> np.ndarray:
    """VOT ``groundtruth.txt``: ``(N, 8)`` polygons or ``(N, 4)`` boxes (comma separated), as written."""
    rows = parse_numeric_lines(_read_text(path), str(path))
    if not rows:
        raise ResultFileError(f"{path}: empty ground-truth file")
    n = len(rows[0])
    if n not in (4, 8) or any(len(r) != n for r in rows):
        raise ResultFileError(f"{path}: ground-truth lines must all hold 4 or all hold 8 values")
    return np.asarray(rows, dtype=np.float64)


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of an image file, reading only its header (PIL), cv2 as a fallback."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except ImportError:  # pragma: no cover - PIL is installed with matplotlib
        import cv2

        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise FileNotFoundError(f"cannot read image file {path}") from None
        return int(img.shape[1]), int(img.shape[0])


def _fmt_rows(rows: np.ndarray) -> list[str]:
    """Comma-separated ``%.4f`` lines; non-finite values written as ``NaN``."""
    if rows.size == 0:
        return []
    fmt = ",".join(["%.4f"] * rows.shape[1])
    lines = [fmt % tuple(r) for r in rows.tolist()]
    if not np.isfinite(rows).all():
        lines = [ln.replace("nan", "NaN").replace("inf", "NaN").replace("-NaN", "NaN") for ln in lines]
    return lines


def write_otb_result(path: str | os.PathLike, boxes) -> None:
    """Write 0-based ``(N, 4)`` boxes as an OTB result file (1-based, comma separated), atomically."""
    from ..core.io import atomic_write_text

    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, :2] += 1.0
    atomic_write_text(path, "".join(ln + "\n" for ln in _fmt_rows(b)))


def write_got10k_result(path: str | os.PathLike, boxes) -> None:
    """Write ``(N, 4)`` boxes as a GOT-10k result file: comma separated, **unshifted**, atomically."""
    from ..core.io import atomic_write_text

    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    atomic_write_text(path, "".join(ln + "\n" for ln in _fmt_rows(b)))


def write_vot_result(path: str | os.PathLike, regions) -> None:
    """Write a VOT result file from per-frame regions (codes as integers, regions unshifted), atomically."""
    from ..core.io import atomic_write_text

    lines = []
    for r in regions:
        r = np.asarray(r, dtype=np.float64).ravel()
        lines.append(f"{int(r[0])}" if r.size == 1 else _fmt_rows(r[None])[0])
    atomic_write_text(path, "\n".join(lines) + "\n")

"""Strict readers for annotation files: every error names the file and the line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

__all__ = ["AnnotationError", "read_text",
           "read_rows", "read_int_labels", "read_sequence_list", "list_images", "check_contiguous"]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")
_SPLIT = re.compile(r"[,\s]+")
_EMPTY_FIELD = re.compile(r"^,|,\s*,")


class AnnotationError(ValueError):
    """A malformed or inconsistent dataset file (the message names the file and, if any, the line)."""


def read_text(path: str | Path, what: str = "annotation file") -> str:
    """The text of ``path`` (UTF-8, BOM allowed); a missing or binary file raises :class:`AnnotationError`
    naming it (instead of a bare ``UnicodeDecodeError``)."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8-sig", errors="strict")
    except FileNotFoundError:
        raise AnnotationError(f"{path}: {what} not found") from None
    except IsADirectoryError:
        raise AnnotationError(f"{path}: {what} is a folder, not a file") from None
    except UnicodeDecodeError as exc:
        lineno = exc.object[: exc.start].count(b"\n") + 1
        raise AnnotationError(f"{path}:{lineno}: {what} is not UTF-8 text (undecodable byte "
                              f"0x{exc.object[exc.start]:02x} at byte {exc.start}); is the file corrupt?") from None


def _parse_float(token: str) -> float:
    value = float(token)  # accepts 'nan', 'NaN', 'inf'
    return value


def read_rows(path: str | Path, widths=(4,), allow_empty: bool = False) -> np.ndarray:
    """Numeric rows of a text file (separators: commas, tabs, spaces, mixed) -> float64 ``(N, k)``.

    Every non-blank line must hold one of ``widths`` values, and all lines the same number. Trailing blank
    lines are ignored; a blank line between annotated lines is an error (it would shift every later frame).
    """
    path = Path(path)
    text = read_text(path, "annotation file")
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows: list[list[float]] = []
    width = None
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip().strip(",")
        if not stripped:
            raise AnnotationError(f"{path}:{lineno}: blank line inside the annotations")
        if _EMPTY_FIELD.search(line.strip().rstrip(",")):
            raise AnnotationError(f"{path}:{lineno}: empty field in {line.strip()!r} "
                                  "(two commas with no number between them)")
        tokens = [t for t in _SPLIT.split(stripped) if t]
        try:
            values = [_parse_float(t) for t in tokens]
        except ValueError:
            raise AnnotationError(f"{path}:{lineno}: not a number in {line.strip()!r}") from None
        if len(values) not in widths:
            expect = " or ".join(str(w) for w in widths)
            raise AnnotationError(f"{path}:{lineno}: expected {expect} values, got {len(values)}: {line.strip()!r}")
        if width is None:
            width = len(values)
        elif len(values) != width:
            raise AnnotationError(
                f"{path}:{lineno}: {len(values)} values where earlier lines have {width}: {line.strip()!r}"
            )
        rows.append(values)
    if not rows:
        if allow_empty:
            return np.zeros((0, widths[0]))
        raise AnnotationError(f"{path}: annotation file is empty")
    return np.asarray(rows, dtype=np.float64)


def read_int_labels(path: str | Path) -> np.ndarray:
    """One integer per line (GOT-10k ``*.label``, VOT ``*.tag``) -> int64 ``(N,)``."""
    path = Path(path)
    lines = read_text(path, "label file").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    out = []
    for lineno, line in enumerate(lines, start=1):
        try:
            out.append(int(float(line.strip())))
        except ValueError:
            raise AnnotationError(f"{path}:{lineno}: expected one integer, got {line.strip()!r}") from None
    return np.asarray(out, dtype=np.int64)


def list_images(folder: str | Path) -> list[tuple[int, Path]]:
    """Image files of a folder as ``(frame number, path)`` sorted by number (names must be numeric)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AnnotationError(f"{folder}: image folder not found")
    out = []
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file():
            try:
                out.append((int(p.stem), p))
            except ValueError:
                raise AnnotationError(f"{p}: image name is not a frame number") from None
    out.sort()
    return out


def check_contiguous(images: list[tuple[int, Path]], first: int, last: int, folder: Path) -> list[Path]:
    """Paths of frames ``first..last`` (inclusive); a missing frame raises naming the expected file."""
    by_number = dict(images)
    if images:
        width = len(images[0][1].stem)
        ext = images[0][1].suffix
    else:
        width, ext = 4, ".jpg"
    paths = []
    for number in range(first, max(last, first) + 1):
        path = by_number.get(number)
        if path is None:
            raise AnnotationError(
                f"{Path(folder) / f'{number:0{width}d}{ext}'}: missing image (frames {first}..{last} expected)"
            )
        paths.append(path)
    return paths


def read_sequence_list(list_file: str | Path, check_folders: bool = True) -> list[str]:
    """Names in a ``list.txt``; every listed folder must exist beside it (checked before anything is loaded,
    unless ``check_folders`` is false: the caller then handles missing folders, e.g. a dry run listing them)."""
    list_file = Path(list_file)
    base = list_file.parent
    if not list_file.is_file():
        raise AnnotationError(f"{list_file}: list.txt not found")
    names, missing = [], []
    for lineno, line in enumerate(read_text(list_file, "sequence list").splitlines(), start=1):
        name = line.strip()
        if not name:
            continue
        if check_folders and not (base / name).is_dir():
            missing.append(f"{list_file}:{lineno}: sequence folder {base / name} not found")
        names.append(name)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise AnnotationError(missing[0] + more)
    if not names:
        raise AnnotationError(f"{list_file}: lists no sequences")
    return names


def first_box_only(rows: np.ndarray, num_frames: int) -> np.ndarray:
    """Test-split annotations that give only the first frame's box: ``(num_frames, 4)``, NaN after frame 0."""
    full = np.full((num_frames, 4), np.nan)
    full[0] = rows[0]
    return full

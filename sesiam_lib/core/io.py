"""Atomic file writes: a reader never sees a half-written result or checkpoint.

Every writer here writes to a temporary file in the destination folder, flushes and fsyncs it, then
``os.replace``-s it over the destination. If anything fails before the rename, the previous file (if any)
is left untouched and the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator

__all__ = [
    "atomic_open",
    "atomic_write_text",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_torch_save",
    "atomic_write_csv",
    "file_sha256",
    "folder_problem",
]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path`` atomically.

    ``mode`` is ``"w"`` (text) or ``"wb"`` (binary). On an exception the destination is unchanged.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; give the result the permissions an ordinary open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_open(path, "w", encoding=encoding) as handle:
        handle.write(text)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> None:
    """Write ``obj`` as JSON (sorted keys, so equal objects give equal files) atomically."""
    atomic_write_text(path, json.dumps(obj, indent=indent, sort_keys=True) + "\n")


def atomic_write_csv(path: str | os.PathLike, rows: list[dict], fieldnames: list[str] | None = None) -> None:
    """Write a list of dicts as CSV atomically; columns in first-seen order unless ``fieldnames`` is given."""
    import csv
    import io

    if fieldnames is None:
        fieldnames = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` to ``path`` atomically: a crash mid-write never corrupts the previous checkpoint."""
    import torch  # local: keep this module importable without torch

    with atomic_open(path, "wb") as handle:
        try:
            torch.save(obj, handle)
        except RuntimeError as exc:
            # torch's zip writer reports a failed write as "[enforce fail at inline_container.cc] unexpected pos"
            raise _save_error(exc, Path(path)) from exc


def _save_error(exc: BaseException, path: Path) -> OSError:
    """An ``OSError`` (``ENOSPC`` when the folder's disk is full, else ``EIO``) for a failed ``torch.save``."""
    import errno

    try:
        stat = os.statvfs(path.parent)
        full = stat.f_bavail * stat.f_frsize < (1 << 20)
    except (OSError, AttributeError):  # AttributeError: no statvfs on Windows
        full = False
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    code = errno.ENOSPC if full else errno.EIO
    return OSError(code, f"torch.save could not write {path} ({'disk full' if full else first})")


def folder_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be (or be created as) a folder, or ``None``: it is a file, or a component above it is
    a file. Checks only what exists; permissions are left to the first write."""
    path = Path(path).expanduser()
    if path.exists():
        return None if path.is_dir() else f"{path} exists and is a file, not a folder"
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else f"{path} cannot be created: {parent} is a file, not a folder"
    return None


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (used to record which checkpoint produced a result)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()

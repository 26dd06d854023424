"""The one sequence type every loader returns and every runner and metric reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

__all__ = ["Sequence", "read_rgb", "ImageDecodeError"]


class ImageDecodeError(ValueError):
    """An image file that exists but cannot be decoded (empty, not an image, truncated); names the file."""


def _check_complete(data: np.ndarray, path) -> None:
    """Raise :class:`ImageDecodeError` for a JPEG without its end-of-image marker after the last scan, or a PNG
    without its ``IEND`` chunk: truncated files that the decoders would return half-grey with only a warning."""
    head = data[:8].tobytes()
    if head[:2] == b"\xff\xd8":  # JPEG: the last scan (SOS, 0xFFDA) must be followed by EOI (0xFFD9)
        raw = data.tobytes()
        if raw.rfind(b"\xff\xd9") < raw.rfind(b"\xff\xda"):
            raise ImageDecodeError(f"image file {path} is a truncated JPEG (no end-of-image marker after the "
                                   f"image data; {data.size} bytes): re-extract or re-download it")
    elif head == b"\x89PNG\r\n\x1a\n":
        if b"IEND" not in data[-65536:].tobytes():  # the last chunk (bytes appended after it are tolerated)
            raise ImageDecodeError(f"image file {path} is a truncated PNG (no IEND chunk; {data.size} bytes): "
                                   f"re-extract or re-download it")


def read_rgb(path: str | Path) -> np.ndarray:
    """Read an image file as RGB ``uint8 [H, W, 3]`` (grayscale files come back with 3 equal channels).

    Raises:
        FileNotFoundError: no such file.
        ImageDecodeError: (a ``ValueError``) the file exists but is empty, not a decodable image, or a truncated
            JPEG / PNG; the message names the file.
    """
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (IsADirectoryError, PermissionError) as exc:
        raise ImageDecodeError(f"cannot read image file {path}: {exc.strerror}") from None
    if data.size == 0:
        raise ImageDecodeError(f"cannot decode image file {path}: the file is empty (0 bytes)")
    _check_complete(data, path)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)  # IMREAD_COLOR already expands grayscale to 3 channels
    if image is None:
        raise ImageDecodeError(f"cannot decode image file {path}: not an image in a format OpenCV reads "
                               f"({data.size} bytes starting {data[:8].tobytes()!r})")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


@dataclass
class Sequence:
    """A tracking sequence: frame paths (read lazily) and per-frame annotations.

    Attributes:
        name: sequence name (also the result file's stem).
        frames: image paths, one per frame, in order.
        boxes: ``float64 (N, 4)`` 0-based ``(x, y, w, h)``; NaN where unknown.
        polygons: VOT only: ``float64 (N, 8)`` original corner coordinates (0-based), else ``None``.
        absent: ``bool (N,)`` target absent (GOT-10k ``absence.label``), or ``None``.
        cover: ``int (N,)`` visible fraction in eighths 0..8 (GOT-10k ``cover.label``), or ``None``.
        attributes: per-sequence attributes, e.g. ``{"tags": ["SV", "OCC"]}`` for OTB or the scale-change
            statistics of a synthetic sequence.
    """

    name: str
    frames: list[str]
    boxes: np.ndarray
    polygons: np.ndarray | None = None
    absent: np.ndarray | None = None
    cover: np.ndarray | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.frames = [str(f) for f in self.frames]
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        if len(self.boxes) != len(self.frames):
            raise ValueError(
                f"sequence {self.name!r}: {len(self.frames)} frames but {len(self.boxes)} boxes"
            )

    def __len__(self) -> int:
        return len(self.frames)

    def image(self, index: int) -> np.ndarray:
        """Frame ``index`` as RGB ``uint8 [H, W, 3]``."""
        return read_rgb(self.frames[index])

    def __repr__(self) -> str:
        return f"Sequence(name={self.name!r}, frames={len(self.frames)})"

"""The released SiamFC crop routine (FACTS §4), shared by the tracker and the training-pair sampler.

Using one routine for both keeps training crops and tracking crops pixel-identical.
Images are ``uint8`` arrays ``[H, W, 3]`` (any channel order: the routine never looks at it).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["crop_window", "get_subwindow", "MAX_CROP_PIXELS", "channel_mean", "context_side", "search_side"]


def channel_mean(image: np.ndarray) -> np.ndarray:
    """Per-channel mean of an ``[H, W, 3]`` image, float64 ``(3,)``: the crop's padding colour."""
    return image.reshape(-1, image.shape[-1]).mean(axis=0)


def context_side(w: float, h: float, context: float = 0.5) -> int:
    """Exemplar crop side ``s_z = round(sqrt((w + c (w + h)) (h + c (w + h))))`` (half to even), at least 1 px."""
    pad = context * (w + h)
    return max(1, round(float(np.sqrt((w + pad) * (h + pad)))))


def search_side(s_z: float, exemplar_size: int = 127, instance_size: int = 255) -> float:
    """Search crop side ``s_x = s_z + 2 ((I - E) / 2) / (E / s_z)``, in the release's order of operations."""
    scale_z = exemplar_size / s_z
    return s_z + 2 * (((instance_size - exemplar_size) / 2) / scale_z)


def crop_window(center: float, size: int) -> tuple[int, int]:
    """First and last pixel (inclusive) of a crop of side ``size`` centred at ``center`` on one axis.

    The release: ``first = round(center - (size + 1) / 2)``, ``last = first + size - 1``, with Python's
    round (half to even).
    """
    first = round(float(center) - (size + 1) / 2.0)
    return int(first), int(first) + int(size) - 1


MAX_CROP_PIXELS = 1 << 22
"""Crop windows of more pixels than this (2048 x 2048) are not materialised: :func:`get_subwindow` samples the
resized output directly from the image (memory ~ ``out_size**2`` instead of ``in_size**2``)."""


def _warp_subwindow(image: np.ndarray, cx: float, cy: float, out_size: int, in_size: int, pad_color) -> np.ndarray:
    """What ``cv2.resize(padded window, (out_size, out_size))`` (bilinear) gives, without the padded window.

    Output pixel ``u`` samples window coordinate ``(u + 0.5) * in_size / out_size - 0.5`` (cv2.resize's
    half-pixel rule) with bilinear interpolation; pixels outside the image read ``pad_color``. Agrees with the
    materialised path up to cv2's fixed-point rounding (1 grey level).
    """
    x0, _ = crop_window(cx, in_size)
    y0, _ = crop_window(cy, in_size)
    scale = in_size / out_size
    offset = 0.5 * scale - 0.5
    matrix = np.array([[scale, 0.0, x0 + offset], [0.0, scale, y0 + offset]], dtype=np.float64)
    color = tuple(float(c) for c in np.asarray(pad_color, dtype=np.float64).astype(np.uint8))
    out = cv2.warpAffine(image, matrix, (out_size, out_size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=color)
    return np.ascontiguousarray(out)


def get_subwindow(
    image: np.ndarray,
    center,
    out_size: int,
    in_size: int,
    pad_color,
) -> np.ndarray:
    """Crop a square of side ``in_size`` around ``center`` and resize it to ``out_size``.

    Args:
        image: ``uint8`` ``[H, W, 3]``.
        center: ``(cx, cy)`` in 0-based pixel coordinates (a scalar means the same on both axes).
        out_size: side of the returned patch.
        in_size: side of the region cut from ``image`` (rounded to an integer, as the release does).
        pad_color: ``(3,)`` colour for the part of the window outside the image; stored in ``uint8``
            (so truncated, as in the release).

    Returns:
        ``uint8`` ``[out_size, out_size, 3]``. Resized with ``cv2.resize`` (bilinear) only when
        ``in_size != out_size``. A window of more than :data:`MAX_CROP_PIXELS` pixels that is shrunk is
        sampled directly (``cv2.warpAffine``, same bilinear rule) instead of being cut out first, so a huge box
        costs no more memory than a small one.
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"get_subwindow: expected an [H, W, 3] image, got shape {image.shape}")
    if not np.isfinite(float(in_size)):
        raise ValueError(f"get_subwindow: crop side must be a finite number of pixels, got in_size={in_size}")
    in_size = int(round(float(in_size)))
    out_size = int(out_size)
    if in_size < 1:
        raise ValueError(f"get_subwindow: crop side must be >= 1 pixel, got in_size={in_size}")
    cx, cy = (center, center) if np.isscalar(center) else (center[0], center[1])
    if in_size > out_size and in_size * in_size > MAX_CROP_PIXELS:
        # a huge window (a box much larger than the image): never materialise it, sample the output directly
        return _warp_subwindow(image, float(cx), float(cy), out_size, in_size, pad_color)
    height, width = image.shape[:2]
    x0, x1 = crop_window(cx, in_size)
    y0, y1 = crop_window(cy, in_size)
    left, top = max(0, -x0), max(0, -y0)
    right, bottom = max(0, x1 - width + 1), max(0, y1 - height + 1)
    if left or top or right or bottom:
        color = np.asarray(pad_color, dtype=np.float64).astype(np.uint8)
        # Only the window itself is materialised (the release pads the whole image first; same pixels).
        patch = np.empty((in_size, in_size, 3), dtype=np.uint8)
        patch[...] = color
        sx0, sx1 = max(x0, 0), min(x1, width - 1)
        sy0, sy1 = max(y0, 0), min(y1, height - 1)
        if sx0 <= sx1 and sy0 <= sy1:
            patch[sy0 - y0 : sy1 - y0 + 1, sx0 - x0 : sx1 - x0 + 1] = image[sy0 : sy1 + 1, sx0 : sx1 + 1]
    else:
        patch = image[y0 : y1 + 1, x0 : x1 + 1]
    if in_size != out_size:
        patch = cv2.resize(patch, (out_size, out_size))
    return np.ascontiguousarray(patch)

"""Scale-equivariance error of any module with a scale axis (FACTS §8).

For an input ``x``, a downscale ``D`` by the ratio ``r`` between neighbouring scales and a map ``Phi`` with a
scale axis, the relative error is::

    Delta = sum_s || D(Phi(x))[:, :, s + k] - Phi(D(x))[:, :, s] ||^2  /  sum_s || D(Phi(x))[:, :, s + k] ||^2

with ``k = scale_shift`` (1 for ``r`` equal to the layer's scale ratio), over the scales present in both
(``s < S - k``). Details, fixed so that numbers are comparable across runs:

- ``D`` is an antialiased resize (``torch.nn.functional.interpolate(..., antialias=True)``, bilinear by default).
  The input is resized to ``round(H / r) x round(W / r)``; ``Phi(x)`` is resized to exactly the spatial size
  of ``Phi(D(x))`` so the two maps are aligned cell for cell.
- Both maps are cropped by ``border`` (a fraction of the height and width, taken from *each* side) before the
  norms, so that padding effects at the image border do not dominate.
- A map without a scale axis (``[B, C, H, W]``, e.g. a plain CNN) is compared without a shift: that is the
  same as copying its output along a scale axis.
- Sums run over the batch, channels, scales and pixels: one number per measured output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["downscale", "equivariance_delta", "equivariance_error", "layerwise_equivariance_error",
           "EquivarianceResult", "natural_images", "DEFAULT_PHOTOS"]

#: scikit-image sample photographs used for the equivariance checks (shipped inside the package, no download).
DEFAULT_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def natural_images(size: int = 192, names=DEFAULT_PHOTOS) -> torch.Tensor:
    """Natural photographs as float32 ``[B, 3, size, size]`` RGB in ``[0, 1]``.

    Centre square crop of each scikit-image sample photograph, area-resized to ``size``. Grayscale photos are
    repeated over the 3 channels.
    """
    try:
        import skimage.data
    except ImportError as error:  # pragma: no cover - scikit-image is a dependency
        raise ImportError("natural_images needs scikit-image (pip install scikit-image)") from error
    import cv2
    import numpy as np

    batch = []
    for name in names:
        image = getattr(skimage.data, name)()
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        image = image[..., :3]
        height, width = image.shape[:2]
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        square = np.ascontiguousarray(image[top:top + side, left:left + side])
        batch.append(cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA))
    return torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).float().div(255.0)


def downscale(x: torch.Tensor, ratio: float | None = None, size: tuple[int, int] | None = None,
              mode: str = "bilinear", antialias: bool = True) -> torch.Tensor:
    """Resize the two last (spatial) axes of ``[..., H, W]`` by ``1 / ratio`` or to ``size``.

    Works for Z2 ``[B, C, H, W]`` and H ``[B, C, S, H, W]`` tensors (the scale axis is left alone).
    """
    if (ratio is None) == (size is None):
        raise ValueError("downscale: give exactly one of ratio or size")
    height, width = x.shape[-2:]
    if size is None:
        size = (max(1, round(height / ratio)), max(1, round(width / ratio)))
    flat = x.reshape(-1, 1, height, width) if x.dim() != 4 else x
    kwargs = {"align_corners": False} if mode in ("bilinear", "bicubic") else {}
    out = F.interpolate(flat.float(), size=tuple(size), mode=mode,
                        antialias=antialias and mode in ("bilinear", "bicubic"), **kwargs)
    return out.reshape(*x.shape[:-2], *out.shape[-2:]).to(x.dtype)


def _crop(x: torch.Tensor, border: float) -> torch.Tensor:
    height, width = x.shape[-2:]
    dy, dx = int(round(border * height)), int(round(border * width))
    if 2 * dy >= height or 2 * dx >= width:
        raise ValueError(f"border={border} leaves nothing of a {height}x{width} map")
    return x[..., dy:height - dy, dx:width - dx]


def equivariance_delta(phi_x: torch.Tensor, phi_dx: torch.Tensor, scale_shift: int = 1,
                       border: float = 0.2, mode: str = "bilinear") -> float:
    """Relative error between ``D(Phi(x))`` shifted by ``scale_shift`` and ``Phi(D(x))``.

    Args:
        phi_x: ``Phi(x)``, ``[B, C, S, H, W]`` or ``[B, C, H, W]``.
        phi_dx: ``Phi(D(x))``, same rank, smaller spatial size.
        scale_shift: how many scale steps the downscale corresponds to (ignored for 4-D maps).
        border: fraction cropped from each side of the compared maps.
    """
    if phi_x.dim() != phi_dx.dim() or phi_x.shape[:-2] != phi_dx.shape[:-2]:
        raise ValueError(f"maps do not match: {tuple(phi_x.shape)} vs {tuple(phi_dx.shape)}")
    target = downscale(phi_x.float(), size=tuple(phi_dx.shape[-2:]), mode=mode)
    moved = phi_dx.float()
    if phi_x.dim() == 5:
        num_scales = phi_x.shape[2]
        if scale_shift >= num_scales:
            raise ValueError(f"scale_shift={scale_shift} leaves no scale of {num_scales} to compare")
        target = target[:, :, scale_shift:]
        moved = moved[:, :, :num_scales - scale_shift]
    target, moved = _crop(target, border), _crop(moved, border)
    denominator = target.pow(2).sum()
    if denominator == 0:
        raise ValueError("the reference map D(Phi(x)) is all zeros: the relative error is undefined")
    return float((target - moved).pow(2).sum() / denominator)


@dataclass
class EquivarianceResult:
    """Per-output equivariance errors, in network order, with the settings used."""

    errors: dict[str, float]
    scale_ratio: float
    scale_shift: int
    border: float
    input_size: tuple[int, int] = field(default=(0, 0))

    def rows(self) -> list[dict]:
        """One dict per measured output (for CSV tables)."""
        return [{"layer": name, "error": err, "scale_ratio": self.scale_ratio, "scale_shift": self.scale_shift,
                 "border": self.border} for name, err in self.errors.items()]


def _module_device(module: nn.Module) -> torch.device:
    for tensor in list(module.parameters()) + list(module.buffers()):
        return tensor.device
    return torch.device("cpu")


@torch.no_grad()
def layerwise_equivariance_error(module: nn.Module, images: torch.Tensor, layers: Iterable[str] | None = None,
                                 scale_ratio: float = 1.4, scale_shift: int = 1, border: float = 0.2,
                                 mode: str = "bilinear") -> EquivarianceResult:
    """Equivariance error of the outputs of named submodules of ``module`` (the stack up to each of them).

    The whole ``module`` is run on ``images`` and on ``D(images)``; forward hooks record the outputs of the
    chosen submodules, and each pair is compared with :func:`equivariance_delta`.

    Args:
        module: any ``nn.Module`` taking ``images``; put it in ``eval()`` mode first for BN statistics.
        images: ``[B, C, H, W]`` input batch.
        layers: submodule names (as in ``named_modules()``); ``None`` = the module's direct children, plus
            the module itself as ``"output"``.
    """
    names = list(layers) if layers is not None else [name for name, _ in module.named_children()]
    lookup = dict(module.named_modules())
    missing = [name for name in names if name not in lookup]
    if missing:
        raise KeyError(f"layers not found in module: {missing}; available: {list(lookup)[:20]}...")
    device = _module_device(module)
    images = images.to(device)
    records: dict[str, list[torch.Tensor]] = {name: [] for name in names}

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            if isinstance(output, torch.Tensor):
                records[name].append(output.detach())
        return hook

    handles = [lookup[name].register_forward_hook(make_hook(name)) for name in names]
    try:
        out_full = module(images)
        out_small = module(downscale(images, scale_ratio, mode=mode))
    finally:
        for handle in handles:
            handle.remove()
    errors: dict[str, float] = {}
    for name in names:
        if len(records[name]) >= 2:
            # a submodule called several times per forward: compare its first and matching later call
            half = len(records[name]) // 2
            errors[name] = equivariance_delta(records[name][0], records[name][half], scale_shift, border, mode)
    if layers is None and isinstance(out_full, torch.Tensor):
        errors["output"] = equivariance_delta(out_full, out_small, scale_shift, border, mode)
    return EquivarianceResult(errors, scale_ratio, scale_shift, border, tuple(images.shape[-2:]))


@torch.no_grad()
def equivariance_error(module: nn.Module, images: torch.Tensor, scale_ratio: float = 1.4, scale_shift: int = 1,
                       border: float = 0.2, mode: str = "bilinear") -> float:
    """Equivariance error of ``module``'s output on ``images`` ``[B, C, H, W]`` (see module docstring)."""
    images = images.to(_module_device(module))
    out_full = module(images)
    out_small = module(downscale(images, scale_ratio, mode=mode))
    return equivariance_delta(out_full, out_small, scale_shift, border, mode)

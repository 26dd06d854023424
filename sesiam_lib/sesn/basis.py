"""The SESN Hermite-Gaussian basis (FACTS §1), bit-compatible with the released checkpoints.

A scale-equivariant kernel is a fixed linear combination of ``F = E**2`` basis functions, each sampled at
``S`` scales. The released checkpoints store this basis as a buffer, so it has to be reproduced exactly,
including the float64 -> float32 cast points and the normalisation by the smallest scale.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["hermite_basis", "se_scales", "inner_size"]


def se_scales(num_scales: int = 3, base: float = 0.9, ratio: float = 1.4) -> list[float]:
    """Scales ``base * ratio**i`` for ``i < num_scales``; SE-SiamFC uses (0.9, 1.26, 1.764)."""
    return [base * ratio**i for i in range(num_scales)]


def inner_size(kernel_size: int, scale: float, max_scale: float) -> int:
    """Odd support ``n <= K`` of the basis at ``scale``: ``int(K * scale / max_scale) // 2 * 2 + 1``."""
    return int(kernel_size * scale / max_scale) // 2 * 2 + 1


def _hermite_gaussian_1d(grid: np.ndarray, scale: float, order: int) -> np.ndarray:
    """``G(x) He_order(x / scale)`` in float64, ``G(x) = exp(-x^2 / (2 scale^2)) / scale``."""
    coefficients = [0] * order + [1]
    gauss = np.exp(-(grid**2) / (2 * scale**2)) / scale
    return gauss * np.polynomial.hermite_e.hermeval(grid / scale, coefficients)


def _one_scale(size: int, scale: float, effective_size: int) -> torch.Tensor:
    """Basis at one scale on an ``size x size`` grid: float32 ``[F, size, size]``."""
    grid = np.linspace(-(size // 2), size // 2, size)
    order_y, order_x = np.indices([effective_size, effective_size])
    basis_x = torch.from_numpy(
        np.stack([_hermite_gaussian_1d(grid, scale, n) for n in order_x.ravel()])
    ).float()
    basis_y = torch.from_numpy(
        np.stack([_hermite_gaussian_1d(grid, scale, n) for n in order_y.ravel()])
    ).float()
    # product in float32, first spatial axis from the x-order (as the release's bmm does)
    return torch.bmm(basis_x[:, :, None], basis_y[:, None, :])


def hermite_basis(kernel_size: int, scales: Sequence[float], effective_size: int) -> torch.Tensor:
    """Normalised Hermite-Gaussian basis, float32 ``[F, S, K, K]`` with ``F = effective_size**2``.

    Function ``f`` has orders ``(f mod E, f div E)``. At scale ``s`` the functions live on an odd inner grid of
    side ``inner_size(K, s, max(scales))`` (zero-padded symmetrically to ``K x K``, so the outer taps of the
    small scales are exact zeros). Every function is divided, at every scale, by its L2 norm at scale index 0.

    Args:
        kernel_size: ``K``, odd.
        scales: increasing scales ``sigma_0 < ... < sigma_{S-1}``.
        effective_size: ``E``; Hermite orders ``0 .. E-1`` per axis.
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"hermite_basis: kernel_size must be odd, got {kernel_size}")
    if effective_size < 1 or effective_size > kernel_size:
        raise ValueError(
            f"hermite_basis: effective_size must be in [1, kernel_size={kernel_size}], got {effective_size}"
        )
    scales = [float(s) for s in scales]
    if not scales or any(b <= a for a, b in zip(scales, scales[1:])) or scales[0] <= 0:
        raise ValueError(f"hermite_basis: scales must be positive and strictly increasing, got {scales}")
    max_scale = max(scales)
    per_scale = []
    for scale in scales:
        size = inner_size(kernel_size, scale, max_scale)
        pad = (kernel_size - size) // 2
        per_scale.append(torch.nn.functional.pad(_one_scale(size, scale, effective_size), [pad] * 4))
    basis = torch.stack(per_scale, dim=1)
    norm = basis.pow(2).sum([2, 3], keepdim=True).sqrt()[:, [0]]
    if (norm == 0).any():
        raise ValueError(
            f"hermite_basis: with kernel_size={kernel_size}, effective_size={effective_size} and scales={scales} "
            f"the smallest scale's support ({inner_size(kernel_size, scales[0], max_scale)} px) is too small: "
            "some functions vanish there and cannot be normalised"
        )
    return basis / norm

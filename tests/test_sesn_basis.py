"""The Hermite basis must equal FACTS §1 bit for bit (released checkpoints store it)."""

import math

import numpy as np
import pytest
import torch

from sesiam_lib.sesn import hermite_basis, inner_size, se_scales

SCALES = [0.9 * 1.4**i for i in range(3)]


def probabilists_hermite(n: int, x: np.ndarray) -> np.ndarray:
    """He_n by the recurrence He_{k+1} = x He_k - k He_{k-1} (independent of numpy.polynomial)."""
    h_prev, h = np.ones_like(x), x.copy()
    if n == 0:
        return h_prev
    for k in range(1, n):
        h_prev, h = h, x * h - k * h_prev
    return h


def facts_basis(kernel_size, scales, effective_size):
    """Straight transcription of FACTS §1 with explicit loops."""
    num_funcs = effective_size**2
    max_scale = max(scales)
    out = np.zeros((num_funcs, len(scales), kernel_size, kernel_size), dtype=np.float32)
    for s, sigma in enumerate(scales):
        n = math.floor(kernel_size * sigma / max_scale) // 2 * 2 + 1
        grid = np.arange(-(n // 2), n // 2 + 1, dtype=np.float64)
        gauss = np.exp(-grid**2 / (2 * sigma**2)) / sigma
        pad = (kernel_size - n) // 2
        for f in range(num_funcs):
            ox, oy = f % effective_size, f // effective_size
            phi_x = (gauss * probabilists_hermite(ox, grid / sigma)).astype(np.float32)
            phi_y = (gauss * probabilists_hermite(oy, grid / sigma)).astype(np.float32)
            out[f, s, pad:pad + n, pad:pad + n] = np.outer(phi_x, phi_y)
    norms = np.sqrt((out[:, :1] ** 2).sum(axis=(2, 3), keepdims=True))
    return out / norms


@pytest.mark.parametrize("kernel_size,effective_size", [(9, 7), (5, 3), (7, 7), (7, 3)])
def test_basis_equals_facts(kernel_size, effective_size):
    basis = hermite_basis(kernel_size, SCALES, effective_size)
    assert basis.dtype == torch.float32
    assert basis.shape == (effective_size**2, 3, kernel_size, kernel_size)
    expected = facts_basis(kernel_size, SCALES, effective_size)
    np.testing.assert_allclose(basis.numpy(), expected, rtol=0, atol=1e-6)


def test_inner_sizes_and_exact_zero_outer_taps():
    assert [inner_size(9, s, max(SCALES)) for s in SCALES] == [5, 7, 9]
    assert [inner_size(5, s, max(SCALES)) for s in SCALES] == [3, 3, 5]
    basis = hermite_basis(9, SCALES, 7)
    for s, n in enumerate([5, 7, 9]):
        pad = (9 - n) // 2
        support = basis[:, s].abs().sum(0)
        inner = support[pad:9 - pad, pad:9 - pad]
        outer = support.clone()
        outer[pad:9 - pad, pad:9 - pad] = 0
        assert (outer == 0).all(), f"scale {s}: outer taps must be exact zeros"
        assert (inner > 0).any(dim=0).all() and (inner > 0).any(dim=1).all()
    small = hermite_basis(5, SCALES, 3)
    assert (small[:, :2, 0, :] == 0).all() and (small[:, :2, :, -1] == 0).all()


def test_normalised_at_smallest_scale_only():
    basis = hermite_basis(9, SCALES, 7)
    norms = basis.pow(2).sum((2, 3)).sqrt()
    torch.testing.assert_close(norms[:, 0], torch.ones(49), rtol=0, atol=1e-6)
    # larger scales keep the ratio to scale 0 (they are not renormalised)
    assert not torch.allclose(norms[:, 2], torch.ones(49), atol=1e-3)


def test_function_orders_and_parity():
    """f -> (f mod E, f div E): the first spatial axis carries the x-order."""
    basis = hermite_basis(9, SCALES, 7)[:, 2]  # widest scale, full 9x9 support
    flip_a = torch.flip(basis, dims=[1])
    flip_b = torch.flip(basis, dims=[2])
    for f in range(49):
        ox, oy = f % 7, f // 7
        sign_a = (-1) ** ox
        sign_b = (-1) ** oy
        torch.testing.assert_close(flip_a[f], sign_a * basis[f], rtol=0, atol=1e-6)
        torch.testing.assert_close(flip_b[f], sign_b * basis[f], rtol=0, atol=1e-6)
    # order (0, 0) is a positive Gaussian peaked at the centre
    assert basis[0].argmax() == 40 and (basis[0] > 0).all()


def test_se_scales():
    assert se_scales() == pytest.approx([0.9, 1.26, 1.764])


@pytest.mark.parametrize("bad", [dict(kernel_size=4, scales=SCALES, effective_size=3),
                                 dict(kernel_size=5, scales=[1.0, 0.9], effective_size=3),
                                 dict(kernel_size=5, scales=SCALES, effective_size=6),
                                 dict(kernel_size=3, scales=SCALES, effective_size=2)])  # 1-px support at scale 0
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        hermite_basis(**bad)

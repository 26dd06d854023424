"""Weight transfer CIResNet-22 -> SE-ResNet-22 (FACTS §3), how the release initialised SE-SiamFC.

``transfer_weights(plain, se_model)`` builds the SE state dict, loads it into ``se_model`` (``load=False`` to
only return it) and returns ``(state_dict, report)``. For every layer of the SE model:

- BatchNorm (2-D or 3-D): ``weight``, ``bias``, ``running_mean``, ``running_var`` copied (``num_batches_tracked``
  keeps the SE model's value, as the release's script did);
- 1x1 convs (plain ``nn.Conv2d`` and ``SESConvHH1x1`` with one scale tap): weights copied; an interscale 1x1
  (scale_size L > 1) gets the plain weight in tap 0 and zeros in the other taps;
- K x K scale convs: the plain kernel ``w [Cout, Cin, k, k]`` is fitted by least squares onto the basis at scale
  index 0 (``basis[:, 0]``, zero-padded or centre-cropped from K x K to k x k): ``w ~ x @ B``. When ``B`` has
  full row rank the ordinary least-squares solution is used; when it is rank deficient (the SE stem: 49
  functions, 5 x 5 support at scale 0.9 inside a 7 x 7 plain kernel) the Tikhonov-regularised solution
  ``x = w B^T (B B^T + eps I)^-1`` (eps 1e-12, as the release), computed through an SVD so that the
  directions the basis cannot see stay exactly 0. ``SESConvHH`` gets the fit in scale tap 0, zeros elsewhere;
- the SE model's own ``features.mean`` / ``features.std`` and ``basis`` buffers are kept.

The report gives, per layer, the relative fit residual ``||x B - w|| / ||w||`` (0 for copies). The stem's residual
is large by construction (a 5 x 5 support cannot represent the 7 x 7 kernel's outer ring); the 3 x 3 middle
convs are represented exactly (9 functions on 3 x 3).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..sesn import SESConvHH, SESConvHH1x1, SESConvZ2H
from .checkpoint import normalize_state_dict, read_checkpoint

__all__ = ["transfer_weights", "TransferEntry", "fit_kernel_to_basis", "format_transfer_report"]

BN_FIELDS = ("weight", "bias", "running_mean", "running_var")


@dataclass
class TransferEntry:
    """One layer of the transfer report."""

    layer: str
    kind: str  # 'bn', 'conv1x1', 'conv1x1_interscale', 'z2h', 'hh'
    rel_residual: float = 0.0
    rank: int | None = None
    num_funcs: int | None = None
    regularized: bool = False


def fit_kernel_to_basis(kernel: torch.Tensor, basis: torch.Tensor, eps: float = 1e-12
                        ) -> tuple[torch.Tensor, float, int, bool]:
    """Least-squares coefficients ``x [Cout, Cin, F]`` with ``x @ basis ~ kernel``.

    Args:
        kernel: plain kernel ``[Cout, Cin, k, k]``.
        basis: ``[F, K, K]`` (one scale); zero-padded or centre-cropped to ``k x k`` first.
        eps: Tikhonov parameter used when the basis (as an ``F x k^2`` matrix) is rank deficient.

    Returns:
        ``(x, relative residual, rank, regularized)``; ``x`` has ``kernel``'s dtype.
    """
    cout, cin, kh, kw = kernel.shape
    num_funcs, bh, bw = basis.shape
    b = basis.detach().double()
    b = F.pad(b, [(kw - bw) // 2, (kw - bw) // 2, (kh - bh) // 2, (kh - bh) // 2])
    if b.shape[-2:] != (kh, kw):
        raise ValueError(f"cannot centre a {bh}x{bw} basis on a {kh}x{kw} kernel")
    mat = b.reshape(num_funcs, kh * kw).numpy()  # F x k^2
    target = kernel.detach().double().reshape(cout * cin, kh * kw).cpu().numpy()  # N x k^2
    rank = int(np.linalg.matrix_rank(mat))
    regularized = rank < num_funcs
    # solve  x @ mat ~ target  <=>  mat^T x^T ~ target^T
    u, s, vt = np.linalg.svd(mat.T, full_matrices=False)  # mat.T = u diag(s) vt
    if regularized:
        inv = s / (s**2 + eps)
    else:
        inv = 1.0 / s
    coeff = (vt.T * inv) @ (u.T @ target.T)  # F x N
    x = coeff.T
    residual = np.linalg.norm(x @ mat - target) / max(np.linalg.norm(target), 1e-12)
    out = torch.from_numpy(x).reshape(cout, cin, num_funcs).to(kernel.dtype)
    return out, float(residual), rank, regularized


def _lookup(src: Mapping[str, torch.Tensor], key: str) -> torch.Tensor:
    if key not in src:
        raise KeyError(f"transfer_weights: the plain state dict has no '{key}' (is it a CIResNet-22 state dict "
                       f"with the same block layout?)")
    return src[key]


def transfer_weights(source: Mapping[str, torch.Tensor] | nn.Module | str | os.PathLike, se_model: nn.Module,
                     *, scale_index: int = 0, eps: float = 1e-12, load: bool = True
                     ) -> tuple[dict[str, torch.Tensor], list[TransferEntry]]:
    """Build an SE-SiamFC state dict from a plain CIResNet state dict (FACTS §3 weight transfer).

    Args:
        source: the plain weights: a state dict (keys ``features.features.*``, optionally ``module.``-prefixed,
            or the trunk alone), a plain model, or a checkpoint path (read with weights-only loading).
        se_model: the target SE model (``build_model('se_siamfc_resnet22')`` or the tiny twin).
        scale_index: basis scale the plain kernels are fitted at (0, the release).
        eps: Tikhonov parameter for rank-deficient bases.
        load: load the result into ``se_model`` (strictly); ``False`` leaves ``se_model`` untouched.

    Returns:
        ``(state_dict, report)``: the complete SE state dict (``se_model.state_dict()`` layout) and one
        :class:`TransferEntry` per transferred layer.
    """
    if isinstance(source, nn.Module):
        src = dict(source.state_dict())
    elif isinstance(source, Mapping):
        src, _ = normalize_state_dict(source)
    else:
        src, _ = read_checkpoint(source)
    dest = {k: v.detach().clone() for k, v in se_model.state_dict().items()}
    report: list[TransferEntry] = []
    for name, module in se_model.named_modules():
        if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
            for f in BN_FIELDS:
                value = _lookup(src, f"{name}.{f}")
                if value.shape != dest[f"{name}.{f}"].shape:
                    raise ValueError(f"transfer_weights: '{name}.{f}' has shape {list(value.shape)} in the "
                                     f"source, {list(dest[f'{name}.{f}'].shape)} in the SE model")
                dest[f"{name}.{f}"] = value.detach().clone().to(dest[f"{name}.{f}"].dtype)
            report.append(TransferEntry(name, "bn"))
        elif isinstance(module, (nn.Conv2d, SESConvHH1x1)):
            w = _lookup(src, f"{name}.weight")
            target = dest[f"{name}.weight"]
            if w.shape[-2:] != (1, 1):
                raise ValueError(f"transfer_weights: '{name}' is 1x1 in the SE model but {list(w.shape)} in the source")
            if target.dim() == 5:  # interscale taps
                new = torch.zeros_like(target)
                new[:, :, 0] = w
                kind = "conv1x1_interscale"
            else:
                if w.shape != target.shape:
                    raise ValueError(f"transfer_weights: '{name}.weight' has shape {list(w.shape)} in the source, "
                                     f"{list(target.shape)} in the SE model")
                new = w.detach().clone().to(target.dtype)
                kind = "conv1x1"
            dest[f"{name}.weight"] = new
            report.append(TransferEntry(name, kind))
        elif isinstance(module, (SESConvZ2H, SESConvHH)):
            w = _lookup(src, f"{name}.weight")
            target = dest[f"{name}.weight"]
            if w.dim() != 4 or w.shape[:2] != target.shape[:2]:
                raise ValueError(f"transfer_weights: '{name}.weight' has shape {list(w.shape)} in the source, "
                                 f"incompatible with the SE layer's {list(target.shape)}")
            coeff, residual, rank, regularized = fit_kernel_to_basis(w, module.basis[:, scale_index], eps)
            if isinstance(module, SESConvZ2H):
                new = coeff.to(target.dtype)
                kind = "z2h"
            else:
                new = torch.zeros_like(target)
                new[:, :, 0] = coeff
                kind = "hh"
            dest[f"{name}.weight"] = new
            report.append(TransferEntry(name, kind, residual, rank, module.num_funcs, regularized))
    if load:
        se_model.load_state_dict(dest, strict=True)
        if hasattr(se_model, "zf"):
            se_model.zf = None
    return dest, report


def format_transfer_report(report: list[TransferEntry]) -> str:
    """A plain-text table of a transfer report."""
    lines = [f"{'layer':45s} {'kind':20s} {'rel. residual':>13s} {'rank/F':>7s}"]
    for e in report:
        rank = f"{e.rank}/{e.num_funcs}" if e.rank is not None else ""
        lines.append(f"{e.layer:45s} {e.kind:20s} {e.rel_residual:13.2e} {rank:>7s}"
                     + ("  (Tikhonov)" if e.regularized else ""))
    return "\n".join(lines)

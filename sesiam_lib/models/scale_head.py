"""The scale head (issue #18): keep the scale axis in the cross-correlation and read scale from it.

SE-SiamFC's head max-pools the scale axis of its features away before the xcorr (``head="pool"``, the release,
the default). ``build_model(name, head="scale")`` (SE models only: ``se_siamfc_resnet22``, ``se_siamfc_tiny``,
``se_siamfc_tiny_sesn``) builds :class:`ScaleHeadSESiamFC` instead, whose head correlates template features at
scale index ``i`` with search features at scale index ``i + k`` for the shifts ``k = -m .. m``
(``max_shift = m``, default 1), averaged over the valid ``i`` (``0 <= i < S`` and ``0 <= i + k < S``)::

    zf = phi(z)                                   [Nz, C, S, h, w]     (no scale pooling)
    xf = phi(x)                                   [Nx, C, S, H, W]
    r[n, k + m] = mean_i xcorr(zf[:, :, i], xf[n, :, i + k])            [N, 2m + 1, H - h + 1, W - w + 1]
    score = 0.1 * r        (score_adjust=True: adjust(r), the same 1x1 affine applied to every shift map)

**Sign convention** (tested in ``tests/test_scale_head.py``): ``k > 0`` means the target appears *larger* in
the search crop than in the template crop, by about ``scale_ratio ** k`` (``scale_ratio`` = the basis' ratio of
consecutive scales, ``spec.scales[1] / spec.scales[0]``: 1.4 for the release's configuration, 2**(1/3) = 1.26
for ``se_siamfc_tiny_sesn``). Why: a scale-equivariant layer satisfies ``phi(L_a x)[s + 1] = L_a phi(x)[s]`` when
``sigma_{s+1} = a sigma_s`` (the larger basis at scale ``s + 1`` sees the enlarged image as the smaller basis at
``s`` saw the original), so a target enlarged by ``a`` in the search crop matches template scale ``i`` at search
scale ``i + 1``. (The spatial enlargement of the feature pattern itself is not undone: the 4x4 / 5x5 template is
correlated as it is, as in the pool head.)

Does the backbone keep a usable scale axis? Yes, though not a perfectly equivariant one: the SE-ResNet output
is ``[B, C, S, H, W]`` (see :mod:`.se_resnet`); layer2's first block scale-pools the input of its *main branch*
(a plain 2-D 1x1 conv, then a Z2 -> H lift that re-creates the scale axis), while its shortcut keeps the
un-pooled input; the final max-pool is spatial only (``MaxPool3d(1, 2, 2)``). So the scale axis survives to the
output, but half of layer2's first block sees a scale-pooled (scale-invariant) signal, which the lift maps to
``S`` scales again -- the axis is equivariant to the lift's precision, no more. Borders: the scales at the ends of
the axis have no partner for one sign of ``k`` (hence the average over the valid ``i`` only) and the largest
scale's K x K kernels are truncated (see :mod:`.tiny`).

Parameters: none beyond the pool model's (the head is parameter-free; ``score_adjust`` adds the same two
``adjust.*`` keys), so a ``head="scale"`` model has exactly the state dict of its ``head="pool"`` twin and the
released / pool checkpoints load into it (the head is different, so the scores are too). ``head`` and
``max_shift`` are build options (``build_options``, and a training run's ``model_kwargs``), so
:func:`~sesiam_lib.models.checkpoint_model_options` rebuilds a scale-head model from its training checkpoint.

Inference: :meth:`ScaleHeadSESiamFC.fast` / :func:`~sesiam_lib.models.fast.optimize_for_inference` return
:class:`FastScaleHeadSiamFC` (the folded backbone without the final scale max, same head).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .builder import SESiamFC
from .fast import FastBackbone, FastSiamFC

__all__ = ["HEAD_TYPES", "scale_xcorr", "scale_correlations", "ScaleHeadSESiamFC", "FastScaleHeadSiamFC",
           "FastScaleBackbone", "check_max_shift"]

HEAD_TYPES = ("pool", "scale")
"""``head`` build option: ``'pool'`` (the release: scale-pool, then xcorr) or ``'scale'`` (this module)."""


def check_max_shift(max_shift, num_scales: int) -> int:
    """``max_shift`` as an int in ``[0, num_scales - 1]``, else ``ValueError``."""
    if isinstance(max_shift, bool) or not isinstance(max_shift, int):
        raise ValueError(f"max_shift must be an integer, got {max_shift!r}")
    if not 0 <= max_shift <= num_scales - 1:
        raise ValueError(f"max_shift must be in [0, {num_scales - 1}] for a model with {num_scales} scales, "
                         f"got {max_shift}")
    return max_shift


def scale_correlations(zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
    """Every (template scale ``i``, search scale ``j``) cross-correlation (no 0.1 factor).

    Args:
        zf: template features ``[Nz, C, S, h, w]``.
        xf: search features ``[Nx, C, S, H, W]``; ``Nz == 1`` (one template for every crop) or ``Nz == Nx``
            (template ``n`` against search ``n``).

    Returns:
        ``[Nx, S_i, S_j, H - h + 1, W - w + 1]``: entry ``[n, i, j]`` is ``xcorr(zf[., :, i], xf[n, :, j])``.
    """
    if zf.dim() != 5 or xf.dim() != 5:
        raise ValueError(f"scale_correlations expects 5-D features [N, C, S, H, W], got template "
                         f"{tuple(zf.shape)} and search {tuple(xf.shape)}")
    nz, c, s = zf.shape[:3]
    nx = xf.shape[0]
    if xf.shape[1] != c or xf.shape[2] != s:
        raise ValueError(f"scale_correlations: template [*, {c}, {s}, ...] vs search {tuple(xf.shape[:3])}")
    h, w = zf.shape[-2:]
    H, W = xf.shape[-2:]
    if nz == 1:
        # scales of the search folded into the batch, template scales as output channels
        x = xf.permute(0, 2, 1, 3, 4).reshape(nx * s, c, H, W)
        k = zf[0].permute(1, 0, 2, 3).contiguous()  # [S_i, C, h, w]
        out = F.conv2d(x, k)  # [Nx * S_j, S_i, H', W']
        out = out.reshape(nx, s, s, out.shape[-2], out.shape[-1])  # [n, j, i]
        return out.transpose(1, 2)
    if nz != nx:
        raise ValueError(f"scale_correlations: {nz} templates cannot be paired with {nx} search crops "
                         f"(need 1 or {nx})")
    # search scales as the batch, sample n's channels as group n; template n's scales as group n's outputs
    x = xf.permute(2, 0, 1, 3, 4).reshape(s, nx * c, H, W)
    k = zf.permute(0, 2, 1, 3, 4).reshape(nx * s, c, h, w)
    out = F.conv2d(x, k, groups=nx)  # [S_j, Nx * S_i, H', W']
    out = out.reshape(s, nx, s, out.shape[-2], out.shape[-1])  # [j, n, i]
    return out.permute(1, 2, 0, 3, 4)


def scale_xcorr(zf: torch.Tensor, xf: torch.Tensor, max_shift: int = 1) -> torch.Tensor:
    """The scale head's correlation ``[Nx, 2 max_shift + 1, H', W']`` (no 0.1 factor).

    Channel ``k + max_shift`` is the mean over the valid ``i`` of ``xcorr(zf[:, :, i], xf[n, :, i + k])``;
    ``k > 0``: the target is larger in the search crop (see the module doc). Shapes as
    :func:`scale_correlations`; ``max_shift`` must be below the number of scales.
    """
    pairs = scale_correlations(zf, xf)  # [N, S_i, S_j, H', W']
    s = pairs.shape[1]
    if not 0 <= max_shift < s:
        raise ValueError(f"max_shift {max_shift} must be in [0, {s - 1}] for {s} scales")
    maps = []
    for k in range(-max_shift, max_shift + 1):
        # diagonal j = i + k: [N, H', W', n_k] -> mean over the n_k valid template scales
        maps.append(torch.diagonal(pairs, offset=k, dim1=1, dim2=2).mean(dim=-1))
    return torch.stack(maps, dim=1)


def _apply_scale_head(model, zf: torch.Tensor, xf: torch.Tensor, weight, bias) -> torch.Tensor:
    r = scale_xcorr(zf, xf, model.max_shift)
    if weight is None:
        return model.out_scale * r
    n, k, hh, ww = r.shape
    return F.conv2d(r.reshape(n * k, 1, hh, ww), weight, bias).reshape(n, k, hh, ww)


class ScaleHeadSESiamFC(SESiamFC):
    """SE-SiamFC with the scale head (``build_model(name, head="scale", max_shift=1)``; see the module doc).

    Same backbone, state dict and crops as :class:`~sesiam_lib.models.builder.SESiamFC`; different shapes:

    - ``embed(x [B, 3, H, W]) -> [B, C, S, h, w]`` (the scale axis is kept);
    - ``template(z)`` caches ``[Nz, C, S, h, w]``;
    - ``track(x [N, 3, I, I]) -> [N, 2m + 1, s, s]`` (channel ``k + m`` = shift ``k``);
    - ``forward(z, x) -> [B, 2m + 1, s, s]``; ``loss`` is the same balanced BCE over every (shift, row, col)
      cell, against labels ``[B, 2m + 1, s, s]`` (:func:`sesiam_lib.core.labels.scale_shift_label`).

    Attributes: ``head_type = "scale"``, ``max_shift`` (m), ``scale_ratio`` (ratio of consecutive basis scales),
    ``shifts`` (``-m .. m``).
    """

    head_type = "scale"

    def __init__(self, *args, max_shift: int = 1, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_shift = check_max_shift(max_shift, len(self.spec.scales))
        scales = self.spec.scales
        self.scale_ratio = float(scales[1] / scales[0])

    @property
    def shifts(self) -> list[int]:
        return list(range(-self.max_shift, self.max_shift + 1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features of crops ``x [B, 3, H, W]`` (RGB 0..255), scale axis kept: ``[B, C, S, h, w]``."""
        return self.features(x)

    def head(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        """``0.1 * scale_xcorr`` (or ``adjust`` on every shift map): ``[N, 2m + 1, s, s]`` from 5-D features."""
        adjust = self.adjust
        return _apply_scale_head(self, zf, xf, None if adjust is None else adjust.weight,
                                 None if adjust is None else adjust.bias)

    def fast(self) -> "FastScaleHeadSiamFC":
        return FastScaleHeadSiamFC(self).eval()

    def extra_repr(self) -> str:
        return super().extra_repr() + f", head='scale', max_shift={self.max_shift}"


class FastScaleBackbone(FastBackbone):
    """:class:`~sesiam_lib.models.fast.FastBackbone` that returns ``[B, C, S, h, w]`` (no final scale max)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            x = (x / 255.0 - self.mean) / self.std
        xs = self.stem([x.contiguous(memory_format=torch.channels_last)])
        xs = self.layers(xs)
        return torch.stack([t.contiguous() for t in xs], dim=2)


class FastScaleHeadSiamFC(FastSiamFC):
    """Inference-only twin of a :class:`ScaleHeadSESiamFC` (BN folded; same scores to float rounding)."""

    head_type = "scale"

    def __init__(self, model: ScaleHeadSESiamFC) -> None:
        super().__init__(model)
        self.features = FastScaleBackbone(model.features, self.num_scales)
        self.max_shift = model.max_shift
        self.scale_ratio = model.scale_ratio

    @property
    def shifts(self) -> list[int]:
        return list(range(-self.max_shift, self.max_shift + 1))

    def head(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        if self.has_adjust:
            return _apply_scale_head(self, zf, xf, self.adjust_weight, self.adjust_bias)
        return _apply_scale_head(self, zf, xf, None, None)

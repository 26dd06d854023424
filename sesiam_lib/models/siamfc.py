"""The SiamFC wrapper shared by SiamFC+ and SE-SiamFC: correlation head, balanced loss, template/track.

A Siamese tracker embeds a template crop ``z`` and a search crop ``x`` with the same backbone and
cross-correlates the two feature maps (FACTS §3)::

    score = 0.1 * xcorr(phi(z), phi(x))           # SiamFC+
    score = 0.1 * xcorr(P(phi(z)), P(phi(x)))     # SE-SiamFC, P = max over the scale axis

Build option ``score_adjust=True`` (``build_model(name, score_adjust=True)``, every model) replaces the fixed
``0.1 *`` by a learnable affine map of the xcorr, the original SiamFC's ``adjust`` layer: a module
``adjust = nn.Conv2d(1, 1, 1)`` (state-dict keys ``adjust.weight`` ``[1, 1, 1, 1]`` and ``adjust.bias`` ``[1]``),
initialised to weight 1e-3, bias 0 (the original SiamFC's init; trained from scratch, the 0.1 scale gives logits
in the hundreds), and ``score = adjust(xcorr(...))``. Without it (the default) the model has no ``adjust`` module
and no extra state-dict keys: the released checkpoints load unchanged. Caveat, measured: from scratch with SGD at
lr 0.01 the gain's gradient is ~1e3 x the others' and one clipped step multiplies it ~100x (loss 3.7 -> 813), so
the synthetic v2 protocol uses ``out_scale=0.001`` instead: the same fixed multiple of the xcorr, no new keys.

Interface of every model (reference and fast):

- ``template(z)``: embed the template crops and cache the (scale-pooled) features; returns them.
- ``track(x)``: scores ``[N, 1, score_size, score_size]`` of ``N`` search crops against the cached template
  (one cached template is broadcast over the ``N`` crops; ``N`` cached templates are paired one-to-one).
- ``forward(z, x)``: training scores, template ``i`` against search ``i`` (a single template broadcasts).
- ``loss(scores, labels)``: :func:`balanced_bce_loss`.

Inputs are float32 tensors ``[B, 3, H, W]`` holding **RGB 0..255** values; each backbone converts them to the
format its weights expect (``input_format``): SiamFC+ flips to BGR and keeps raw 0..255, SE-SiamFC divides by
255 and normalises with the ImageNet mean/std stored as buffers ``features.mean`` / ``features.std``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["xcorr", "balanced_bce_loss", "SiamFC", "OUT_SCALE", "ADJUST_INIT_WEIGHT"]

OUT_SCALE = 0.1
"""The head multiplies the cross-correlation by 0.1 (both releases)."""

ADJUST_INIT_WEIGHT = 1e-3
"""Initial weight of the learnable ``adjust`` layer (``score_adjust=True``; bias 0), as the original SiamFC."""


def xcorr(zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
    """Cross-correlate template features ``zf [Nz, C, h, w]`` with search features ``xf [Nx, C, H, W]``.

    ``Nz == 1``: the template is slid over every search map. ``Nz == Nx``: template ``i`` against search ``i``
    (grouped convolution). Returns ``[Nx, 1, H - h + 1, W - w + 1]`` (no 0.1 factor).
    """
    if zf.dim() != 4 or xf.dim() != 4:
        raise ValueError(f"xcorr expects 4-D features, got template {tuple(zf.shape)} and search {tuple(xf.shape)}")
    nz, channels = zf.shape[:2]
    nx = xf.shape[0]
    if xf.shape[1] != channels:
        raise ValueError(f"xcorr: template has {channels} channels, search has {xf.shape[1]}")
    if nz == 1:
        return F.conv2d(xf, zf)
    if nz != nx:
        raise ValueError(f"xcorr: {nz} templates cannot be paired with {nx} search crops (need 1 or {nx})")
    out = F.conv2d(xf.reshape(1, nx * channels, xf.shape[2], xf.shape[3]), zf, groups=nx)
    return out.reshape(nx, 1, out.shape[-2], out.shape[-1])


def balanced_bce_loss(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Balanced logistic loss of SiamFC (FACTS §3).

    BCE-with-logits is averaged separately over the positive cells (label 1) and the negative cells
    (label 0) of the whole batch, and the two means are combined 0.5 / 0.5. Cells with any other label value
    are ignored. A term with no cells contributes 0 (as the release does).

    Args:
        scores: logits, any shape (typically ``[B, 1, S, S]``).
        labels: values 0 / 1 (``float`` or ``bool``) with as many elements as ``scores`` (reshaped), or a
            shape that broadcasts to it (e.g. one ``[S, S]`` map for the whole batch).
    """
    if labels.shape != scores.shape:
        labels = labels.reshape(scores.shape) if labels.numel() == scores.numel() else labels.expand_as(scores)
    pred = scores.reshape(-1)
    label = labels.reshape(-1).to(pred.dtype)
    pos = label == 1
    neg = label == 0
    zero = pred.sum() * 0.0  # keeps the graph and device/dtype
    loss_pos = F.binary_cross_entropy_with_logits(pred[pos], label[pos]) if bool(pos.any()) else zero
    loss_neg = F.binary_cross_entropy_with_logits(pred[neg], label[neg]) if bool(neg.any()) else zero
    return 0.5 * loss_pos + 0.5 * loss_neg


class SiamFC(nn.Module):
    """Siamese fully-convolutional tracker network: ``features`` (backbone with input conversion) + xcorr head.

    Subclasses set ``self.features`` (an extractor whose state-dict prefix is ``features.``) and the geometry.

    Attributes:
        exemplar_size: template crop side in pixels (127 for the full models).
        instance_size: search crop side in pixels (255 for the full models).
        score_size: side of the score map (17 for the full models).
        total_stride: pixels of the crop per score cell (8).
        input_format: what the backbone feeds its first conv (``'bgr_0_255'`` or ``'rgb_imagenet'``); the
            model's own inputs are always RGB 0..255.
        scale_equivariant: True for SE models (features carry a scale axis before the head's scale pooling).
        arch: registry name of the architecture (e.g. ``'se_siamfc_resnet22'``).
        adjust: ``None`` (the head is ``0.1 * xcorr``) or, with ``score_adjust=True``, the learnable
            ``nn.Conv2d(1, 1, 1)`` applied to the xcorr.
    """

    exemplar_size: int
    instance_size: int
    score_size: int
    total_stride: int = 8
    input_format: str
    scale_equivariant: bool = False
    arch: str = ""
    head_type: str = "pool"  # "scale": sesiam_lib.models.scale_head.ScaleHeadSESiamFC

    def __init__(self) -> None:
        super().__init__()
        self.out_scale = OUT_SCALE
        self.adjust: nn.Conv2d | None = None
        self.zf: torch.Tensor | None = None

    def _init_score_adjust(self, score_adjust: bool, out_scale: float | None = None) -> None:
        """``score_adjust=True``: add the learnable ``adjust`` layer (weight 1e-3, bias 0); ``out_scale``: another
        fixed factor than the release's 0.1 (e.g. 1e-3, SiamFC-PyTorch's for training from scratch); neither: keep
        ``0.1 *``. The two exclude each other (the adjust layer replaces the fixed factor)."""
        if not isinstance(score_adjust, bool):
            raise TypeError(f"score_adjust must be True or False, got {score_adjust!r}")
        if out_scale is not None:
            if score_adjust:
                raise ValueError("out_scale and score_adjust=True exclude each other: the learnable adjust layer "
                                 "replaces the fixed out_scale factor")
            if isinstance(out_scale, bool) or not isinstance(out_scale, (int, float)) or not \
                    math.isfinite(out_scale) or out_scale <= 0:
                raise ValueError(f"out_scale must be a finite number > 0, got {out_scale!r}")
            self.out_scale = float(out_scale)
        if score_adjust:
            self.adjust = nn.Conv2d(1, 1, kernel_size=1)
            with torch.no_grad():
                self.adjust.weight.fill_(ADJUST_INIT_WEIGHT)
                self.adjust.bias.zero_()
        else:
            self.adjust = None

    @property
    def score_adjust(self) -> bool:
        """True when the head is the learnable ``adjust(xcorr)`` instead of ``0.1 * xcorr``."""
        return self.adjust is not None

    # --- embedding -------------------------------------------------------------------------------------
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Head input for crops ``x`` (RGB 0..255): backbone features, scale-pooled for SE models -> Z2."""
        f = self.features(x)
        if f.dim() == 5:
            if getattr(self, "sesn_impl", None) == "fast":
                from ..sesn.fast_layers import fast_scale_pool

                f = fast_scale_pool(f)  # same values and gradients, keeps the fast layers' memory layout
            else:
                f = f.max(dim=2)[0]
        return f

    def head(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        """``0.1 * xcorr(zf, xf)`` (or ``adjust(xcorr(zf, xf))``) on (already scale-pooled) features."""
        if self.adjust is not None:
            return self.adjust(xcorr(zf, xf))
        return self.out_scale * xcorr(zf, xf)

    # --- tracking --------------------------------------------------------------------------------------
    def template(self, z: torch.Tensor) -> torch.Tensor:
        """Embed template crop(s) ``z [Nz, 3, E, E]`` (RGB 0..255) and cache the features for :meth:`track`."""
        self.zf = self.embed(z)
        return self.zf

    def track(self, x: torch.Tensor) -> torch.Tensor:
        """Scores ``[N, 1, score_size, score_size]`` of search crops ``x [N, 3, I, I]`` vs the cached template."""
        if self.zf is None:
            raise RuntimeError("track() called before template(): no cached template features")
        return self.head(self.zf, self.embed(x))

    # --- training --------------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Training scores ``[B, 1, s, s]``: template ``z[i]`` against search ``x[i]`` (``z`` may have batch 1)."""
        return self.head(self.embed(z), self.embed(x))

    def loss(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """:func:`balanced_bce_loss` of ``scores`` against 0/1 ``labels``."""
        return balanced_bce_loss(scores, labels)

    # --- gradual unfreezing (release recipe, FACTS §5) -----------------------------------------------
    def unfix(self, ratio: float) -> bool:
        """Release recipe: at training-progress ``ratio`` in (0, .1, .2, .3, .5, .6, .7) unfreeze more blocks.

        Delegates to ``features.unfix``; returns True when ``ratio`` is one of the milestones. By default (no
        call) every parameter is trainable and every module follows ``train()``/``eval()`` normally.
        """
        return self.features.unfix(ratio)

    def fast(self) -> nn.Module:
        """An eval-only optimised copy (see :func:`sesiam_lib.models.fast.optimize_for_inference`)."""
        from .fast import optimize_for_inference

        return optimize_for_inference(self)

    def extra_repr(self) -> str:
        return (f"arch={self.arch!r}, exemplar_size={self.exemplar_size}, instance_size={self.instance_size}, "
                f"score_size={self.score_size}, total_stride={self.total_stride}, "
                f"input_format={self.input_format!r}" + (", score_adjust=True" if self.score_adjust else "")
                + (f", out_scale={self.out_scale:g}" if self.out_scale != OUT_SCALE else ""))

"""Fast eval-mode inference path: ``optimize_for_inference(model) -> model``.

The reference models (:mod:`.ciresnet`, :mod:`.se_resnet` on the straightforward :mod:`sesiam_lib.sesn`
layers) expand every scale kernel at every call, run 1x1 scale convs as ``conv3d``, apply ``BatchNorm3d`` as a
separate pass and shuffle ``[B, C, S, H, W]`` tensors with permute copies. This module builds a separate,
inference-only module tree from a reference model. It computes the same function (to float rounding; tested
at 1e-5 relative) faster:

- **per-scale lists**: an ``H`` tensor ``[B, C, S, H, W]`` is kept as a list of ``S`` tensors ``[B, C, H, W]``,
  so every scale op is an ordinary 2-D op, nothing is permuted or concatenated, and scale pooling is an
  element-wise ``maximum``;
- **cached kernels**: the basis expansion ``weight @ basis`` is done once, at build time;
- **BN folded** into the preceding conv (weights scaled, a bias added), for SiamFC+ too;
- **per-scale support**: a K x K scale conv runs, at scale ``s``, only the non-zero support of its kernel
  (K = 5 at scales 0.9 and 1.26 is 3 x 3 inside zeros; the 9 x 9 stem is 5 x 5 / 7 x 7 / 9 x 9 at the three
  scales), with the padding reduced by as much;
- **crops folded into convs**: every residual block crops 1 px after its K x K conv; 1x1 convs, BN, ReLU and
  the residual sum are point-wise, so the crop moves up to the K x K conv, which then pads 1 px less (often
  not at all) and the 1x1 convs of the block and its shortcut run on the cropped map; the stem's 2-px crop
  is folded into the stem conv the same way (exact for zero and circular padding);
- **channels-last** memory format (oneDNN runs NHWC convolutions and pooling without re-layouts);
- on CPU, oneDNN's fused convolution kernels (``torch.ops.mkldnn._convolution_pointwise``: conv + bias + ReLU,
  conv + bias + residual add) when this PyTorch build has them (probed at import, checked against
  ``F.conv2d``; otherwise ``F.conv2d`` + in-place ops). They also avoid PyTorch's slow non-oneDNN path that
  ``F.conv2d`` takes for 1x1 convs with small batches on one thread;
- SiamFC+'s RGB -> BGR flip is folded into the stem weights;
- a ``score_adjust`` model's learnable ``adjust`` layer is copied as two buffers (``adjust_weight``,
  ``adjust_bias``) and applied to the xcorr exactly as the reference head does.

The returned model snapshots the weights: call :func:`optimize_for_inference` again after changing the
reference model. It is eval-only (``train(True)`` raises) and runs under ``torch.no_grad()``. It lives on the
reference model's device; ``.to()`` moves it.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..sesn import SESConvHH, SESConvHH1x1, SESConvZ2H
from .siamfc import SiamFC, xcorr

__all__ = ["optimize_for_inference", "FastSiamFC", "FastBackbone", "FastConv", "FastBlock", "kernel_support"]


def _probe_onednn():
    """oneDNN's fused conv(+bias)(+ReLU | +add) CPU kernels, if this PyTorch build has them and they agree with
    ``F.conv2d`` on a probe; else ``(None, None)`` and the fast path uses ``F.conv2d`` + separate ops."""
    try:
        ops = torch.ops.mkldnn
        unary, binary = ops._convolution_pointwise, ops._convolution_pointwise.binary
        g = torch.Generator().manual_seed(0)
        x = torch.randn(2, 4, 7, 7, generator=g).contiguous(memory_format=torch.channels_last)
        w = torch.randn(5, 4, 3, 3, generator=g).contiguous(memory_format=torch.channels_last)
        b = torch.randn(5, generator=g)
        r = torch.randn(2, 5, 7, 7, generator=g).contiguous(memory_format=torch.channels_last)
        ref = F.conv2d(x, w, b, padding=1)
        y1 = unary(x, w, b, [1, 1], [1, 1], [1, 1], 1, "relu", [None], "")
        y2 = binary(x, r, w, b, [1, 1], [1, 1], [1, 1], 1, "add", 1.0, None, [], "")
        if torch.allclose(y1, ref.relu(), atol=1e-4) and torch.allclose(y2, ref + r, atol=1e-4):
            return unary, binary
    except Exception:  # noqa: BLE001 - any failure means: not available
        pass
    return None, None


_POINTWISE, _POINTWISE_BINARY = _probe_onednn()


def _use_onednn(x: torch.Tensor) -> bool:
    return _POINTWISE is not None and x.device.type == "cpu" and x.dtype == torch.float32


def _bn_affine(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BN as ``y = scale * x + shift`` (float64)."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("optimize_for_inference needs BatchNorm layers with running statistics")
    scale = torch.rsqrt(bn.running_var.detach().double() + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.detach().double()
    shift = -bn.running_mean.detach().double() * scale
    if bn.bias is not None:
        shift = shift + bn.bias.detach().double()
    return scale, shift


def kernel_support(basis: torch.Tensor) -> list[int]:
    """Per scale, the number ``d`` of all-zero outer rings of the basis ``[F, S, K, K]``.

    The non-zero support at scale ``s`` is the centred ``(K - 2 d) x (K - 2 d)`` window.
    """
    size = basis.shape[-1]
    rings = []
    for s in range(basis.shape[1]):
        mask = basis[:, s].abs().amax(0) > 0
        d = 0
        while d < size // 2:
            border = mask[d:size - d, d:size - d].clone()
            border[1:-1, 1:-1] = False
            if bool(border.any()):
                break
            d += 1
        rings.append(d)
    return rings


class FastConv(nn.Module):
    """A convolution with BN folded in, acting on a list of per-scale tensors ``[B, C, H, W]``.

    It computes ``crop(conv(pad(x, padding), kernel), crop)`` of the original layer, where the original kernel of
    side ``kernel_size`` is zero outside a centred window ``kernel_size - 2 ring`` (the stored weight).

    Modes:
        ``'shared'``: the same 2-D conv at every scale (plain convs; 1x1 scale convs with one scale tap).
        ``'lift'``: Z2 -> H: one input tensor, scale ``s`` of the output uses ``weight_s``.
        ``'per_scale'``: H -> H: output scale ``s`` convolves the channel-concatenation of input scales
        ``s .. s + taps_s - 1`` with ``weight_s`` (taps past the last scale are dropped: they see zeros).
    """

    def __init__(self, mode: str, weights: list[torch.Tensor], bias: torch.Tensor, kernel_size: int,
                 padding: int, rings: list[int], taps: list[int], stride: int, padding_mode: str, relu: bool,
                 num_scales: int, crop: int = 0) -> None:
        super().__init__()
        if mode not in ("shared", "lift", "per_scale"):
            raise ValueError(f"unknown FastConv mode {mode!r}")
        self.mode = mode
        self.num_weights = len(weights)
        for i, w in enumerate(weights):
            self.register_buffer(f"weight{i}", w.contiguous(memory_format=torch.channels_last))
        self.register_buffer("bias", bias.contiguous())
        self.kernel_size = kernel_size
        self.padding = padding
        self.rings = list(rings)
        self.taps = list(taps)
        self.stride = stride
        self.padding_mode = padding_mode
        self.relu = relu
        self.num_scales = num_scales
        self.crop = crop

    def _window(self, size: int, ring: int) -> tuple[int, int]:
        """Input interval ``[a, b)`` (may reach outside ``[0, size)``) read by the cropped output."""
        n_out = (size + 2 * self.padding - self.kernel_size) // self.stride + 1
        a = self.crop * self.stride + ring - self.padding
        b = (n_out - 1 - self.crop) * self.stride + self.kernel_size - ring - self.padding
        return a, b

    def _conv(self, x: torch.Tensor, i: int, residual: torch.Tensor | None = None) -> torch.Tensor:
        """Conv ``i`` (+ bias) of ``x``; adds ``residual`` when given; applies ReLU when ``self.relu``."""
        w = getattr(self, f"weight{i}")
        ring = self.rings[i]
        (ah, bh), (aw, bw) = self._window(x.shape[-2], ring), self._window(x.shape[-1], ring)
        h, wd = x.shape[-2], x.shape[-1]
        pad = 0
        if ah < 0 or aw < 0 or bh > h or bw > wd:
            lo_h, hi_h, lo_w, hi_w = max(-ah, 0), max(bh - h, 0), max(-aw, 0), max(bw - wd, 0)
            if self.padding_mode == "constant" and lo_h == hi_h == lo_w == hi_w:
                pad = lo_h  # symmetric zero padding: let the convolution do it
            else:
                x = F.pad(x, [lo_w, hi_w, lo_h, hi_h], mode=self.padding_mode)
                x = x.contiguous(memory_format=torch.channels_last)
                ah, bh, aw, bw = ah + lo_h, bh + lo_h, aw + lo_w, bw + lo_w
                h, wd = x.shape[-2], x.shape[-1]
        if pad == 0 and (ah > 0 or aw > 0 or bh < h or bw < wd):
            x = x[..., max(ah, 0):min(bh, h), max(aw, 0):min(bw, wd)]
        if _use_onednn(x):
            if residual is not None:
                residual = residual.contiguous(memory_format=torch.channels_last)
                y = _POINTWISE_BINARY(x, residual, w, self.bias, [pad, pad], [self.stride] * 2, [1, 1], 1, "add",
                                      1.0, None, [], "")
                return y.relu_() if self.relu else y
            return _POINTWISE(x, w, self.bias, [pad, pad], [self.stride] * 2, [1, 1], 1,
                              "relu" if self.relu else "none", [None], "")
        y = F.conv2d(x, w, self.bias, stride=self.stride, padding=pad)
        if residual is not None:
            y = y.add_(residual)
        return y.relu_() if self.relu else y

    def forward(self, xs: list[torch.Tensor], residual: list[torch.Tensor] | None = None) -> list[torch.Tensor]:
        """Per-scale outputs; ``residual`` (one tensor per output scale) is added before the ReLU."""
        if self.mode == "shared":
            inputs = [(x, 0) for x in xs]
        elif self.mode == "lift":
            inputs = [(xs[0], s) for s in range(self.num_scales)]
        else:
            inputs = []
            for s in range(self.num_scales):
                t = self.taps[s]
                inp = xs[s] if t == 1 else torch.cat(xs[s:s + t], 1).contiguous(memory_format=torch.channels_last)
                inputs.append((inp, s))
        if residual is None:
            return [self._conv(x, i) for x, i in inputs]
        return [self._conv(x, i, r) for (x, i), r in zip(inputs, residual)]

    def extra_repr(self) -> str:
        shapes = [tuple(getattr(self, f"weight{i}").shape) for i in range(self.num_weights)]
        return (f"mode={self.mode!r}, weights={shapes}, kernel_size={self.kernel_size}, padding={self.padding}, "
                f"rings={self.rings}, stride={self.stride}, crop={self.crop}, "
                f"padding_mode={self.padding_mode!r}, relu={self.relu}")


def _fold_plain(conv: nn.Conv2d, bn: nn.Module, relu: bool, num_scales: int, crop: int = 0,
                flip_input: bool = False) -> FastConv:
    scale, shift = _bn_affine(bn)
    w = conv.weight.detach().double()
    if flip_input:
        w = w.flip(1)
    w = w * scale.view(-1, 1, 1, 1)
    if conv.bias is not None:
        shift = shift + scale * conv.bias.detach().double()
    dtype = conv.weight.dtype
    if conv.padding_mode != "zeros":
        raise ValueError(f"optimize_for_inference: unsupported Conv2d padding_mode {conv.padding_mode!r}")
    return FastConv("shared", [w.to(dtype)], shift.to(dtype), conv.kernel_size[0], conv.padding[0], [0], [1],
                    conv.stride[0], "constant", relu, num_scales, crop)


def _fold_1x1(conv: SESConvHH1x1, bn: nn.Module, relu: bool, num_scales: int) -> FastConv:
    scale, shift = _bn_affine(bn)
    w = conv.expanded_kernel().detach().double()[..., 0, 0]  # [Cout, Cin, L]
    w = w * scale.view(-1, 1, 1)
    if conv.bias is not None:
        shift = shift + scale * conv.bias.detach().double()
    dtype = conv.weight.dtype
    taps = conv.scale_size
    if taps == 1:
        return FastConv("shared", [w[:, :, 0, None, None].to(dtype)], shift.to(dtype), 1, 0, [0], [1],
                        conv.stride, "constant", relu, num_scales)
    weights, ntaps = [], []
    for s in range(num_scales):
        t = min(taps, num_scales - s)
        weights.append(torch.cat([w[:, :, i] for i in range(t)], 1)[..., None, None].to(dtype))
        ntaps.append(t)
    return FastConv("per_scale", weights, shift.to(dtype), 1, 0, [0] * num_scales, ntaps, conv.stride,
                    "constant", relu, num_scales)


def _fold_kxk(conv: SESConvZ2H | SESConvHH, bn: nn.Module, relu: bool, crop: int = 0) -> FastConv:
    scale, shift = _bn_affine(bn)
    with torch.no_grad():
        kernel = conv.weight.detach().double() @ conv.basis.double().reshape(conv.num_funcs, -1)
    k, num_scales = conv.kernel_size, conv.num_scales
    lifting = isinstance(conv, SESConvZ2H)
    taps = 1 if lifting else conv.scale_size
    kernel = kernel.reshape(conv.out_channels, conv.in_channels, taps, num_scales, k, k)
    kernel = kernel * scale.view(-1, 1, 1, 1, 1, 1)
    if conv.bias is not None:
        shift = shift + scale * conv.bias.detach().double()
    rings = kernel_support(conv.basis)
    weights, ntaps = [], []
    for s in range(num_scales):
        t = 1 if lifting else min(taps, num_scales - s)
        w = torch.cat([kernel[:, :, i, s] for i in range(t)], 1)
        d = rings[s]
        weights.append(w[..., d:k - d, d:k - d].to(conv.weight.dtype))
        ntaps.append(t)
    return FastConv("lift" if lifting else "per_scale", weights, shift.to(conv.weight.dtype), k, conv.padding,
                    rings, ntaps, conv.stride, conv.padding_mode, relu, num_scales, crop)


def _fold_any(conv: nn.Module, bn: nn.Module, relu: bool, num_scales: int, crop: int = 0,
              flip_input: bool = False) -> FastConv:
    if isinstance(conv, nn.Conv2d):
        return _fold_plain(conv, bn, relu, num_scales, crop, flip_input)
    if isinstance(conv, SESConvHH1x1):
        if crop:
            raise ValueError("crop folding into 1x1 convs is not used")
        return _fold_1x1(conv, bn, relu, num_scales)
    if isinstance(conv, (SESConvZ2H, SESConvHH)):
        return _fold_kxk(conv, bn, relu, crop)
    raise TypeError(f"optimize_for_inference: unsupported conv {type(conv).__name__}")


def _scale_max(xs: list[torch.Tensor]) -> torch.Tensor:
    out = xs[0]
    for x in xs[1:]:
        out = torch.maximum(out, x)
    return out


class FastBlock(nn.Module):
    """A folded bottleneck: ``conv1 -> conv2 (crop 1 folded in) -> conv3`` + folded shortcut on the cropped
    input, then ReLU."""

    def __init__(self, block: nn.Module, num_scales: int) -> None:
        super().__init__()
        self.pool_input = bool(getattr(block, "pool_input", False))
        self.conv1 = _fold_any(block.conv1, block.bn1, True, num_scales)
        self.conv2 = _fold_any(block.conv2, block.bn2, True, num_scales, crop=1)
        self.conv3 = _fold_any(block.conv3, block.bn3, block.last_relu, num_scales)
        self.downsample = None
        if block.downsample is not None:
            self.downsample = _fold_any(block.downsample[0], block.downsample[1], False, num_scales)
        self.last_relu = block.last_relu

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        h = [_scale_max(xs)] if self.pool_input else xs
        h = self.conv2(self.conv1(h))
        cropped = [x[..., 1:-1, 1:-1] for x in xs]
        residual = self.downsample(cropped) if self.downsample is not None else cropped
        return self.conv3(h, residual)  # + residual, then ReLU if last_relu


class _Pool(nn.Module):
    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [F.max_pool2d(x, kernel_size=2, stride=2) for x in xs]


class FastBackbone(nn.Module):
    """Folded backbone: RGB 0..255 crops ``[B, 3, H, W]`` -> head input ``[B, C, h, w]`` (scale-pooled)."""

    def __init__(self, extractor: nn.Module, num_scales: int) -> None:
        super().__init__()
        trunk = extractor.features
        self.num_scales = num_scales
        self.normalize = hasattr(extractor, "mean")
        if self.normalize:
            self.register_buffer("mean", extractor.mean.detach().clone().view(1, -1, 1, 1))
            self.register_buffer("std", extractor.std.detach().clone().view(1, -1, 1, 1))
        flip = getattr(extractor, "input_format", "") == "bgr_0_255"
        self.stem = _fold_any(trunk.conv1, trunk.bn1, True, num_scales, crop=2, flip_input=flip)
        layers: list[nn.Module] = [_Pool()]
        for layer in (trunk.layer1, trunk.layer2):
            for m in layer:
                layers.append(_Pool() if isinstance(m, (nn.MaxPool2d, nn.MaxPool3d)) else FastBlock(m, num_scales))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            x = (x / 255.0 - self.mean) / self.std
        xs = self.stem([x.contiguous(memory_format=torch.channels_last)])
        xs = self.layers(xs)
        return _scale_max(xs).contiguous()


class FastSiamFC(SiamFC):
    """Inference-only twin of a :class:`SiamFC` model, built by :func:`optimize_for_inference`.

    Same interface and attributes (``template``, ``track``, ``forward``, ``exemplar_size`` ...); no parameters
    (all weights are buffers), no BN, no training.
    """

    def __init__(self, model: SiamFC) -> None:
        super().__init__()
        for name in ("exemplar_size", "instance_size", "score_size", "total_stride", "input_format",
                     "scale_equivariant", "arch", "spec", "exemplar_feature_size", "instance_feature_size"):
            if hasattr(model, name):
                setattr(self, name, copy.copy(getattr(model, name)))
        self.out_scale = model.out_scale
        adjust = getattr(model, "adjust", None)
        self.has_adjust = adjust is not None
        if adjust is not None:  # snapshot of the learnable score map (buffers: no parameters here)
            self.register_buffer("adjust_weight", adjust.weight.detach().clone())
            self.register_buffer("adjust_bias", adjust.bias.detach().clone())
        self.num_scales = len(model.spec.scales) if model.scale_equivariant else 1
        self.features = FastBackbone(model.features, self.num_scales)
        if model.scale_equivariant:
            self.padding_mode = model.padding_mode
        self.training = False

    @property
    def score_adjust(self) -> bool:
        return self.has_adjust

    def head(self, zf: torch.Tensor, xf: torch.Tensor) -> torch.Tensor:
        """As :meth:`SiamFC.head`: ``0.1 * xcorr`` or, for a ``score_adjust`` model, ``adjust(xcorr)``."""
        if self.has_adjust:
            return F.conv2d(xcorr(zf, xf), self.adjust_weight, self.adjust_bias)
        return self.out_scale * xcorr(zf, xf)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.features(x)

    def train(self, mode: bool = True) -> "FastSiamFC":
        if mode:
            raise RuntimeError("FastSiamFC is inference-only: train the reference model and call "
                               "optimize_for_inference() again")
        return super().train(False)

    def unfix(self, ratio: float) -> bool:
        raise RuntimeError("FastSiamFC is inference-only")

    def fast(self) -> "FastSiamFC":
        return self


def optimize_for_inference(model: SiamFC) -> FastSiamFC:
    """Build the fast eval-only twin of ``model`` (SiamFC+ or SE-SiamFC, full or tiny).

    The reference ``model`` is not modified and stays usable as the numerical reference. BN layers are folded
    with their *running* statistics, i.e. the result computes ``model.eval()``'s function whatever mode
    ``model`` is in.
    """
    if isinstance(model, FastSiamFC):
        return model
    if not isinstance(model, SiamFC):
        raise TypeError(f"optimize_for_inference expects a SiamFC model, got {type(model).__name__}")
    if getattr(model, "head_type", "pool") == "scale":
        from .scale_head import FastScaleHeadSiamFC

        return FastScaleHeadSiamFC(model).eval()
    return FastSiamFC(model).eval()

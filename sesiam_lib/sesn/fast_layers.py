"""Fast scale convolutions for training (autograd), numerically equal to the reference layers of :mod:`.layers`.

Every class here is a subclass of its reference twin with the *same* parameters, buffers and state-dict keys
(so checkpoints are interchangeable and ``isinstance`` checks, :func:`~sesiam_lib.models.optimize_for_inference`
and :func:`~sesiam_lib.models.transfer_weights` keep working); only ``forward`` differs. Outputs and gradients
equal the reference to float rounding (tested at 1e-5 relative, ``tests/test_sesn_fast.py``).

What makes them faster (see ``benchmarks/bench_training.py`` for the measured effect):

- **scale-major, channels-last memory**: an ``H`` tensor keeps its logical shape ``[B, C, S, H, W]`` (the
  public contract) but the outputs of these layers are laid out in memory as ``[S, B, H, W, C]``. Then
  ``x.permute(2, 0, 1, 3, 4).reshape(S * B, C, H, W)`` -- the scales folded into the batch -- is a free view in
  channels-last format (oneDNN's fast convolution and batch-norm kernels, no re-layouts), every scale ``s`` is a
  contiguous block, and no layer permutes or copies. Element-wise ops (ReLU, residual sums) keep the layout;
  spatial crops (:func:`fast_center_crop`) and scale pooling (:func:`fast_scale_pool`) are autograd functions
  whose gradients keep it too (autograd's own slice/max backward allocate contiguous gradients, which would force
  a conversion in every layer upstream). Inputs in any other layout are accepted (one copy). For callers: these
  outputs are not ``is_contiguous()``; use ``reshape``, not ``view``; in-place ops on them work but cost autograd
  two copies (they are views), so the fast models run their ReLUs out of place.
- **per-scale support**: the basis of the small scales is exactly zero outside a centred window (K = 9, E = 7:
  5x5 / 7x7 / 9x9; K = 5, E = 3: 3x3 / 3x3 / 5x5). Scale ``s`` is convolved with its kernel cropped to that
  window and ``d_s`` less padding (or, when the padding is smaller than ``d_s``, a correspondingly cropped
  input), which gives the same outputs and gradients: the cropped taps only ever multiply exact zeros. The
  kernel of scale ``s`` is expanded from the cropped basis directly (``weight @ basis_s``).
- **1x1 scale convs as 2-D convs** on the ``[S * B, C, H, W]`` view (one call); interscale taps (``L > 1``) as
  one extra 2-D conv per tap on the scales ``i..S-1``, added in place to the output scales ``0..S-1-i``.
- per-scale blocks are taken with ``split`` (its backward is one channels-last ``cat``; slicing's backward would
  allocate a contiguous full-size zero gradient per scale); ReLUs in the fast models run out of place.
- **BatchNorm over ``[B, C, S, H, W]``** on the ``[S * B, C, H, W]`` view: the same per-channel statistics
  (mean and variance over ``B, S, H, W``), running-stat updates and ``num_batches_tracked``, no copies.
- **2x2 spatial max-pool** (``MaxPool3d((1, 2, 2))``) as a 2-D max-pool on the same view.

What they cannot do: they compute exactly the reference's function, so the only work they remove is the exact-zero
taps -- a training step of ``se_siamfc_tiny`` does 22.3 instead of 37.9 GFLOP of convolution (1.69x fewer; the
full model 137 vs 251, 1.83x), which bounds the speed-up at equal efficiency (measured 1.56x and 1.43x, 2 threads).
The rest of the SE step over SiamFC+'s is memory-bound batch norm and element-wise work on three scales
(``benchmarks/bench_training.py --breakdown``); ``torch.compile`` did not help on the CPU.

Switch: ``build_model(name, sesn_impl="fast" | "reference")``; :func:`layer_classes` gives the classes of an
implementation and :func:`convert_sesn_impl` switches an existing module tree in place (parameters untouched).
"""

from __future__ import annotations

from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import nn

from .layers import SESConvHH, SESConvHH1x1, SESConvZ2H, scale_pool

__all__ = [
    "SESN_IMPLS",
    "DEFAULT_SESN_IMPL",
    "check_sesn_impl",
    "FastSESConvZ2H",
    "FastSESConvHH",
    "FastSESConvHH1x1",
    "FastBatchNorm3d",
    "FastMaxPool3d",
    "fast_scale_pool",
    "fast_center_crop",
    "channels_last",
    "support_rings",
    "to_scale_major",
    "from_scale_major",
    "layer_classes",
    "convert_sesn_impl",
]

SESN_IMPLS = ("fast", "reference")
DEFAULT_SESN_IMPL = "fast"


def check_sesn_impl(impl: str) -> str:
    """``impl`` if it is one of :data:`SESN_IMPLS`, else a ``ValueError`` naming the choices."""
    if impl not in SESN_IMPLS:
        raise ValueError(f"sesn_impl must be one of {SESN_IMPLS}, got {impl!r}")
    return impl


# ----------------------------------------------------------------------------------------------------
# layout helpers


_CL = torch.channels_last


def channels_last(x: torch.Tensor) -> torch.Tensor:
    """``x`` in channels-last memory (a no-op when it already is)."""
    return x.contiguous(memory_format=_CL)


def to_scale_major(x: torch.Tensor) -> torch.Tensor:
    """``[B, C, S, H, W] -> [S * B, C, H, W]`` (scales folded into the batch), channels-last: a free view of the
    outputs of the fast layers, one copy for any other layout (e.g. after a spatial crop)."""
    b, c, s, h, w = x.shape
    return channels_last(x.permute(2, 0, 1, 3, 4).reshape(s * b, c, h, w))


def from_scale_major(y: torch.Tensor, num_scales: int) -> torch.Tensor:
    """``[S * B, C, H, W] -> [B, C, S, H, W]``: the inverse of :func:`to_scale_major`, always a view."""
    n, c, h, w = y.shape
    return y.view(num_scales, n // num_scales, c, h, w).permute(1, 2, 0, 3, 4)


def support_rings(basis: torch.Tensor) -> list[int]:
    """Per scale, the number ``d`` of all-zero outer rings of the basis ``[F, S, K, K]`` (its non-zero support
    at scale ``s`` is the centred ``(K - 2d) x (K - 2d)`` window)."""
    mask = basis.detach().abs().amax(0).cpu() > 0  # [S, K, K]
    size = basis.shape[-1]
    rings = []
    for s in range(mask.shape[0]):
        d = 0
        while d < size // 2:
            inner = mask[s, d:size - d, d:size - d]
            if bool(inner[0].any() or inner[-1].any() or inner[:, 0].any() or inner[:, -1].any()):
                break
            d += 1
        rings.append(d)
    return rings


def _conv_on_support(x: torch.Tensor, kernel: torch.Tensor, stride: int, padding: int, ring: int,
                     padding_mode: str) -> torch.Tensor:
    """``conv2d(pad(x, padding), K)`` for a ``K x K`` kernel that is zero outside its centred window ``kernel``
    (``ring`` rings cropped): the padding shrinks by ``ring``; below zero, the input is cropped instead."""
    pad = padding - ring
    if pad < 0:
        c = -pad
        x = x[..., c:x.shape[-2] - c, c:x.shape[-1] - c]
        pad = 0
    if pad and padding_mode == "circular":
        x = channels_last(F.pad(x, [pad] * 4, mode="circular"))
        pad = 0
    return F.conv2d(x, kernel, stride=stride, padding=pad)


class _SupportMixin:
    """Per-scale cropped kernels of a K x K scale conv; the support is re-derived whenever the basis changes
    (``load_state_dict`` into it, ``.to()``)."""

    _rings_key: tuple | None = None
    _rings: list[int]

    def support(self) -> list[int]:
        basis = self.basis
        key = (basis.data_ptr(), basis._version, basis.device, basis.shape)
        if self._rings_key != key:
            self._rings = support_rings(basis)
            self._rings_key = key
        return self._rings

    def _scale_basis(self, s: int, ring: int) -> torch.Tensor:
        """The basis of scale ``s`` on its support, ``[F, n * n]``."""
        k = self.kernel_size
        return self.basis[:, s, ring:k - ring, ring:k - ring].reshape(self.num_funcs, -1)


class FastSESConvZ2H(_SupportMixin, SESConvZ2H):
    """:class:`~sesiam_lib.sesn.layers.SESConvZ2H` computed per scale on the kernel's non-zero support.

    ``[B, Cin, H, W] -> [B, Cout, S, H', W']`` (scale-major memory, see the module docstring).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = channels_last(x)
        rings = self.support()
        outs = []
        for s, d in enumerate(rings):
            n = self.kernel_size - 2 * d
            kernel = (self.weight @ self._scale_basis(s, d)).view(self.out_channels, self.in_channels, n, n)
            outs.append(_conv_on_support(x, kernel, self.stride, self.padding, d, self.padding_mode))
        y = torch.cat(outs, 0) if len(outs) > 1 else outs[0]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return from_scale_major(y, self.num_scales)


class FastSESConvHH(_SupportMixin, SESConvHH):
    """:class:`~sesiam_lib.sesn.layers.SESConvHH` computed per scale (and interscale tap) on the kernel's
    non-zero support, on the scale-major view of the input. ``[B, Cin, S, H, W] -> [B, Cout, S, H', W']``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[2] != self.num_scales:
            raise ValueError(f"SESConvHH expects [B, C, S={self.num_scales}, H, W], got {tuple(x.shape)}")
        # per-scale blocks [B, Cin, H, W] via split (its backward is one cat that keeps channels-last; slicing's
        # backward would allocate a full contiguous zero gradient per scale)
        parts = to_scale_major(x).split(x.shape[0])
        rings = self.support()
        outs = []
        for s, d in enumerate(rings):
            n = self.kernel_size - 2 * d
            taps = min(self.scale_size, self.num_scales - s)
            # kernels of the taps i < taps at scale s: [Cout, Cin, taps, n * n]
            kernel = self.weight[:, :, :taps] @ self._scale_basis(s, d)
            acc = None
            for i in range(taps):
                x_i = parts[s + i]
                k_i = kernel[:, :, i].reshape(self.out_channels, self.in_channels, n, n)
                y = _conv_on_support(x_i, k_i, self.stride, self.padding, d, self.padding_mode)
                acc = y if acc is None else acc + y
            outs.append(acc)
        y = torch.cat(outs, 0) if len(outs) > 1 else outs[0]
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1)
        return from_scale_major(y, self.num_scales)


class FastSESConvHH1x1(SESConvHH1x1):
    """:class:`~sesiam_lib.sesn.layers.SESConvHH1x1` as 2-D 1x1 convs on the ``[S * B, C, H, W]`` view: one
    conv for the first tap on every scale, one more per interscale tap ``i`` on scales ``i..S-1`` (added in
    place to the output scales ``0..S-1-i``). ``[B, Cin, S, H, W] -> [B, Cout, S, H', W']``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5:
            raise ValueError(f"SESConvHH1x1 expects [B, C, S, H, W], got {tuple(x.shape)}")
        batch, num_scales = x.shape[0], x.shape[2]
        xs = to_scale_major(x)
        if self.scale_size == 1:
            return from_scale_major(F.conv2d(xs, self.weight, self.bias, stride=self.stride), num_scales)
        weight = self.weight  # [Cout, Cin, L, 1, 1]
        parts = xs.split(batch)  # backward: one channels-last cat (slicing's would be a contiguous zero tensor)
        y = F.conv2d(xs, weight[:, :, 0], self.bias, stride=self.stride)
        for i in range(1, min(self.scale_size, num_scales)):
            tail = torch.cat(parts[i:]) if num_scales - i > 1 else parts[i]
            y_i = F.conv2d(tail, weight[:, :, i], None, stride=self.stride)
            y[:(num_scales - i) * batch] += y_i
        return from_scale_major(y, num_scales)


class FastBatchNorm3d(nn.BatchNorm3d):
    """``BatchNorm3d`` over ``[B, C, S, H, W]`` computed as a 2-D batch norm of the scale-major
    ``[S * B, C, H, W]`` view: identical per-channel statistics (over ``B, S, H, W``), running statistics,
    ``num_batches_tracked`` and parameters, no copies, channels-last kernels."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        # nn.BatchNorm3d.forward's bookkeeping, verbatim in effect
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        y = F.batch_norm(to_scale_major(x), self.running_mean if track else None,
                         self.running_var if track else None, self.weight, self.bias, use_batch_stats, factor,
                         self.eps)
        return from_scale_major(y, x.shape[2])


class FastMaxPool3d(nn.MaxPool3d):
    """``MaxPool3d`` with a ``(1, k, k)`` window as a 2-D max-pool on the scale-major ``[S * B, C, H, W]`` view
    (falls back to ``MaxPool3d`` for other windows or ``return_indices``)."""

    def _planar(self) -> bool:
        def triple(v):
            return tuple(v) if isinstance(v, (tuple, list)) else (v, v, v)

        k, st, p, dil = triple(self.kernel_size), triple(self.stride), triple(self.padding), triple(self.dilation)
        return k[0] == 1 and st[0] == 1 and p[0] == 0 and dil[0] == 1 and not self.return_indices

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or not self._planar():
            return super().forward(x)

        def pair(v):
            return tuple(v)[1:] if isinstance(v, (tuple, list)) else (v, v)

        y = F.max_pool2d(to_scale_major(x), pair(self.kernel_size), pair(self.stride),
                         pair(self.padding), pair(self.dilation), ceil_mode=self.ceil_mode)
        return from_scale_major(y, x.shape[2])


def _layout(x: torch.Tensor) -> tuple:
    """Shape and strides of ``torch.empty_like(x)`` (``x``'s own strides when it is dense, else contiguous)."""
    like = torch.empty_like(x, device="meta")
    return tuple(like.shape), like.stride()


def _zeros_like_layout(layout: tuple, ref: torch.Tensor) -> torch.Tensor:
    shape, stride = layout
    return torch.empty_strided(shape, stride, dtype=ref.dtype, device=ref.device).zero_()


class _ScaleMax(torch.autograd.Function):
    """Max over the scale axis of ``[B, C, S, H, W]`` with ``Tensor.max(dim)``'s values and gradient routing (the
    index it returns gets the whole gradient), as a reduction over the leading axis of a flat ``[S, N]`` view when
    the input is scale-major (then the output is channels-last and the gradient keeps the scale-major layout;
    ``torch.max``'s own backward allocates it contiguous, which would break the layout upstream)."""

    @staticmethod
    def forward(ctx, x):
        b, c, s, h, w = x.shape
        ctx.layout = _layout(x)
        flat = x.permute(2, 0, 3, 4, 1)  # [S, B, H, W, C]: contiguous for a scale-major channels-last input
        if flat.is_contiguous():
            values, index = flat.reshape(s, -1).max(dim=0)
            ctx.flat = True
            values = values.view(b, h, w, c).permute(0, 3, 1, 2)
        else:
            values, index = x.max(dim=2)
            ctx.flat = False
        ctx.save_for_backward(index)
        return values

    @staticmethod
    def backward(ctx, grad):
        (index,) = ctx.saved_tensors
        shape, stride = ctx.layout
        grad_in = _zeros_like_layout(ctx.layout, grad)
        if ctx.flat:
            b, c, s, h, w = shape
            g = grad.permute(0, 2, 3, 1).reshape(1, -1)  # [1, B*H*W*C] (a view for a channels-last gradient)
            grad_in.permute(2, 0, 3, 4, 1).view(s, -1).scatter_(0, index.unsqueeze(0), g)
        else:
            grad_in.scatter_(2, index.unsqueeze(2), grad.unsqueeze(2))
        return grad_in


def fast_scale_pool(x: torch.Tensor) -> torch.Tensor:
    """:func:`~sesiam_lib.sesn.layers.scale_pool` (max over ``S``: same values, same gradient routing as
    ``x.max(dim=2)``) as a flat reduction over the leading axis of the scale-major memory; the input's gradient
    keeps its memory layout."""
    return _ScaleMax.apply(x)


class _Crop(torch.autograd.Function):
    """Spatial crop of a 4-D tensor into a new channels-last tensor; the gradient is laid out like the input
    (autograd's slice backward allocates it contiguous)."""

    @staticmethod
    def forward(ctx, x, crop):
        ctx.layout = _layout(x)
        ctx.crop = crop
        return channels_last(x[..., crop:x.shape[-2] - crop, crop:x.shape[-1] - crop])

    @staticmethod
    def backward(ctx, grad):
        c = ctx.crop
        grad_in = F.pad(grad, [c, c, c, c])  # one pass; keeps channels-last
        if grad_in.stride() != ctx.layout[1]:
            grad_in = _zeros_like_layout(ctx.layout, grad)
            grad_in[..., c:grad_in.shape[-2] - c, c:grad_in.shape[-1] - c] = grad
        return grad_in, None


def fast_center_crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    """``x[..., crop:-crop, crop:-crop]`` of an ``H`` tensor ``[B, C, S, H, W]`` as a new scale-major
    channels-last tensor (one copy, which the next conv would otherwise make, once per consumer), with the
    gradient in the same layout."""
    return from_scale_major(_Crop.apply(to_scale_major(x), crop), x.shape[2])


# ----------------------------------------------------------------------------------------------------
# choosing / switching the implementation

_REFERENCE = SimpleNamespace(impl="reference", SESConvZ2H=SESConvZ2H, SESConvHH=SESConvHH, SESConvHH1x1=SESConvHH1x1,
                             BatchNorm3d=nn.BatchNorm3d, MaxPool3d=nn.MaxPool3d, scale_pool=scale_pool)
_FAST = SimpleNamespace(impl="fast", SESConvZ2H=FastSESConvZ2H, SESConvHH=FastSESConvHH,
                        SESConvHH1x1=FastSESConvHH1x1, BatchNorm3d=FastBatchNorm3d, MaxPool3d=FastMaxPool3d,
                        scale_pool=fast_scale_pool)
_SWAP = {  # reference class <-> fast class (same parameters and buffers, only forward differs)
    SESConvZ2H: FastSESConvZ2H, SESConvHH: FastSESConvHH, SESConvHH1x1: FastSESConvHH1x1,
    nn.BatchNorm3d: FastBatchNorm3d, nn.MaxPool3d: FastMaxPool3d,
}


def layer_classes(impl: str) -> SimpleNamespace:
    """The layer classes (``SESConvZ2H``, ``SESConvHH``, ``SESConvHH1x1``, ``BatchNorm3d``, ``MaxPool3d``) and the
    ``scale_pool`` function of implementation ``impl`` (``'fast'`` or ``'reference'``)."""
    return _FAST if check_sesn_impl(impl) == "fast" else _REFERENCE


def convert_sesn_impl(module: nn.Module, impl: str) -> nn.Module:
    """Switch every scale conv, ``BatchNorm3d`` and ``MaxPool3d`` of ``module`` (in place) to implementation
    ``impl``; parameters, buffers and state-dict keys are untouched. Modules that hold an ``sesn_impl``
    attribute (the SE models and backbones) are updated too. Returns ``module``."""
    check_sesn_impl(impl)
    back = {v: k for k, v in _SWAP.items()}
    for m in module.modules():
        table = _SWAP if impl == "fast" else back
        cls = table.get(type(m))
        if cls is not None:
            m.__class__ = cls
        if isinstance(vars(m).get("sesn_impl"), str):  # SEResNet, SEBottleneck (the models derive theirs)
            m.sesn_impl = impl
    return module

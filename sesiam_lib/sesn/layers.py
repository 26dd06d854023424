"""Scale-equivariant convolutions (FACTS §2), the straightforward reference implementation.

Tensor conventions (as in escnn/e2cnn, the group axis explicit):

- ``Z2`` feature maps: ``[B, C, H, W]``;
- ``H`` feature maps (scale-translation group): ``[B, C, S, H, W]``, ``S`` = number of scales; index ``s``
  along the scale axis holds the response of the kernel at scale ``scales[s]``.

Every layer here expands its kernel from the basis at every call and runs the plain PyTorch op. This is the
numerical reference: the optimised inference path (:mod:`sesiam_lib.models.fast`) is tested against it.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .basis import hermite_basis

__all__ = ["SESConvZ2H", "SESConvHH", "SESConvHH1x1", "ScalePool", "scale_pool", "PADDING_MODES"]

PADDING_MODES = ("constant", "circular")


def _check_padding_mode(padding_mode: str) -> str:
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    return padding_mode


def _conv2d_padded(x: torch.Tensor, kernel: torch.Tensor, stride: int, padding: int, padding_mode: str,
                   groups: int = 1) -> torch.Tensor:
    """2-D convolution with spatial padding of the given mode (zeros or circular)."""
    if padding and padding_mode == "circular":
        x = F.pad(x, [padding] * 4, mode="circular")
        padding = 0
    return F.conv2d(x, kernel, stride=stride, padding=padding, groups=groups)


class _SESConvBase(nn.Module):
    """Shared set-up of the K x K scale convolutions: basis buffer, geometry, padding mode."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, effective_size: int,
                 scales: Sequence[float], stride: int, padding: int, bias: bool, padding_mode: str) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.effective_size = effective_size
        self.scales = [float(s) for s in scales]
        self.num_scales = len(self.scales)
        self.stride = stride
        self.padding = padding
        self.padding_mode = _check_padding_mode(padding_mode)
        self.register_buffer("basis", hermite_basis(kernel_size, self.scales, effective_size))
        self.num_funcs = self.basis.shape[0]
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def _init_weight(self) -> None:
        # He-style init on the basis coefficients: fan-in = Cin * F (the release uses kaiming_uniform_ a=sqrt(5))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"effective_size={self.effective_size}, scales={[round(s, 3) for s in self.scales]}, "
                f"stride={self.stride}, padding={self.padding}, padding_mode={self.padding_mode!r}, "
                f"bias={self.bias is not None}")


class SESConvZ2H(_SESConvBase):
    """Lifting scale convolution ``Z2 -> H``: ``[B, Cin, H, W] -> [B, Cout, S, H', W']``.

    Weight ``[Cout, Cin, F]`` (coefficients on the basis); kernel ``k = weight @ basis``,
    ``[Cout, Cin, S, K, K]``. Output channel ``(c, s)`` is an ordinary 2-D convolution of the input with
    ``k[c, :, s]``.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, effective_size: int,
                 scales: Sequence[float], stride: int = 1, padding: int = 0, bias: bool = False,
                 padding_mode: str = "constant") -> None:
        super().__init__(in_channels, out_channels, kernel_size, effective_size, scales, stride, padding,
                         bias, padding_mode)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, self.num_funcs))
        self._init_weight()

    def expanded_kernel(self) -> torch.Tensor:
        """The full kernel ``[Cout, Cin, S, K, K]``."""
        kernel = self.weight @ self.basis.reshape(self.num_funcs, -1)
        return kernel.reshape(self.out_channels, self.in_channels, self.num_scales, self.kernel_size,
                              self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, Cin, H, W] -> [B, Cout, S, H', W']``."""
        kernel = self.expanded_kernel().permute(0, 2, 1, 3, 4)
        kernel = kernel.reshape(-1, self.in_channels, self.kernel_size, self.kernel_size)
        y = _conv2d_padded(x, kernel, self.stride, self.padding, self.padding_mode)
        y = y.reshape(y.shape[0], self.out_channels, self.num_scales, y.shape[-2], y.shape[-1])
        if self.bias is not None:
            y = y + self.bias.view(1, -1, 1, 1, 1)
        return y


class SESConvHH(_SESConvBase):
    """Group scale convolution ``H -> H``: ``[B, Cin, S, H, W] -> [B, Cout, S, H', W']``.

    Weight ``[Cout, Cin, L, F]`` with ``L = scale_size`` interscale taps; kernel
    ``[Cout, Cin, L, S, K, K]``. ``out[:, :, s] = sum_{i<L} conv2d(x[:, :, s+i], k[:, :, i, s])`` with
    ``x[:, :, s+i] = 0`` past the last scale.
    """

    def __init__(self, in_channels: int, out_channels: int, scale_size: int, kernel_size: int,
                 effective_size: int, scales: Sequence[float], stride: int = 1, padding: int = 0,
                 bias: bool = False, padding_mode: str = "constant") -> None:
        super().__init__(in_channels, out_channels, kernel_size, effective_size, scales, stride, padding,
                         bias, padding_mode)
        if scale_size < 1:
            raise ValueError(f"SESConvHH: scale_size must be >= 1, got {scale_size}")
        self.scale_size = scale_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, scale_size, self.num_funcs))
        self._init_weight()

    def expanded_kernel(self) -> torch.Tensor:
        """The full kernel ``[Cout, Cin, L, S, K, K]``."""
        kernel = self.weight @ self.basis.reshape(self.num_funcs, -1)
        return kernel.reshape(self.out_channels, self.in_channels, self.scale_size, self.num_scales,
                              self.kernel_size, self.kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, Cin, S, H, W] -> [B, Cout, S, H', W']``."""
        if x.dim() != 5 or x.shape[2] != self.num_scales:
            raise ValueError(f"SESConvHH expects [B, C, S={self.num_scales}, H, W], got {tuple(x.shape)}")
        batch, _, num_scales, height, width = x.shape
        # kernel for the grouped conv: group s holds k[:, :, i, s]  ->  [S * Cout, Cin, K, K] per tap i
        kernel = self.expanded_kernel().permute(2, 3, 0, 1, 4, 5)
        if self.scale_size > 1:
            x = F.pad(x, [0, 0, 0, 0, 0, self.scale_size - 1])
        output = 0.0
        for i in range(self.scale_size):
            x_i = x[:, :, i:i + num_scales].transpose(1, 2).reshape(batch, -1, height, width)
            k_i = kernel[i].reshape(-1, self.in_channels, self.kernel_size, self.kernel_size)
            output = output + _conv2d_padded(x_i, k_i, self.stride, self.padding, self.padding_mode,
                                             groups=num_scales)
        output = output.reshape(batch, num_scales, self.out_channels, output.shape[-2], output.shape[-1])
        output = output.transpose(1, 2).contiguous()
        if self.bias is not None:
            output = output + self.bias.view(1, -1, 1, 1, 1)
        return output


class SESConvHH1x1(nn.Module):
    """Interscale 1 x 1 convolution ``H -> H``: ``[B, Cin, S, H, W] -> [B, Cout, S, H', W']``.

    Weight ``[Cout, Cin, L, 1, 1]`` (``[Cout, Cin, 1, 1]`` when ``L = scale_size = 1``, the released key
    shape). ``out[:, :, s] = sum_{i<L} W_i x[:, :, s+i]`` (zero past the last scale); spatial stride allowed.
    """

    def __init__(self, in_channels: int, out_channels: int, scale_size: int = 1, stride: int = 1,
                 bias: bool = False) -> None:
        super().__init__()
        if scale_size < 1:
            raise ValueError(f"SESConvHH1x1: scale_size must be >= 1, got {scale_size}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale_size = scale_size
        self.stride = stride
        shape = (out_channels, in_channels, scale_size, 1, 1) if scale_size > 1 else (out_channels, in_channels, 1, 1)
        self.weight = nn.Parameter(torch.empty(*shape))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def expanded_kernel(self) -> torch.Tensor:
        """The kernel as a 3-D conv kernel ``[Cout, Cin, L, 1, 1]``."""
        return self.weight if self.scale_size > 1 else self.weight.unsqueeze(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, Cin, S, H, W] -> [B, Cout, S, H', W']``."""
        if x.dim() != 5:
            raise ValueError(f"SESConvHH1x1 expects [B, C, S, H, W], got {tuple(x.shape)}")
        if self.scale_size > 1:
            x = F.pad(x, [0, 0, 0, 0, 0, self.scale_size - 1])
        return F.conv3d(x, self.expanded_kernel(), self.bias, stride=(1, self.stride, self.stride))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, scale_size={self.scale_size}, "
                f"stride={self.stride}, bias={self.bias is not None}")


def scale_pool(x: torch.Tensor) -> torch.Tensor:
    """Scale max-projection ``H -> Z2``: ``[B, C, S, H, W] -> [B, C, H, W]`` (max over ``S``)."""
    return x.max(dim=2)[0]


class ScalePool(nn.Module):
    """Module form of :func:`scale_pool`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scale_pool(x)

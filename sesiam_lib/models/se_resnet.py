"""SE-ResNet-22: the scale-equivariant twin of CIResNet-22, backbone of SE-SiamFC (FACTS §3).

Layout (``H`` tensors are ``[B, C, S, H, W]``, ``S = len(scales) = 3``)::

    stem   conv1 = SESConvZ2H(3 -> 64, K 9, E 7, stride 2, padding 4) -> BatchNorm3d -> ReLU
           -> crop 2 px -> MaxPool3d(1, 2, 2)
    layer1 block 0: conv1 = SESConvHH1x1(64 -> 64, scale_size 2)       (interscale: mixes scales s, s+1)
           blocks:  conv1 = SESConvHH1x1(. -> 64)
                    conv2 = SESConvHH(64 -> 64, scale_size 1, K 5, E 3, padding 2)
                    conv3 = SESConvHH1x1(64 -> 256); every BN BatchNorm3d
           shortcut of block 0: SESConvHH1x1(64 -> 256) + BatchNorm3d
    layer2 block 0: scale-pool the input (max over S) -> nn.Conv2d 1x1 (256 -> 128) -> BatchNorm2d -> ReLU
                    -> SESConvZ2H(128 -> 128, K 5, E 3, padding 2) -> BatchNorm3d -> ReLU -> SESConvHH1x1 -> BN3d;
                    its shortcut takes the *un-pooled* input through SESConvHH1x1(256 -> 512) + BatchNorm3d
           then MaxPool3d(1, 2, 2) (index 1), blocks 2, 3, 4 as in layer1 (no ReLU after the last one)

Every residual block crops 1 px per side. The K x K convs use ``padding_mode`` ('constant' = zeros, or
'circular'; the release trains with circular and evaluates with constant). The output keeps its scale axis;
the SiamFC head scale-pools it.

Input: RGB 0..255 -> /255 -> minus ImageNet mean -> divided by std (buffers ``features.mean``,
``features.std``).

``sesn_impl``: ``'fast'`` (default; :mod:`sesiam_lib.sesn.fast_layers`: per-scale kernel support, scales folded
into the batch, scale-major memory, no copies) or ``'reference'`` (the straightforward layers of
:mod:`sesiam_lib.sesn.layers`, kept as the numerical reference). Both build the same module tree, parameters,
buffers and state-dict keys; they compute the same function and gradients to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..sesn import SESConvHH, SESConvHH1x1, SESConvZ2H, scale_pool
from ..sesn.fast_layers import (DEFAULT_SESN_IMPL, channels_last, check_sesn_impl, fast_center_crop, fast_scale_pool,
                                layer_classes)
from .common import IMAGENET_MEAN, IMAGENET_STD, BackboneSpec, GradualUnfreeze, center_crop

__all__ = ["SEBottleneck", "SEResNet", "SEResNetFeatures", "PADDING_MODES"]

PADDING_MODES = ("constant", "circular")


class SEBottleneck(nn.Module):
    """Scale-equivariant bottleneck ``[B, Cin, S, H, W] -> [B, 4 planes, S, H - 2, W - 2]``.

    ``pool_input``: layer2's first block, which scale-pools its input for the main branch (plain 2-D 1x1 conv +
    BatchNorm2d, then a Z2 -> H KxK conv) while the shortcut sees the un-pooled input.
    ``interscale``: the first 1x1 conv has scale_size 2.
    ``sesn_impl``: ``'fast'`` or ``'reference'`` layers (:mod:`sesiam_lib.sesn.fast_layers`; same state dict).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, last_relu: bool, spec: BackboneSpec,
                 downsample: nn.Module | None = None, pool_input: bool = False, interscale: bool = False,
                 padding_mode: str = "constant", sesn_impl: str = DEFAULT_SESN_IMPL) -> None:
        super().__init__()
        k, e, scales = spec.mid_kernel, spec.mid_effective, list(spec.scales)
        L = layer_classes(sesn_impl)
        self.sesn_impl = sesn_impl
        self.pool_input = pool_input
        if pool_input:
            self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = L.SESConvZ2H(planes, planes, kernel_size=k, effective_size=e, scales=scales,
                                      padding=k // 2, bias=False, padding_mode=padding_mode)
        else:
            self.conv1 = L.SESConvHH1x1(inplanes, planes, scale_size=2 if interscale else 1, bias=False)
            self.bn1 = L.BatchNorm3d(planes)
            self.conv2 = L.SESConvHH(planes, planes, scale_size=1, kernel_size=k, effective_size=e, scales=scales,
                                     padding=k // 2, bias=False, padding_mode=padding_mode)
        self.bn2 = L.BatchNorm3d(planes)
        self.conv3 = L.SESConvHH1x1(planes, planes * self.expansion, bias=False)
        self.bn3 = L.BatchNorm3d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.last_relu = last_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sesn_impl == "fast":
            return self._forward_fast(x)
        residual = x
        out = scale_pool(x) if self.pool_input else x
        out = self.relu(self.bn1(self.conv1(out)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(residual)
        out = center_crop(out + residual, 1)
        if self.last_relu:
            out = self.relu(out)
        return out

    def _forward_fast(self, x: torch.Tensor) -> torch.Tensor:
        """The same function on the fast layers' scale-major channels-last tensors (see
        :mod:`sesiam_lib.sesn.fast_layers`): the fast layers return views, so the ReLUs after them run out of place
        (an in-place op on a view costs autograd two full copies in backward); the last ReLU comes before the crop
        (element-wise: the order does not matter) and the crop makes one scale-major copy whose gradient keeps
        that layout."""
        residual = x
        out = channels_last(fast_scale_pool(x)) if self.pool_input else x
        out = F.relu(self.bn1(self.conv1(out)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            residual = self.downsample(residual)
        out = out + residual
        if self.last_relu:
            out = out.relu_()
        return fast_center_crop(out, 1)


class SEResNet(nn.Module):
    """The SE-ResNet-22 trunk (``SEResNet`` of the SE-SiamFC release)."""

    def __init__(self, spec: BackboneSpec, padding_mode: str = "constant",
                 sesn_impl: str = DEFAULT_SESN_IMPL) -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        L = layer_classes(check_sesn_impl(sesn_impl))
        self.sesn_impl = sesn_impl
        self.spec = spec
        k = spec.stem_kernel
        self.conv1 = L.SESConvZ2H(3, spec.stem_channels, kernel_size=k, effective_size=spec.stem_effective,
                                  scales=list(spec.scales), stride=2, padding=k // 2, bias=False,
                                  padding_mode=padding_mode)
        self.bn1 = L.BatchNorm3d(spec.stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = L.MaxPool3d(kernel_size=(1, 2, 2), stride=(1, 2, 2))
        self.inplanes = spec.stem_channels
        self.layer1 = self._make_layer(spec.planes[0], spec.blocks[0], last_relu=True, stride2pool=False,
                                       pool_input=False, interscale=spec.interscale, padding_mode=padding_mode,
                                       sesn_impl=sesn_impl)
        self.layer2 = self._make_layer(spec.planes[1], spec.blocks[1], last_relu=False, stride2pool=True,
                                       pool_input=True, interscale=False, padding_mode=padding_mode,
                                       sesn_impl=sesn_impl)
        # the release's init: scale convs ~ N(0, 2 / (Cout * taps * F)), BN weight 1 / bias 0
        for m in self.modules():
            if isinstance(m, (SESConvZ2H, SESConvHH, SESConvHH1x1)):
                n = m.weight.nelement() / m.in_channels
                with torch.no_grad():
                    m.weight.normal_(0, (2 / n) ** 0.5)
            elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, last_relu: bool, stride2pool: bool, pool_input: bool,
                    interscale: bool, padding_mode: str, sesn_impl: str) -> nn.Sequential:
        L = layer_classes(sesn_impl)
        out = planes * SEBottleneck.expansion
        downsample = None
        if self.inplanes != out:
            downsample = nn.Sequential(L.SESConvHH1x1(self.inplanes, out, bias=False), L.BatchNorm3d(out))
        layers: list[nn.Module] = [SEBottleneck(self.inplanes, planes, last_relu=True, spec=self.spec,
                                                downsample=downsample, pool_input=pool_input,
                                                interscale=interscale, padding_mode=padding_mode,
                                                sesn_impl=sesn_impl)]
        if stride2pool:
            layers.append(self.maxpool)
        self.inplanes = out
        for i in range(1, blocks):
            layers.append(SEBottleneck(self.inplanes, planes, last_relu=last_relu if i == blocks - 1 else True,
                                       spec=self.spec, padding_mode=padding_mode, sesn_impl=sesn_impl))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.sesn_impl == "fast":
            # ReLU out of place (see SEBottleneck._forward_fast); crop 2 then 2x2/2 max-pool == pool then crop 1
            # (the crop is a multiple of the pool's stride): the crop's copy is 4x smaller
            x = F.relu(self.bn1(self.conv1(x)))
            x = fast_center_crop(self.maxpool(x), 1)
            return self.layer2(self.layer1(x))
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(center_crop(x, 2))
        x = self.layer1(x)
        return self.layer2(x)


class SEResNetFeatures(GradualUnfreeze, nn.Module):
    """Feature extractor of SE-SiamFC: RGB 0..255 -> ImageNet-normalised -> SE-ResNet -> ``[B, C, S, h, w]``.

    Mirrors the release's ``SEResNet22FeatureExtractor`` (buffers ``mean``/``std``, trunk in ``features``).
    """

    input_format = "rgb_imagenet"
    UNFIX_TABLE = {0.0: 2, 0.1: 3, 0.2: 4, 0.3: 6, 0.5: 7, 0.6: 8, 0.7: 10}

    def __init__(self, spec: BackboneSpec, padding_mode: str = "constant",
                 sesn_impl: str = DEFAULT_SESN_IMPL) -> None:
        super().__init__()
        self.features = SEResNet(spec, padding_mode=padding_mode, sesn_impl=sesn_impl)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(IMAGENET_STD, dtype=torch.float32))
        self.feature_size = spec.out_channels

    @property
    def padding_mode(self) -> str:
        return self.features.conv1.padding_mode

    @property
    def sesn_impl(self) -> str:
        """``'fast'`` or ``'reference'``: the implementation of the scale layers."""
        return self.features.sesn_impl

    def set_padding_mode(self, padding_mode: str) -> None:
        """Switch every K x K scale conv to ``'constant'`` (zeros) or ``'circular'`` padding."""
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        for m in self.modules():
            if isinstance(m, (SESConvZ2H, SESConvHH)):
                m.padding_mode = padding_mode

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """RGB 0..255 -> ImageNet-normalised, in the release's order of operations."""
        x = x / 255.0
        x = x - self.mean.view(1, -1, 1, 1)
        return x / self.std.view(1, -1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(self.normalize(x))

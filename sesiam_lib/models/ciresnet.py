"""CIResNet-22 (SiamDW, CVPR 2019): the backbone of SiamFC+ (FACTS §3).

"Cropping-inside-residual" ResNet: the 3x3 convs are zero-padded (padding 1) and every residual block crops
1 px from each side of its output, which removes the padding-affected border. State-dict layout (under the
SiamFC model): ``features.features.{conv1, bn1, layer1.*, layer2.*}``; layer2 is
``[block, MaxPool2d, block, block, block]`` so its parameter indices are 0, 2, 3, 4.

Input: the model receives RGB 0..255 and feeds the first conv **BGR 0..255, unnormalised** (the released
SiamFC+ weights were trained on OpenCV frames).
"""

from __future__ import annotations

import torch
from torch import nn

from .common import BackboneSpec, GradualUnfreeze, center_crop

__all__ = ["BottleneckCI", "CIResNet", "CIResNetFeatures"]


class BottleneckCI(nn.Module):
    """Bottleneck with crop-inside-residual: 1x1 -> BN -> ReLU -> KxK -> BN -> ReLU -> 1x1 -> BN, + shortcut,
    optional ReLU, crop 1 px each side. ``[B, Cin, H, W] -> [B, 4 planes, H - 2, W - 2]``."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, last_relu: bool, kernel_size: int = 3,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=kernel_size, padding=kernel_size // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.last_relu = last_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = self.downsample(x) if self.downsample is not None else x
        out = out + residual
        if self.last_relu:
            out = self.relu(out)
        return center_crop(out, 1)


class CIResNet(nn.Module):
    """The CIResNet-22 trunk (``ResNet(Bottleneck_CI, [3, 4], [True, False], [False, True])`` in SiamDW)."""

    def __init__(self, spec: BackboneSpec) -> None:
        super().__init__()
        self.spec = spec
        k = spec.stem_kernel
        self.conv1 = nn.Conv2d(3, spec.stem_channels, kernel_size=k, stride=2, padding=k // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(spec.stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.inplanes = spec.stem_channels
        self.layer1 = self._make_layer(spec.planes[0], spec.blocks[0], last_relu=True, stride2pool=False)
        self.layer2 = self._make_layer(spec.planes[1], spec.blocks[1], last_relu=False, stride2pool=True)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _make_layer(self, planes: int, blocks: int, last_relu: bool, stride2pool: bool) -> nn.Sequential:
        out = planes * BottleneckCI.expansion
        downsample = None
        if self.inplanes != out:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, out, kernel_size=1, bias=False),
                nn.BatchNorm2d(out),
            )
        k = self.spec.mid_kernel
        layers: list[nn.Module] = [BottleneckCI(self.inplanes, planes, last_relu=True, kernel_size=k,
                                                downsample=downsample)]
        if stride2pool:
            layers.append(self.maxpool)
        self.inplanes = out
        for i in range(1, blocks):
            layers.append(BottleneckCI(self.inplanes, planes, last_relu=last_relu if i == blocks - 1 else True,
                                       kernel_size=k))
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))  # stride 2
        x = self.maxpool(center_crop(x, 2))  # stride 4
        x = self.layer1(x)
        return self.layer2(x)  # stride 8


class CIResNetFeatures(GradualUnfreeze, nn.Module):
    """Feature extractor of SiamFC+: RGB 0..255 -> BGR 0..255 -> CIResNet -> ``[B, 4 p1, h, w]``.

    Mirrors SiamDW's ``ResNet22`` wrapper (attribute ``features`` holds the trunk, hence the
    ``features.features.`` keys).
    """

    input_format = "bgr_0_255"

    def __init__(self, spec: BackboneSpec) -> None:
        super().__init__()
        self.features = CIResNet(spec)
        self.feature_size = spec.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x.flip(1))

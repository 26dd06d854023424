"""Shared pieces of the two backbones: architecture spec, crop geometry, input conversion, gradual unfreezing.

Both backbones have the CIResNet-22 layout (FACTS §3), stride 8::

    stem conv (stride 2, padding K//2) -> BN -> ReLU -> crop 2 px each side -> 2x2 max-pool
    layer1: blocks[0] bottlenecks (planes p0, out 4 p0)
    layer2: blocks[1] bottlenecks (planes p1, out 4 p1), a 2x2 max-pool right after its first block
    bottleneck: 1x1 -> BN -> ReLU -> KxK (padding K//2) -> BN -> ReLU -> 1x1 -> BN, + shortcut,
                ReLU (not after the very last block of layer2), crop 1 px each side

so a side ``n`` maps to ``((ceil(n/2) - 4) // 2 - 2 b0 - 2) // 2 - 2 (b1 - 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import torch
from torch import nn

__all__ = [
    "BackboneSpec",
    "center_crop",
    "feature_size",
    "score_size",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "GradualUnfreeze",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class BackboneSpec:
    """Hyper-parameters of a CIResNet-22-style backbone (plain or scale-equivariant).

    Attributes:
        stem_channels: output channels of the stem conv (64 in the release).
        planes: bottleneck widths of layer1 / layer2; outputs are ``4 *`` these (64, 128 -> 256, 512).
        blocks: bottlenecks in layer1 / layer2 (3, 4).
        stem_kernel: stem kernel side (7 plain, 9 SE).
        mid_kernel: side of the bottlenecks' middle conv (3 plain, 5 SE).
        stem_effective: SE only, effective size E of the stem basis (7 -> 49 functions).
        mid_effective: SE only, effective size of the middle convs' basis (3 -> 9 functions).
        scales: SE only, basis scales (0.9 * 1.4**i, i < 3).
        interscale: SE only, layer1's first 1x1 conv mixes 2 neighbouring scales.
    """

    stem_channels: int = 64
    planes: tuple[int, int] = (64, 128)
    blocks: tuple[int, int] = (3, 4)
    stem_kernel: int = 7
    mid_kernel: int = 3
    stem_effective: int = 7
    mid_effective: int = 3
    scales: tuple[float, ...] = field(default_factory=lambda: tuple(0.9 * 1.4**i for i in range(3)))
    interscale: bool = True

    @property
    def out_channels(self) -> int:
        return 4 * self.planes[1]


def center_crop(x: torch.Tensor, crop: int) -> torch.Tensor:
    """Remove ``crop`` pixels from each side of the last two (spatial) axes (a view)."""
    return x[..., crop:-crop, crop:-crop]


def feature_size(input_size: int, spec: BackboneSpec) -> int:
    """Spatial side of the backbone output for a square input of side ``input_size``."""
    k = spec.stem_kernel
    n = (input_size + 2 * (k // 2) - k) // 2 + 1  # stem, stride 2
    n = (n - 4) // 2  # crop 2 each side, 2x2 max-pool
    n -= 2 * spec.blocks[0]  # layer1: crop 1 per block
    n = (n - 2) // 2  # layer2 block 0, then 2x2 max-pool
    n -= 2 * (spec.blocks[1] - 1)
    if n < 1:
        raise ValueError(f"input side {input_size} is too small for this backbone (features would be {n})")
    return n


def score_size(exemplar_size: int, instance_size: int, spec: BackboneSpec) -> int:
    """``I_feat - E_feat + 1``: side of the score map for the given crop sizes."""
    return feature_size(instance_size, spec) - feature_size(exemplar_size, spec) + 1


class GradualUnfreeze:
    """Mixin for the feature extractors: the release's ``unfix(ratio)`` gradual unfreezing (FACTS §5).

    ``train_num`` counts trainable parts from the top: part ``i`` (1-based) is ``layer2[-i]`` while
    ``i <= len(layer2)``, then ``layer1[-(i - len(layer2))]``, then the whole backbone. In ``train()`` mode only
    parts ``0 .. train_num - 1`` switch to training (part 0 is ``layer2[-0] = layer2[0]``, as in the release, so
    the first block of layer2 always updates its BN statistics); everything else stays in eval mode.

    Until ``unfix`` is called (``train_num is None``) nothing is frozen and ``train()``/``eval()`` behave as usual.
    """

    #: training-progress milestone -> train_num (SiamDW's CIResNet-22 table; SE-SiamFC uses 10 at 0.7)
    UNFIX_TABLE: dict[float, int] = {0.0: 2, 0.1: 3, 0.2: 4, 0.3: 6, 0.5: 7, 0.6: 8, 0.7: 9}
    train_num: int | None = None

    def _part(self, i: int) -> nn.Module:
        layer1, layer2 = self.features.layer1, self.features.layer2
        if i <= len(layer2):
            return layer2[-i]
        if i <= len(layer2) + len(layer1):
            return layer1[-(i - len(layer2))]
        return self.features

    def unfix(self, ratio: float) -> bool:
        """Set ``train_num`` for the milestone ``ratio``; returns False (no change) for other ratios."""
        for milestone, num in self.UNFIX_TABLE.items():
            if abs(ratio - milestone) < 1e-5:
                self.train_num = num
                self._unlock()
                return True
        return False

    def _unlock(self) -> None:
        for p in self.parameters():
            p.requires_grad = False
        for i in range(1, self.train_num):
            for p in self._part(i).parameters():
                p.requires_grad = True
        self.eval()
        self.train()

    def train(self, mode: bool = True):
        if self.train_num is None or not mode:
            return nn.Module.train(self, mode)
        self.training = True
        for i in range(self.train_num):
            self._part(i).train(True)
        return self

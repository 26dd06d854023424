"""Tiny CPU-sized twins of SiamFC+ and SE-SiamFC for the synthetic T-/S-MNIST experiments.

Same block structure as the full models (FACTS §3) -- stem conv (stride 2, padding K//2) -> BN -> ReLU ->
crop 2 -> 2x2 max-pool -> layer1 -> layer2 with a 2x2 max-pool after its first block, crop-inside-residual
bottlenecks, no ReLU after the last block -- and, for the SE twin, the same scale-conv configuration
(stem Z2->H K 9 / E 7, middle convs K 5 / E 3 with scale_size 1, interscale 1x1 (scale_size 2) at the start
of layer1, layer2's first block scale-pooling its input, scales 0.9 * 1.4**i, i < 3), with

- widths: stem 16, bottleneck planes (16, 32) -> outputs 64, 128 (the full models: 64, (64, 128) -> 512);
- depth: (2, 2) bottlenecks (full: (3, 4));
- crops: exemplar 79 px, instance 159 px (full: 127, 255).

Geometry (stride 8): 79 -> stem 40 -> crop 36 -> pool 18 -> layer1 14 -> layer2 block 12 -> pool 6 -> 4, so the
template features are 4 x 4; 159 -> 80 -> 76 -> 38 -> 34 -> 32 -> 16 -> 14, search features 14 x 14; the score map
is 14 - 4 + 1 = **11 x 11** (full models: 21 - 5 + 1 = 17). As in the full models the score map spans
+-(11 - 1) / 2 * 8 = +-40 px of the 159-px search crop, i.e. +-25 %.

Sizes for the synthetic frames (about 192 x 192 px, digit boxes 16-64 px): with the tracker's context 0.5 the
template side s_z is about 2x the box (32-128 px, resized to 79) and the search side about 2x that.

Parameter counts (learnable; the SE basis buffers are not parameters):
``siamfc_tiny`` 53,840; ``se_siamfc_tiny`` 54,096 (+256 for the interscale tap of layer1's first 1x1 conv;
an SE K x K conv with E x E basis functions has as many weights as a plain E x E conv, and the SE stem's 49
functions match the plain 7 x 7 stem). Full models: 1,444,928 (SiamFC+) and 1,449,024 (SE-SiamFC).

Speed (``benchmarks/bench_models.py``; 2-core machine, 2 threads, measured when it was quiet -- it is shared, so
figures vary): a training step of batch 16 (forward, loss, backward, SGD; reference layers) about 0.15 s
(``siamfc_tiny``) and 0.5 s (``se_siamfc_tiny``); a tracking forward (cached template, 3 search crops) about
9 ms / 27-38 ms with the reference layers and 5 ms / 13-15 ms with
:func:`~sesiam_lib.models.fast.optimize_for_inference`.
"""

from __future__ import annotations

from dataclasses import replace

from .common import BackboneSpec

__all__ = ["TINY_PLAIN", "TINY_SE", "TINY_EXEMPLAR", "TINY_INSTANCE"]

TINY_PLAIN = BackboneSpec(stem_channels=16, planes=(16, 32), blocks=(2, 2), stem_kernel=7, mid_kernel=3)
TINY_SE = replace(TINY_PLAIN, stem_kernel=9, mid_kernel=5, stem_effective=7, mid_effective=3)
TINY_EXEMPLAR = 79
TINY_INSTANCE = 159

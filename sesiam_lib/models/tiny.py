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

``se_siamfc_tiny_sesn`` (:data:`TINY_SESN`, display name "SE-SiamFC tiny (SESN-style)"): the same widths, depth,
crops and geometry (score map 11 x 11), but the scale-conv configuration the SESN authors use when training from
scratch instead of the pretrained release's: 4 scales ``2**(i/3)`` = 1, 1.26, 1.587, 2.0 (ratio 1.26), no
interscale taps (every 1x1 and K x K scale conv has scale_size 1), middle convs K 7 / E 3, stem K 11 / E 5.

Why K 11 for the stem (not 9): measured truncation of the Hermite basis by the K x K support -- the share of a
basis function's energy (sum of squares, same function on an unbounded 61 x 61 grid) that falls outside the
support at the largest scale, max / mean over the functions:

====================================  ==============  =========================================
layer                                  largest scale   energy outside K x K (max / mean)
====================================  ==============  =========================================
release middle K 5 / E 3               1.764           0.466 / 0.336  (0.64 / 0.46 at 1.26: 3 px)
release stem K 9 / E 7                 1.764           0.050 / 0.022
SESN middle K 7 / E 3                  2.0             0.312 / 0.178  (<= 0.45 at every scale)
SESN stem K 9 / E 5                    2.0             0.101 / 0.051  (0.18 at 1.26: 5 px)
SESN stem K 11 / E 5 (chosen)          2.0             0.027 / 0.014  (<= 0.05 at every scale)
SESN stem K 13 / E 5                   2.0             0.006 / 0.002
====================================  ==============  =========================================

Rule (no such rule exists in :mod:`sesiam_lib.sesn.basis` / :mod:`sesiam_lib.sesn.checks`; this is the
comparison asked for): a layer may truncate no more than the release's layer of the same role. The stem at K 9
would lose twice the release stem's worst share, K 11 (the smallest odd K that does not) loses less at every
scale (support 5 / 7 / 9 / 11 px); the middle convs' K 7 truncates less than the release's K 5 and stays (the
SESN authors' value). The stride-2 stem's output side does not depend on its odd K (padding K // 2), so the
geometry is unchanged. Test: ``tests/test_models_architecture.py``.

Parameters: ``se_siamfc_tiny_sesn`` 52,688 (``siamfc_tiny`` 53,840 minus (49 - 25) x 3 x 16 stem weights; no
interscale tap), vs ``siamfc_tiny`` 53,840 and ``se_siamfc_tiny`` 54,096. Training step (bare optimisation step of
``benchmarks/bench_training.py``'s ``make_step``, batch 8, 1 thread, interleaved, median of 6, shared 2-core
machine): ``siamfc_tiny`` 106 ms, ``se_siamfc_tiny`` 250 ms (fast layers) / 379 ms (reference),
``se_siamfc_tiny_sesn`` 408 ms (fast) / 631 ms (reference): 4 scales and the larger kernels cost about 1.6x
``se_siamfc_tiny``.

Equivariance of random-weight backbones (:func:`~sesiam_lib.sesn.checks.measure_backbone_stages`, 4 scikit-image
photos at 192 px, border 0.2, reference layers, seeds 0-2, mean over seeds), each model at its own scale ratio:
``se_siamfc_tiny`` (1.4) conv1 0.082, layer1 0.210, layer2 0.183; ``se_siamfc_tiny_sesn`` (1.26) conv1 0.018,
layer1 0.112, layer2 0.088 (fast and reference layers give the same numbers).
"""

from __future__ import annotations

from dataclasses import replace

from .common import BackboneSpec

__all__ = ["TINY_PLAIN", "TINY_SE", "TINY_SESN", "SESN_SCALES", "TINY_EXEMPLAR", "TINY_INSTANCE"]

TINY_PLAIN = BackboneSpec(stem_channels=16, planes=(16, 32), blocks=(2, 2), stem_kernel=7, mid_kernel=3)
TINY_SE = replace(TINY_PLAIN, stem_kernel=9, mid_kernel=5, stem_effective=7, mid_effective=3)
SESN_SCALES = tuple(2 ** (i / 3) for i in range(4))
"""The SESN authors' from-scratch scales: 1, 1.26, 1.587, 2.0 (ratio 2**(1/3) = 1.26)."""
TINY_SESN = replace(TINY_PLAIN, stem_kernel=11, stem_effective=5, mid_kernel=7, mid_effective=3, scales=SESN_SCALES,
                    interscale=False)
TINY_EXEMPLAR = 79
TINY_INSTANCE = 159

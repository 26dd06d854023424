"""Gradual unfreezing of the backbone, last blocks first: the schedule of the SiamDW / SE-SiamFC releases.

Both releases start from ImageNet-pretrained weights and train only the top of the backbone at first, then
unfreeze more blocks at fixed fractions of training. The releases (SiamDW ``lib/models/backbones.py``
``ResNet22.unfix`` / ``unlock``, called by ``lib/core/function.py`` ``unfix_more`` at the start of every epoch;
SE-SiamFC's ``SEResNet22FeatureExtractor.unfix``) count a ``train_num`` of trainable *parts* from the top of
the backbone: part ``i`` is ``layer2[-i]`` for ``i <= 5``, ``layer1[-(i - 5)]`` for ``i <= 8``, then the whole
backbone. ``layer2`` has 5 entries (indices 0, 2, 3, 4 are bottlenecks; index 1 is the 2x2 max-pool).

The stages, cumulative, with the fraction of training at which each one begins (CIResNet-22 / full models):

=====  ========  ==============  ===========================================================================
stage  fraction  ``train_num``   newly trainable
=====  ========  ==============  ===========================================================================
0      0.0       2               ``layer2[4]`` (the last bottleneck)
1      0.1       3               ``layer2[3]``
2      0.2       4               ``layer2[2]``
3      0.3       6               ``layer2[1]`` (the max-pool: nothing) and ``layer2[0]``
4      0.5       7               ``layer1[2]``
5      0.6       8               ``layer1[1]``
6      0.7       9 / 10          ``layer1[0]``; SE-SiamFC (10) also the stem conv + BN, i.e. everything.
                                 SiamFC+ (SiamDW, 9) keeps the stem frozen for the whole run.
=====  ========  ==============  ===========================================================================

Frozen modules stay in eval mode, so their BatchNorm statistics are frozen too; the releases' ``train()``
switches parts ``0 .. train_num - 1`` to training mode, and part 0 is ``layer2[-0] == layer2[0]``, so the first
block of layer2 updates its BN statistics from the start although its weights are frozen until stage 3 (a
quirk kept by :class:`sesiam_lib.models.common.GradualUnfreeze`, which implements ``unfix`` on the models).

Timing. The release calls ``unfix((epoch + 1) / END_EPOCH)`` at the start of every (0-based) ``epoch`` and only
exact matches change anything (with 50 epochs: stage 1 begins in 0-based epoch 4, stage 6 in epoch 34). Here
stage ``k`` is in effect from the first 0-based epoch ``e`` with ``(e + 1) / epochs >= fractions[k]`` -- the same
epochs for the released 50-epoch schedule, and no stage is skipped when ``epochs`` does not divide evenly.

At each stage change the release rebuilds its SGD optimizer over the trainable parameters, which discards the
momentum buffers; :func:`reset_momentum` does the same to our single optimizer (parameters without a gradient
are skipped by SGD, so frozen parameters get neither updates nor weight decay).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = [
    "RELEASE_FRACTIONS",
    "stage_for_epoch",
    "apply_stage",
    "reset_momentum",
    "trainable_parameter_names",
    "supports_gradual_unfreeze",
]

#: fractions of training at which stages 0..6 begin (FACTS §5)
RELEASE_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7)

_EPS = 1e-5


def _milestones(model: nn.Module) -> list[float]:
    features = getattr(model, "features", None)
    table = getattr(features, "UNFIX_TABLE", None)
    if table:
        return sorted(float(k) for k in table)
    return list(RELEASE_FRACTIONS)


def supports_gradual_unfreeze(model: nn.Module) -> bool:
    """True when ``model`` implements the release's ``unfix(ratio)`` (the SiamFC models do)."""
    return callable(getattr(model, "unfix", None))


def stage_for_epoch(epoch: int, epochs: int, fractions: Sequence[float] = RELEASE_FRACTIONS) -> int:
    """Stage (0-based index into ``fractions``) in effect during 0-based ``epoch`` of ``epochs``."""
    progress = (epoch + 1) / float(epochs)
    stage = 0
    for k, fraction in enumerate(fractions):
        if progress + _EPS >= float(fraction):
            stage = k
    return stage


def apply_stage(model: nn.Module, stage: int) -> None:
    """Make the parameters of ``stage`` (and earlier stages) trainable, freeze the rest; set train modes.

    Uses the model's own ``unfix`` with the release milestone of ``stage``. The model is left in training
    mode (frozen parts in eval mode).
    """
    if not supports_gradual_unfreeze(model):
        raise TypeError(
            f"{type(model).__name__} has no unfix(ratio) method: gradual unfreezing (unfreeze.mode=gradual) "
            "needs one of the SiamFC models of sesiam_lib.models"
        )
    milestones = _milestones(model)
    if not 0 <= stage < len(milestones):
        raise ValueError(f"unfreeze stage must be in 0..{len(milestones) - 1}, got {stage}")
    if not model.unfix(milestones[stage]):
        raise RuntimeError(f"model.unfix({milestones[stage]}) did not recognise the milestone of stage {stage}")
    model.train()


def reset_momentum(optimizer: torch.optim.Optimizer) -> None:
    """Drop the optimizer's per-parameter state (momentum buffers), as the release's optimizer rebuild does."""
    optimizer.state.clear()


def trainable_parameter_names(model: nn.Module) -> list[str]:
    """Names of the parameters that currently require a gradient."""
    return [name for name, p in model.named_parameters() if p.requires_grad]

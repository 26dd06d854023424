"""Ready-made equivariance checks: the release's layer configurations with random weights.

Used by notebook 01 and ``benchmarks/bench_equivariance.py`` so that both report the same numbers.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
from torch import nn

from .basis import se_scales
from .equivariance import equivariance_error, layerwise_equivariance_error
from .layers import SESConvHH, SESConvHH1x1, SESConvZ2H

__all__ = ["REFERENCE_LAYERS", "BACKBONE_STAGES", "build_reference_layer", "measure_reference_layers", "error_vs_ratio",
           "basis_ratio", "measure_backbone_stages", "summarize_stage_errors", "scale_usage"]


def _stem(channels: int, padding_mode: str) -> nn.Module:
    return SESConvZ2H(3, channels, 9, 7, se_scales(), padding=4, padding_mode=padding_mode)


def _plain_zero_mean(channels: int, kernel_size: int = 7) -> nn.Module:
    conv = nn.Conv2d(3, channels, kernel_size, padding=kernel_size // 2, bias=False)
    with torch.no_grad():
        conv.weight -= conv.weight.mean(dim=(2, 3), keepdim=True)
    return conv


#: name -> builder(channels, padding_mode); the configurations of SE-SiamFC's layers (FACTS §2, §3, §8).
REFERENCE_LAYERS: dict[str, Callable[[int, str], nn.Module]] = {
    "stem Z2->H K9 E7": _stem,
    "middle Z2->H K5 E3": lambda c, p: SESConvZ2H(3, c, 5, 3, se_scales(), padding=2, padding_mode=p),
    "stem + H->H K5 E3": lambda c, p: nn.Sequential(
        _stem(c, p), nn.ReLU(), SESConvHH(c, c, 1, 5, 3, se_scales(), padding=2, padding_mode=p)),
    "stem + H->H 1x1 L2": lambda c, p: nn.Sequential(_stem(c, p), nn.ReLU(), SESConvHH1x1(c, c, scale_size=2)),
    "plain 7x7 zero-mean": lambda c, p: _plain_zero_mean(c),
}


def build_reference_layer(name: str, channels: int = 32, padding_mode: str = "constant", seed: int = 0) -> nn.Module:
    """One of :data:`REFERENCE_LAYERS`, with random weights drawn from ``seed``, in eval mode."""
    if name not in REFERENCE_LAYERS:
        raise KeyError(f"unknown reference layer {name!r}; choose from {list(REFERENCE_LAYERS)}")
    torch.manual_seed(seed)
    return REFERENCE_LAYERS[name](channels, padding_mode).eval()


def measure_reference_layers(images: torch.Tensor, names: Iterable[str] | None = None,
                             padding_modes: Iterable[str] = ("constant", "circular"), scale_ratio: float = 1.4,
                             border: float = 0.2, channels: int = 32, seed: int = 0) -> list[dict]:
    """Equivariance error of each reference layer and padding mode on ``images`` ``[B, 3, H, W]``.

    Returns rows ``{"layer", "padding", "error", "scale_ratio", "border"}``.
    """
    rows = []
    for name in names or REFERENCE_LAYERS:
        for padding in padding_modes:
            if name.startswith("plain") and padding != "constant":
                continue  # the plain conv has only zero padding here
            layer = build_reference_layer(name, channels, padding, seed)
            error = equivariance_error(layer, images, scale_ratio=scale_ratio, border=border)
            rows.append({"layer": name, "padding": padding, "error": error, "scale_ratio": scale_ratio,
                         "border": border})
    return rows


def error_vs_ratio(layer: nn.Module, images: torch.Tensor, ratios: Iterable[float], border: float = 0.2) -> list[float]:
    """Equivariance error of ``layer`` for several downscale ratios (scale shift 1 each): the minimum should sit
    at the layer's own scale ratio (1.4 for SE-SiamFC)."""
    return [equivariance_error(layer, images, scale_ratio=r, border=border) for r in ratios]


#: The stages of a Siamese model's ``features`` backbone (SiamFC+/SE-SiamFC, full and tiny) measured per stage.
BACKBONE_STAGES = ("features.conv1", "features.layer1", "features.layer2")


def basis_ratio(model: nn.Module, default: float = 1.4) -> float:
    """The ratio between neighbouring scales of the first K x K scale conv in ``model`` -- one scale index apart,
    the downscale an SE model's equivariance error is measured at (1.4 for the release's configuration, 1.26 for
    the SESN-style one); ``default`` for a model without scale convs (a plain CNN, compared without a shift)."""
    for module in model.modules():
        if isinstance(module, (SESConvZ2H, SESConvHH)) and len(module.scales) > 1:
            return float(module.scales[1] / module.scales[0])
    return float(default)


def measure_backbone_stages(model: nn.Module, images: torch.Tensor, scale_ratio: float = 1.4, border: float = 0.2,
                            stages: Iterable[str] = BACKBONE_STAGES, **info) -> list[dict]:
    """Equivariance error of a Siamese model's backbone after each stage (the stack up to it).

    Args:
        model: a :func:`~sesiam_lib.models.build_model` model (it has ``features``); put in eval mode here.
        images: ``[B, 3, H, W]`` RGB in 0..255, the models' input range.
        info: extra columns copied into every row (e.g. ``group="SE-SiamFC tiny (S-MNIST)", seed=0``).

    Returns:
        rows ``{**info, "stage", "error", "input", "border"}``; maps without a scale axis (plain CNNs) are
        compared without the scale shift (see :func:`~sesiam_lib.sesn.equivariance_delta`).
    """
    model = model.eval()
    stages = list(stages)
    result = layerwise_equivariance_error(model.features, images, layers=stages, scale_ratio=scale_ratio,
                                          border=border)
    return [{**info, "stage": stage.split(".", 1)[-1], "error": error, "input": images.shape[-1], "border": border}
            for stage, error in result.errors.items()]


def summarize_stage_errors(rows: Iterable[dict], group_key: str = "group") -> list[dict]:
    """Mean and sample standard deviation of the error per ``(group, stage)`` (e.g. over training seeds).

    Returns rows ``{group_key, "stage", "mean", "std", "n"}`` in first-seen order; ``std`` is 0 for one value.
    """
    grouped: dict[tuple, list[float]] = {}
    for row in rows:
        grouped.setdefault((row[group_key], row["stage"]), []).append(float(row["error"]))
    summary = []
    for (group, stage), values in grouped.items():
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        summary.append({group_key: group, "stage": stage, "mean": mean, "std": std, "n": len(values)})
    return summary


def scale_usage(model: nn.Module, images: torch.Tensor, stages: Iterable[str] = BACKBONE_STAGES, **info) -> list[dict]:
    """Where along the scale axis a Siamese model's backbone responds, per stage with a scale axis.

    Scale pooling (max over the S scales) is invariant to a one-step rescale only where the maximum sits at an
    interior scale: a rescale shifts the axis by one, and a maximum at the first or last scale then falls off it.
    This reports, per stage output ``[B, C, S, H, W]``, the share of (channel, position) elements whose maximum over
    scales is at each scale index (``argmax_share``) and the share of the squared activation per scale
    (``energy_share``). Stages without a scale axis are skipped.

    Args:
        model: a :func:`~sesiam_lib.models.build_model` model (it has ``features``).
        images: ``[B, 3, H, W]`` RGB 0..255.
        info: extra columns copied into every row.

    Returns:
        rows ``{**info, "stage", "argmax_share": [S floats], "energy_share": [S floats], "boundary_share"}``
        (``boundary_share``: argmax at the first or last scale).
    """
    stages = list(stages)
    lookup = dict(model.features.named_modules())
    outputs: dict[str, torch.Tensor] = {}
    handles = [lookup[name].register_forward_hook(lambda _m, _i, out, name=name: outputs.__setitem__(name, out))
               for name in stages]
    try:
        with torch.no_grad():
            model.eval().features(images)
    finally:
        for handle in handles:
            handle.remove()
    rows = []
    for name in stages:
        out = outputs.get(name)
        if not isinstance(out, torch.Tensor) or out.dim() != 5:
            continue
        num_scales = out.shape[2]
        argmax = out.argmax(dim=2)
        argmax_share = [float((argmax == s).float().mean()) for s in range(num_scales)]
        energy = out.double().pow(2).mean(dim=(0, 1, 3, 4))
        energy_share = [float(e) for e in energy / energy.sum()]
        rows.append({**info, "stage": name.split(".", 1)[-1], "argmax_share": argmax_share,
                     "energy_share": energy_share, "boundary_share": argmax_share[0] + argmax_share[-1]})
    return rows

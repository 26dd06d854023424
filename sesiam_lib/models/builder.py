"""Model registry: ``build_model(name, **options)`` for SiamFC+ / SE-SiamFC and their tiny CPU twins.

- ``siamfc_resnet22``: SiamFC+ (CIResNet-22). Crops 127 / 255, features 512 x 5x5 / 512 x 21x21, scores 17x17.
- ``se_siamfc_resnet22``: SE-SiamFC (SE-ResNet-22). Crops 127 / 255, features 512 x 3 scales x 5x5 / 21x21
  (scale-pooled by the head), scores 17x17.
- ``siamfc_tiny`` / ``se_siamfc_tiny``: the same structures, narrower and shallower (stem 16, planes (16, 32),
  blocks (2, 2)). Crops 79 / 159, features 128 x 4x4 / 14x14, scores 11x11 (see :mod:`.tiny`).
- ``se_siamfc_tiny_sesn``: ``se_siamfc_tiny`` with the SESN authors' from-scratch scale-conv configuration
  (4 scales 2**(i/3), no interscale taps, middle K 7 / E 3, stem K 11 / E 5; see :mod:`.tiny`).

All have stride 8. Options (all models): ``exemplar_size``, ``instance_size`` (other crop sizes; the score size
follows from the geometry, :func:`~sesiam_lib.models.common.score_size`). SE models: ``padding_mode``
(``'constant'``, the default and the release's evaluation setting, or ``'circular'``, what the release trained
with) and ``sesn_impl``: ``'fast'`` (the default, also for training: :mod:`sesiam_lib.sesn.fast_layers`) or
``'reference'`` (the straightforward layers of :mod:`sesiam_lib.sesn.layers`, the numerical reference); both have
the same state dict (checkpoints load into either) and compute the same function and gradients to float rounding.
The plain models have no scale layers: they accept ``sesn_impl`` (either value, validated) and ignore it, so one
training config can switch ``model`` freely; their ``sesn_impl`` attribute is ``None``. ``score_adjust``
(all models, default ``False``): a learnable affine map of the xcorr score instead of ``0.1 *`` (see
:mod:`.siamfc`); it adds the state-dict keys ``adjust.weight`` / ``adjust.bias``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from torch import nn

from ..sesn.fast_layers import DEFAULT_SESN_IMPL, check_sesn_impl, convert_sesn_impl
from .ciresnet import CIResNetFeatures
from .common import BackboneSpec, feature_size, score_size
from .se_resnet import SEResNetFeatures
from .siamfc import SiamFC

__all__ = ["build_model", "list_models", "register_model", "SiamFCPlus", "SESiamFC", "MODEL_SPECS",
           "model_spec"]

FULL_PLAIN = BackboneSpec(stem_channels=64, planes=(64, 128), blocks=(3, 4), stem_kernel=7, mid_kernel=3)
FULL_SE = replace(FULL_PLAIN, stem_kernel=9, mid_kernel=5, stem_effective=7, mid_effective=3)


class _SizedSiamFC(SiamFC):
    def _set_geometry(self, spec: BackboneSpec, exemplar_size: int, instance_size: int) -> None:
        self.spec = spec
        self.exemplar_size = int(exemplar_size)
        self.instance_size = int(instance_size)
        self.total_stride = 8
        self.exemplar_feature_size = feature_size(self.exemplar_size, spec)
        self.instance_feature_size = feature_size(self.instance_size, spec)
        self.score_size = score_size(self.exemplar_size, self.instance_size, spec)
        if self.score_size < 1:
            raise ValueError(f"instance_size {instance_size} must exceed exemplar_size {exemplar_size}")


class SiamFCPlus(_SizedSiamFC):
    """SiamFC+ (SiamDW's ``SiamFCRes22``): CIResNet backbone + ``0.1 * xcorr`` head (``score_adjust=True``: the
    learnable ``adjust`` layer instead, see :mod:`.siamfc`).

    State dict: ``features.features.*`` exactly as SiamDW's releases (+ ``adjust.*`` with ``score_adjust``).
    Input RGB 0..255 (flipped to BGR inside).
    """

    scale_equivariant = False
    input_format = CIResNetFeatures.input_format
    sesn_impl = None  # no scale layers: build_model accepts and ignores the option

    def __init__(self, spec: BackboneSpec = FULL_PLAIN, exemplar_size: int = 127, instance_size: int = 255,
                 arch: str = "siamfc_resnet22", score_adjust: bool = False, out_scale: float | None = None) -> None:
        super().__init__()
        self.arch = arch
        self.features = CIResNetFeatures(spec)
        self._init_score_adjust(score_adjust, out_scale)
        self._set_geometry(spec, exemplar_size, instance_size)


class SESiamFC(_SizedSiamFC):
    """SE-SiamFC (``SESiamFCResNet22``): SE-ResNet backbone; the head scale-pools, then ``0.1 * xcorr``
    (``score_adjust=True``: the learnable ``adjust`` layer instead, see :mod:`.siamfc`).

    State dict: ``features.mean``, ``features.std``, ``features.features.*`` (with the ``basis`` buffers) exactly
    as the release (+ ``adjust.*`` with ``score_adjust``). Input RGB 0..255 (normalised inside).
    """

    scale_equivariant = True
    input_format = SEResNetFeatures.input_format

    def __init__(self, spec: BackboneSpec = FULL_SE, exemplar_size: int = 127, instance_size: int = 255,
                 padding_mode: str = "constant", arch: str = "se_siamfc_resnet22",
                 sesn_impl: str = DEFAULT_SESN_IMPL, score_adjust: bool = False,
                 out_scale: float | None = None) -> None:
        super().__init__()
        self.arch = arch
        self.features = SEResNetFeatures(spec, padding_mode=padding_mode, sesn_impl=sesn_impl)
        self._init_score_adjust(score_adjust, out_scale)
        self._set_geometry(spec, exemplar_size, instance_size)

    @property
    def num_scales(self) -> int:
        return len(self.spec.scales)

    @property
    def padding_mode(self) -> str:
        return self.features.padding_mode

    def set_padding_mode(self, padding_mode: str) -> "SESiamFC":
        """Switch the spatial padding of every K x K scale conv (``'constant'`` or ``'circular'``)."""
        self.features.set_padding_mode(padding_mode)
        return self

    @property
    def sesn_impl(self) -> str:
        """``'fast'`` or ``'reference'``: which implementation the scale layers use."""
        return self.features.sesn_impl

    def set_sesn_impl(self, sesn_impl: str) -> "SESiamFC":
        """Switch every scale layer to the ``'fast'`` or ``'reference'`` implementation, in place (weights kept)."""
        convert_sesn_impl(self, sesn_impl)
        return self


# name -> (factory, default options); the spec lives in MODEL_SPECS
_REGISTRY: dict[str, tuple[Callable[..., SiamFC], dict[str, Any]]] = {}
MODEL_SPECS: dict[str, BackboneSpec] = {}


def register_model(name: str, factory: Callable[..., SiamFC], spec: BackboneSpec, **defaults: Any) -> None:
    """Register ``factory(spec=..., arch=name, **defaults, **options)`` under ``name``."""
    _REGISTRY[name] = (factory, dict(defaults))
    MODEL_SPECS[name] = spec


def list_models() -> list[str]:
    """Registered model names."""
    return sorted(_REGISTRY)


def model_spec(name: str) -> BackboneSpec:
    """The backbone spec of a registered model."""
    if name not in MODEL_SPECS:
        raise KeyError(f"unknown model {name!r}; known: {list_models()}")
    return MODEL_SPECS[name]


def build_model(name: str, **options: Any) -> SiamFC:
    """Build a registered model (randomly initialised, training mode).

    Args:
        name: ``'siamfc_resnet22'``, ``'se_siamfc_resnet22'``, ``'siamfc_tiny'``, ``'se_siamfc_tiny'``
            (see :func:`list_models`).
        **options: ``exemplar_size``, ``instance_size``, ``sesn_impl`` (``'fast'`` default / ``'reference'``;
            ignored by the plain models), ``score_adjust`` (``False`` default: ``0.1 * xcorr``; ``True``: a
            learnable ``adjust = nn.Conv2d(1, 1, 1)`` on the xcorr, weight 1e-3 / bias 0 at init), ``out_scale`` (a fixed
            score factor instead of the release's 0.1, e.g. 1e-3 for training from scratch); SE models also
            ``padding_mode``, ``head`` (``'pool'`` default: the release's scale-pooling head; ``'scale'``: the
            scale head of :mod:`.scale_head`, output ``[N, 2 max_shift + 1, s, s]``; plain models reject it) and,
            with ``head='scale'``, ``max_shift`` (default 1).
    """
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; known: {list_models()}")
    factory, defaults = _REGISTRY[name]
    kwargs = {**defaults, **options}
    if "head" in kwargs or "max_shift" in kwargs:
        factory = _head_factory(name, factory, kwargs)
    if "padding_mode" in kwargs and not (isinstance(factory, type) and issubclass(factory, SESiamFC)):
        if kwargs["padding_mode"] != "constant":
            raise ValueError(f"{name} has no scale convs: padding_mode {kwargs['padding_mode']!r} not supported")
        kwargs.pop("padding_mode")
    if "sesn_impl" in kwargs:
        check_sesn_impl(kwargs["sesn_impl"])
        if not (isinstance(factory, type) and issubclass(factory, SESiamFC)):
            kwargs.pop("sesn_impl")  # no scale layers
    try:
        model = factory(spec=MODEL_SPECS[name], arch=name, **kwargs)
    except TypeError as exc:
        raise TypeError(f"build_model({name!r}): bad option ({exc})") from exc
    model.build_options = dict(options)  # what was asked for: part of a tracking result's provenance key
    return model


def _head_factory(name: str, factory: Callable[..., SiamFC], kwargs: dict[str, Any]) -> Callable[..., SiamFC]:
    """Resolve the ``head`` / ``max_shift`` options (popped from ``kwargs``): ``head="pool"`` (the default) keeps
    ``factory``; ``head="scale"`` (SE models only) gives :class:`~sesiam_lib.models.scale_head.ScaleHeadSESiamFC`
    with ``max_shift`` (default 1) left in ``kwargs``."""
    from .scale_head import HEAD_TYPES, ScaleHeadSESiamFC

    head = kwargs.pop("head", "pool")
    if head not in HEAD_TYPES:
        raise ValueError(f"head must be one of {HEAD_TYPES}, got {head!r}")
    if head == "pool":
        if "max_shift" in kwargs:
            raise ValueError("max_shift applies to head='scale' only")
        return factory
    if factory is not SESiamFC:
        raise ValueError(f"{name} has no scale axis (not a scale-equivariant model): head='scale' needs an SE "
                         f"model ({', '.join(n for n, (f, _) in _REGISTRY.items() if f is SESiamFC)})")
    return ScaleHeadSESiamFC


def count_parameters(model: nn.Module) -> int:
    """Number of learnable parameters (buffers such as the SE basis excluded)."""
    return sum(p.numel() for p in model.parameters())


def _register_defaults() -> None:
    from .tiny import TINY_EXEMPLAR, TINY_INSTANCE, TINY_PLAIN, TINY_SE, TINY_SESN

    register_model("siamfc_resnet22", SiamFCPlus, FULL_PLAIN, exemplar_size=127, instance_size=255)
    register_model("se_siamfc_resnet22", SESiamFC, FULL_SE, exemplar_size=127, instance_size=255,
                   padding_mode="constant")
    register_model("siamfc_tiny", SiamFCPlus, TINY_PLAIN, exemplar_size=TINY_EXEMPLAR, instance_size=TINY_INSTANCE)
    register_model("se_siamfc_tiny", SESiamFC, TINY_SE, exemplar_size=TINY_EXEMPLAR, instance_size=TINY_INSTANCE,
                   padding_mode="constant")
    register_model("se_siamfc_tiny_sesn", SESiamFC, TINY_SESN, exemplar_size=TINY_EXEMPLAR,
                   instance_size=TINY_INSTANCE, padding_mode="constant")


_register_defaults()

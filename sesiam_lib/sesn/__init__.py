"""Scale-equivariant steerable layers (SESN, Sosnovik et al.) as used by SE-SiamFC.

Shapes: ``Z2`` maps ``[B, C, H, W]``; ``H`` maps ``[B, C, S, H, W]`` (``S`` scales).

Two implementations with the same parameters and state dicts: :mod:`.layers` (the straightforward reference) and
:mod:`.fast_layers` (the fast training path, the default of ``build_model``: ``sesn_impl='fast'``).
"""

from .basis import hermite_basis, inner_size, se_scales
from .equivariance import (DEFAULT_PHOTOS, EquivarianceResult, downscale, equivariance_delta, equivariance_error,
                           layerwise_equivariance_error, natural_images)
from .fast_layers import (SESN_IMPLS, FastBatchNorm3d, FastMaxPool3d, FastSESConvHH, FastSESConvHH1x1,
                          FastSESConvZ2H, convert_sesn_impl, fast_scale_pool, layer_classes)
from .layers import PADDING_MODES, ScalePool, SESConvHH, SESConvHH1x1, SESConvZ2H, scale_pool

__all__ = [
    "hermite_basis",
    "inner_size",
    "se_scales",
    "SESConvZ2H",
    "SESConvHH",
    "SESConvHH1x1",
    "ScalePool",
    "scale_pool",
    "PADDING_MODES",
    "SESN_IMPLS",
    "FastSESConvZ2H",
    "FastSESConvHH",
    "FastSESConvHH1x1",
    "FastBatchNorm3d",
    "FastMaxPool3d",
    "fast_scale_pool",
    "layer_classes",
    "convert_sesn_impl",
    "equivariance_error",
    "layerwise_equivariance_error",
    "EquivarianceResult",
    "downscale",
    "equivariance_delta",
    "natural_images",
    "DEFAULT_PHOTOS",
]

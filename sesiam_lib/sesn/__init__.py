"""Scale-equivariant steerable layers (SESN, Sosnovik et al.) as used by SE-SiamFC.

Shapes: ``Z2`` maps ``[B, C, H, W]``; ``H`` maps ``[B, C, S, H, W]`` (``S`` scales).
"""

from .basis import hermite_basis, inner_size, se_scales
from .equivariance import (DEFAULT_PHOTOS, EquivarianceResult, downscale, equivariance_delta, equivariance_error,
                           layerwise_equivariance_error, natural_images)
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
    "equivariance_error",
    "layerwise_equivariance_error",
    "EquivarianceResult",
    "downscale",
    "equivariance_delta",
    "natural_images",
    "DEFAULT_PHOTOS",
]

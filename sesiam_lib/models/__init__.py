"""SiamFC+ and SE-SiamFC exactly as released, plus tiny CPU twins; checkpoints, weight transfer, fast inference.

Quick start::

    from sesiam_lib.models import build_model, load_checkpoint, optimize_for_inference

    model = build_model("se_siamfc_resnet22")              # SE-SiamFC, zero padding (evaluation setting)
    load_checkpoint(model, "snapshot/checkpoint_otb.pth")   # release snapshot, bare state dict or ours
    fast = optimize_for_inference(model)                    # eval-only twin, BN folded, same scores
    fast.template(z)                                        # z: [1, 3, 127, 127] RGB 0..255 float
    scores = fast.track(x)                                  # x: [3, 3, 255, 255] -> [3, 1, 17, 17]

Modules: :mod:`.builder` (registry), :mod:`.siamfc` (head, loss, template/track), :mod:`.ciresnet` (SiamFC+
backbone), :mod:`.se_resnet` (SE-SiamFC backbone), :mod:`.tiny` (CPU twins), :mod:`.checkpoint`,
:mod:`.transfer`, :mod:`.fast`, :mod:`.scale_head` (``build_model(name, head="scale")``: the scale axis kept in the
correlation, issue #18).
"""

from .builder import (
    MODEL_SPECS,
    SESiamFC,
    SiamFCPlus,
    build_model,
    count_parameters,
    list_models,
    model_spec,
    register_model,
)
from .checkpoint import (
    CheckpointError,
    CheckpointInfo,
    check_state_dict,
    identify_architecture,
    load_checkpoint,
    normalize_state_dict,
    read_checkpoint,
    checkpoint_model_options,
    recorded_model_kwargs,
)
from .common import BackboneSpec, feature_size, score_size
from .fast import FastSiamFC, optimize_for_inference
from .scale_head import HEAD_TYPES, FastScaleHeadSiamFC, ScaleHeadSESiamFC, scale_correlations, scale_xcorr
from .siamfc import SiamFC, balanced_bce_loss, xcorr
from .transfer import TransferEntry, fit_kernel_to_basis, format_transfer_report, transfer_weights

__all__ = [
    "build_model",
    "list_models",
    "register_model",
    "model_spec",
    "count_parameters",
    "MODEL_SPECS",
    "SiamFC",
    "SiamFCPlus",
    "SESiamFC",
    "FastSiamFC",
    "BackboneSpec",
    "feature_size",
    "score_size",
    "balanced_bce_loss",
    "xcorr",
    "load_checkpoint",
    "read_checkpoint",
    "recorded_model_kwargs",
    "checkpoint_model_options",
    "check_state_dict",
    "identify_architecture",
    "normalize_state_dict",
    "CheckpointError",
    "CheckpointInfo",
    "transfer_weights",
    "fit_kernel_to_basis",
    "format_transfer_report",
    "TransferEntry",
    "optimize_for_inference",
    "HEAD_TYPES",
    "ScaleHeadSESiamFC",
    "FastScaleHeadSiamFC",
    "scale_xcorr",
    "scale_correlations",
]

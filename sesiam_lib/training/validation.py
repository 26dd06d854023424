"""Per-epoch validation: OTB success AUC of the SiamFC tracker on a validation split.

The tracker runs one pass over each validation sequence (initialised with the first ground-truth box), the
OTB success curve (:func:`sesiam_lib.evaluation.success_curve`) is averaged over sequences and the AUC is the
mean of its 21 points (FACTS §7). The tracker's hyper-parameters are the released ones of the model's family
on OTB2015 (:meth:`sesiam_lib.tracking.SiamFCTracker.from_benchmark`), overridable with
``validation.tracker`` (e.g. ``{benchmark: OTB2013}`` or ``{scale_step: 1.1}``).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["validate_success_auc"]


def _tracker_class():
    try:
        from sesiam_lib.tracking import SiamFCTracker
    except ImportError:
        from sesiam_lib.tracking.siamfc_tracker import SiamFCTracker
    return SiamFCTracker


def validate_success_auc(model, sequences, vcfg, device: torch.device) -> float:
    """Success AUC of ``model`` tracking ``sequences`` (each truncated to ``vcfg.max_frames`` frames).

    The tracker runs the model's optimised inference copy (``fast``, rebuilt from the current weights each call;
    ``validation.tracker: {fast: false}`` uses the model itself). The model is left in eval mode.
    """
    from sesiam_lib.evaluation import success_curve

    SiamFCTracker = _tracker_class()
    opts = dict(vcfg.tracker or {})
    opts.setdefault("fast", True)  # the BN-folded inference copy (same scores, built from the current weights)
    opts.setdefault("debug", False)
    opts.setdefault("device", device)
    if hasattr(SiamFCTracker, "from_benchmark") and getattr(model, "arch", None):
        tracker = SiamFCTracker.from_benchmark(model, **opts)
    else:
        opts.pop("benchmark", None)
        tracker = SiamFCTracker(model, **opts)
    curves = []
    with torch.no_grad():
        for seq in sequences:
            n = len(seq) if vcfg.max_frames is None else min(len(seq), int(vcfg.max_frames))
            if n < 2:
                continue
            boxes, _ = tracker.track(seq.frames[:n], seq.boxes[0])
            curves.append(success_curve(seq.boxes[:n], boxes))
    if not curves:
        raise ValueError("validation: no sequence with at least 2 frames")
    return float(np.mean(np.mean(curves, axis=0)))

"""Tracking with the scale head (issue #18): one search crop per frame, scale read from the shift axis.

:class:`~sesiam_lib.tracking.SiamFCTracker` switches to this mode by itself when its model has
``head_type == "scale"`` (``build_model(name, head="scale")``, :mod:`sesiam_lib.models.scale_head`); the pyramid
path of every other model is untouched. One step (``K = 2m + 1`` shifts ``k = -m .. m``, ``a`` = the model's
``scale_ratio``, ``U = response_up * S``)::

    side     = round(s_x)                                   ONE crop (cut as the pyramid cuts a one-scale search)
    r        = model.track(crop)                            [K, S, S]  (channel k + m = shift k)
    up_k     = bicubic upsampling of each map to U x U      (as the pyramid path)
    m_k      = (up_k - min_all) / (sum_all / K)             (one normalisation for all the maps: they stay comparable;
                                                             with K = 1 it is the release's (up - min) / sum)
    final_k  = (1 - w_influence) * scale_penalty ** |k| * m_k + w_influence * hann(U)
    (b, r, c)= argmax over (shift, row, col) of final
    p       += ((c, r) - ceil(U / 2)) * stride / response_up * s_x / I          (as the pyramid path)
    k_hat    = k_b + vertex of the parabola through final_{b-1}[r, c], final_b[r, c], final_{b+1}[r, c]
               (0 when b is at either end of the axis or the three values are not concave; |offset| <= 1/2 since b
               is the maximum), clipped to [-m, m]
    factor   = a ** k_hat                                    (k > 0: the target appears larger than in the template)
    s_x      = clamp((1 - lr) s_x + lr s_x factor, 0.2 s_x0, 5 s_x0)      (the released damped update, lr = scale_lr)
    (w, h)   = (1 - lr) (w, h) + lr (w, h) factor;  p and (w, h) clamped as the pyramid path

The released hyper-parameter names keep their roles, so the tuning tool works unchanged: ``scale_penalty`` =
the per-shift penalty, ``scale_lr`` = the damping, ``w_influence`` = the window. ``scale_step`` and ``num_scales``
are **ignored** (the step is the basis ratio ``a``, the number of maps ``2m + 1``; a tuning study still samples
``scale_step``, to no effect). The penalty multiplies the normalised, non-negative map (not the raw logits, whose
sign is arbitrary), before the window is added.

``true_size``: the size is set to the true one first, the crop is cut at it, the centre comes from the peak as
above, and the size is not updated (localisation alone, as the pyramid path).

The tracker's ``scales`` attribute holds ``a ** k`` per shift (the size factor each shift stands for), so the
scale-decision probe (:mod:`.scale_probe`) scores a scale head's pick of shift exactly as a pyramid's pick of scale.
"""

from __future__ import annotations

import time

import numpy as np

from .siamfc_tracker import as_rgb_uint8, hann_window

__all__ = ["parabola_offset", "normalize_shift_maps", "scale_head_step", "HEAD_SCALE", "is_scale_head"]

HEAD_SCALE = "scale"


def is_scale_head(tracker_or_factory) -> bool:
    """Does this tracker, model or :class:`~sesiam_lib.tracking.TrackerFactory` use the scale head? (A factory:
    its ``model_options`` completed with what its training checkpoint records, without building the model.)"""
    obj = tracker_or_factory
    if getattr(obj, "head_type", None) is not None:
        return obj.head_type == HEAD_SCALE
    if hasattr(obj, "model_options"):
        from ..models import checkpoint_model_options

        try:
            options = checkpoint_model_options(obj.model_options, getattr(obj, "checkpoint", None))
        except ValueError:
            options = dict(obj.model_options or {})
        return options.get("head") == HEAD_SCALE
    return False


def parabola_offset(values, best: int) -> float:
    """Sub-step offset of the maximum of a sampled curve at index ``best``: the vertex of the parabola through
    ``values[best - 1 : best + 2]``, in ``[-1/2, 1/2]`` when ``values[best]`` is the largest of the three; 0 at either
    end of ``values``, or when the three values are not strictly concave."""
    v = np.asarray(values, dtype=np.float64)
    if best <= 0 or best >= len(v) - 1:
        return 0.0
    lo, mid, hi = v[best - 1], v[best], v[best + 1]
    denom = lo - 2.0 * mid + hi
    if not (denom < 0) or not np.isfinite(denom):
        return 0.0
    return float(np.clip(0.5 * (lo - hi) / denom, -1.0, 1.0))


def normalize_shift_maps(up: np.ndarray) -> np.ndarray:
    """``(up - min) / (sum / K)`` over all ``K`` maps ``up [K, U, U]`` together (float64); zeros for a constant
    stack (only the window decides then, as the pyramid path does with a flat map)."""
    m = up.astype(np.float64) - float(up.min())
    total = float(m.sum()) / up.shape[0]
    if total > 0 and np.isfinite(total):
        return m / total
    return np.zeros_like(m)


def scale_head_step(tracker, image, true_size=None) -> np.ndarray:
    """One :meth:`SiamFCTracker.update` of a scale-head tracker (see the module doc); returns the box."""
    t0 = time.perf_counter()
    img = as_rgb_uint8(image)
    height, width = img.shape[:2]
    if true_size is not None:
        wh = np.asarray(true_size, dtype=np.float64).ravel()
        if wh.size != 2:
            raise ValueError(f"true_size: expected (w, h), got {true_size!r}")
        tracker.set_size(wh[0], wh[1])
    side = max(1, round(float(tracker.s_x)))
    crops, big_side = tracker._pyramid(img, [side])  # one crop, cut exactly as a one-scale pyramid search
    t1 = time.perf_counter()

    out = tracker.net.track(tracker._to_tensor(crops))
    if isinstance(out, (tuple, list)):
        out = out[0]
    scores = out[0].float()  # [K, S, S]
    raw = scores.cpu().numpy()
    t2 = time.perf_counter()
    shifts = tracker.shifts
    n = len(shifts)
    if raw.ndim != 3 or raw.shape[0] != n:
        raise RuntimeError(f"scale-head model returned scores of shape {tuple(out.shape)}; expected "
                           f"[1, {n}, S, S] for max_shift {tracker.max_shift}")
    up, up_size = tracker._upsample_scores(scores, raw)
    m = normalize_shift_maps(up)
    window = tracker.window if up_size == tracker.up_size else hann_window(up_size)
    penalties = tracker.penalties
    w = tracker.w_influence
    final = (1 - w) * m * penalties[:, None, None] + w * window[None]
    b, r_max, c_max = np.unravel_index(int(final.argmax()), final.shape)
    b, r_max, c_max = int(b), int(r_max), int(c_max)
    offset = parabola_offset(final[:, r_max, c_max], b)
    m_shift = tracker.max_shift
    k_hat = float(np.clip(shifts[b] + offset, -m_shift, m_shift))
    factor = float(tracker.scale_ratio ** k_hat)

    old_center, old_size, old_s_x = tracker.center, tracker.size, tracker.s_x
    box = tracker._move_to_peak(r_max, c_max, up_size, width, height, factor if true_size is None else None)
    t3 = time.perf_counter()

    timings = {"crop": t1 - t0, "network": t2 - t1, "post": t3 - t2}
    if tracker.debug:
        tracker.last_debug = {
            "head": HEAD_SCALE, "search_crops": crops, "response_raw": raw, "response_up": up,
            "shifts": np.asarray(shifts), "scales": np.asarray(tracker.scales), "penalties": penalties,
            "penalized_max": final.reshape(n, -1).max(axis=1), "best_scale": b, "best_shift": int(shifts[b]),
            "shift_estimate": k_hat, "scale_factor": factor, "response_final": final[b],
            "response_final_all": final, "peak": (r_max, c_max), "center": old_center, "size": old_size,
            "s_x": old_s_x, "search_sides": [side], "pyramid_side": big_side, "box": box, "timings": timings,
        }
    else:
        tracker.last_debug = {"timings": timings}
    return box

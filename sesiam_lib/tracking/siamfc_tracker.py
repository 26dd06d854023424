"""The released SiamFC tracker with a scale pyramid (FACTS §4), for every model of :func:`build_model`.

One tracking step, as released (``E``/``I``/``S`` = the model's exemplar/instance/score sizes, 127/255/17 for
the full models; ``U = response_up * S``)::

    sides_i  = round(s_x * q_i),  q_i = scale_step ** (i - n//2)             (Python round: half to even)
    L        = round(I / min(sides) * max(sides))
    big      = get_subwindow(frame, p, L, max(sides), avg_chans)           (crop once, resize to L x L)
    crop_i   = get_subwindow(big, ((L+1)/2, (L+1)/2), I, round(sides_i * I / min(sides)), avg_chans)
    score_i  = model.track(crops)                                          (n, S, S)
    up_i     = bicubic upsampling to U x U (cv2 INTER_CUBIC == torch bicubic, align_corners=False)
    best     = argmax_i  max(up_i) * scale_penalty ** |i - n//2|
    m        = (up_best - min) / sum;  m = (1 - w_influence) m + w_influence hann(U) hann(U)^T / sum
    (r, c)   = argmax m
    p       += ((c, r) - ceil(U / 2)) * stride / response_up * s_x / I
    s_x      = clamp((1 - lr) s_x + lr s_x q_best, 0.2 s_x0, 5 s_x0)
    (w, h)   = (1 - lr) (w, h) + lr (w, h) q_best
    p        clamped into [0, W] x [0, H];  w, h clamped into [10, W], [10, H]
    box      = (max(0, p_x - w/2), max(0, p_y - h/2), w, h)

and at ``init``: ``s_z = round(sqrt((w + c(w+h)) (h + c(w+h))))``, ``s_x = s_z + 2 ((I - E)/2) / (E / s_z)``,
``avg_chans`` = the first frame's per-channel mean, template = ``get_subwindow(frame, p, E, s_z, avg_chans)``.

Deviations from the release, all in cases where the release would crash or produce NaN:

- frames of changing size: the clamps use the *current* frame's size (the release stores the first frame's);
- a degenerate (constant) score map, whose normalisation would divide by zero, is replaced by zeros so the
  cosine window decides (the release would produce NaN and jump to the map's corner);
- ``s_z`` and the search sides are at least 1 pixel.

Models with the scale head (``build_model(name, head="scale")``, ``model.head_type == "scale"``) are tracked in
another mode, picked automatically: one search crop per frame, size from the response's shift axis (see
:mod:`.scale_head_tracker`; ``scale_step`` and ``num_scales`` are ignored; ``params()`` records ``head``).

Crops are RGB; the model converts to what its weights expect (SiamFC+ flips to BGR inside). Since the crop
routine and the padding colour treat channels independently, an RGB crop is exactly the channel-flip of the
release's BGR crop, so SiamFC+ sees the release's pixels.
"""

from __future__ import annotations

import os
import time
import warnings
from typing import Any

import cv2
import numpy as np
import torch

from ..core.boxes import center_to_xywh, polygon_to_xywh
from ..core.crop import channel_mean, context_side, get_subwindow, search_side
from .params import DEFAULT_BENCHMARK, canonical_benchmark, tracker_params

__all__ = ["SiamFCTracker", "as_rgb_uint8", "parse_box", "check_box_in_image", "resolve_device",
           "hann_window", "scale_factors", "bicubic_matrix",
           "UPSAMPLE_MODES"]


# --------------------------------------------------------------------------------------------------------------
# input checking
# --------------------------------------------------------------------------------------------------------------
def as_rgb_uint8(image, argname: str = "image") -> np.ndarray:
    """An RGB ``uint8 [H, W, 3]`` C-contiguous array from an RGB array or a PIL image.

    Accepts ``[H, W]`` and ``[H, W, 1]`` grayscale (copied to 3 channels), ``[H, W, 4]`` (alpha dropped), PIL
    images of any mode (converted to RGB), and non-``uint8`` arrays with values in 0..255 (rounded, clipped).

    Float images follow the ``uint8`` convention: **pixel values 0..255**, not 0..1. A float image whose
    maximum is in (0, 1] is taken for a 0..1 image (it would otherwise be read as almost black and tracking
    would collapse) and raises a ``ValueError`` saying to multiply it by 255. (An all-zero image is the same
    in both conventions and is accepted.)

    Raises:
        ValueError: naming ``argname``, for anything else (wrong rank, empty, NaN pixels, a 0..1 float image).
    """
    if hasattr(image, "convert") and hasattr(image, "mode") and not isinstance(image, np.ndarray):  # PIL
        image = np.asarray(image.convert("RGB"))
    elif isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ValueError(f"{argname}: expected an RGB image [H, W, 3] (or [H, W] grayscale), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{argname}: empty image of shape {arr.shape}")
    if arr.dtype != np.uint8:
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{argname}: unsupported pixel type {arr.dtype}")
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all():
                raise ValueError(f"{argname}: image contains NaN or infinite pixels")
            peak = float(arr.max())
            if 0.0 < peak <= 1.0:
                raise ValueError(
                    f"{argname}: float image with values in 0..{peak:.3g} looks like a 0..1 image; images must "
                    f"use pixel values 0..255 like uint8 (pass image * 255, or the uint8 image itself)")
            arr = np.rint(arr)
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def parse_box(box, argname: str = "box") -> tuple[np.ndarray, np.ndarray]:
    """``(centre (cx, cy), size (w, h))`` of a 0-based ``(x, y, w, h)`` box or an 8-value VOT polygon.

    A polygon gives the release's axis-aligned box (mean of the corners, area-preserving sides + 1, FACTS §4).

    Raises:
        ValueError: naming ``argname``, when the box has another length, NaN/inf values or a side <= 0.
    """
    try:
        b = np.asarray(box, dtype=np.float64).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{argname}: expected 4 numbers (x, y, w, h) or 8 (polygon), got {box!r}") from exc
    if b.size not in (4, 8):
        raise ValueError(f"{argname}: expected 4 numbers (x, y, w, h) or 8 (polygon), got {b.size}: {box!r}")
    if not np.isfinite(b).all():
        raise ValueError(f"{argname}: box has NaN or infinite values: {b.tolist()}")
    if b.size == 8:
        xywh = polygon_to_xywh(b)
        center = np.array([b[0::2].mean(), b[1::2].mean()])
        size = xywh[2:].copy()
    else:
        center = b[:2] + b[2:] / 2.0
        size = b[2:].copy()
    if not (np.isfinite(size).all() and size[0] > 0 and size[1] > 0):
        raise ValueError(f"{argname}: box width and height must be > 0, got w={size[0]}, h={size[1]}")
    return center, size


MAX_BOX_TO_IMAGE = 16.0
"""A box side larger than this many times the image's side is rejected by :meth:`SiamFCTracker.init`."""


def check_box_in_image(center, size, image_shape, argname: str = "box") -> None:
    """Raise a ``ValueError`` naming ``argname`` when the box ``(center, size)`` cannot be tracked in an image of
    ``image_shape`` (``H, W, ...``): it lies entirely outside the image, or a side exceeds
    :data:`MAX_BOX_TO_IMAGE` times the image's (its context crop would be absurdly large)."""
    height, width = int(image_shape[0]), int(image_shape[1])
    (cx, cy), (w, h) = center, size
    x0, y0 = cx - w / 2.0, cy - h / 2.0
    box = f"(x={x0:.6g}, y={y0:.6g}, w={w:.6g}, h={h:.6g})"
    if x0 >= width or y0 >= height or x0 + w <= 0 or y0 + h <= 0:
        raise ValueError(f"{argname}: the box {box} lies entirely outside the {width}x{height} image "
                         f"(boxes are 0-based x, y, w, h in pixels of this image)")
    if w > MAX_BOX_TO_IMAGE * width or h > MAX_BOX_TO_IMAGE * height:
        raise ValueError(f"{argname}: the box {box} is more than {MAX_BOX_TO_IMAGE:g} times larger than the "
                         f"{width}x{height} image; check the box's units (0-based x, y, w, h in pixels)")


def resolve_device(device, argname: str = "device") -> torch.device:
    """``None`` -> CUDA when available, else CPU; a CUDA request without CUDA raises a ``ValueError`` that says
    what to do (instead of torch's ``AssertionError: Torch not compiled with CUDA enabled``)."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"{argname}: not a device: {device!r} (use 'cpu', 'cuda', 'cuda:N' or None)") from exc
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = ("this PyTorch build has no CUDA support (torch.version.cuda is None); install a CUDA build of "
                   "PyTorch" if torch.version.cuda is None else "no CUDA GPU is visible to PyTorch")
            raise ValueError(f"{argname}={device!r}: CUDA is not available: {why}, or use device='cpu' "
                             f"(or device=None to pick CUDA only when it is available)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{argname}={device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return dev


def hann_window(size: int) -> np.ndarray:
    """``outer(hanning(size), hanning(size))`` normalised to sum 1 (float64)."""
    w = np.outer(np.hanning(size), np.hanning(size))
    return w / w.sum()


def bicubic_matrix(n_in: int, n_out: int, a: float = -0.75) -> np.ndarray:
    """``(n_out, n_in)`` float64 matrix of 1-D bicubic resampling as ``cv2.resize(INTER_CUBIC)`` and
    ``torch.nn.functional.interpolate(mode="bicubic", align_corners=False)`` do it.

    Keys' cubic kernel with ``a = -0.75``, half-pixel centres (source ``x = (i + 0.5) n_in / n_out - 0.5``) and
    border taps clamped to the edge pixels. ``M @ img @ M.T`` upsamples a square map.
    """
    x = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    x0 = np.floor(x)
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for k in range(-1, 3):
        j = x0 + k
        t = np.abs(x - j)
        w = np.where(t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                     np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0.0))
        np.add.at(m, (rows, np.clip(j, 0, n_in - 1).astype(np.int64)), w)
    return m


UPSAMPLE_MODES = ("matrix", "cv2", "torch")


def scale_factors(scale_step: float, num_scales: int) -> np.ndarray:
    """``scale_step ** (i - ceil(num_scales // 2))``, ``i = 0 .. num_scales - 1`` (the release's exponents)."""
    return scale_step ** (np.arange(num_scales) - np.ceil(num_scales // 2))


def _model_geometry(model) -> tuple[int, int, int, int]:
    get = lambda *names: next((getattr(model, n) for n in names if getattr(model, n, None) is not None), None)  # noqa: E731
    exemplar = get("exemplar_size", "template_size")
    instance = get("instance_size", "search_size")
    score = get("score_size")
    stride = get("total_stride", "stride")
    return exemplar, instance, score, stride


# --------------------------------------------------------------------------------------------------------------
# the tracker
# --------------------------------------------------------------------------------------------------------------
class SiamFCTracker:
    """SiamFC tracking with a scale pyramid, exactly as released (FACTS §4). GOT-10k toolkit compatible.

    Args:
        model: a network with ``template(z)`` / ``track(x) -> [N, 1, S, S]`` taking RGB 0..255 float tensors
            ``[N, 3, H, W]``, and the attributes ``exemplar_size``, ``instance_size``, ``score_size``,
            ``total_stride`` (every model of :func:`sesiam_lib.models.build_model` has them). It is put in eval
            mode and moved to ``device``.
        scale_step, scale_lr, scale_penalty, w_influence: the tuned hyper-parameters (see
            :func:`~sesiam_lib.tracking.params.tracker_params`; defaults: SE-SiamFC's OTB2015 set).
        num_scales: pyramid levels (3).
        response_up: upsampling factor of the score map (16).
        context_amount: context around the target in the template (0.5).
        device: ``"cpu"``, ``"cuda"``, a ``torch.device``; ``None`` = CUDA when available, else CPU.
        fast: run the model's optimised inference copy (``model.fast()`` /
            :func:`sesiam_lib.models.fast.optimize_for_inference`) when it exists; falls back to the model
            itself (with a warning if the optimisation raised).
        exemplar_size, instance_size, score_size, total_stride: override the model's geometry (normally read
            from the model).
        name: the tracker's name (result folder name); default from the model's ``arch``.
        debug: keep the last step's intermediate arrays in :attr:`last_debug` (references only, no copies).
        upsample: how the bicubic upsampling of the score maps is computed; all three are the same filter
            (cv2 ``INTER_CUBIC`` = torch ``bicubic``, ``align_corners=False``: Keys a = -0.75, half-pixel
            centres, clamped borders) and agree to float32 rounding (~1e-6; tested): ``"cv2"`` (default,
            ``cv2.resize`` per map), ``"torch"`` (``F.interpolate`` on the model's device, as the release did on
            its GPU; the natural choice on CUDA), ``"matrix"`` (two matrix products with a cached
            :func:`bicubic_matrix`; fast alone, but numpy's BLAS threads contend with torch's on a small CPU).

    Attributes:
        name: tracker name (GOT-10k toolkit interface).
        is_deterministic: True (GOT-10k toolkit interface).
        last_debug: after each :meth:`update`: ``search_crops`` (n, I, I, 3) uint8 RGB, ``response_raw``
            (n, S, S), ``response_up`` (n, U, U) float32, ``scales`` (n,), ``penalized_max`` (n,),
            ``best_scale`` (int), ``response_final`` (U, U) (normalised, windowed map of the best scale),
            ``peak`` (row, col) in it, ``center`` / ``size`` / ``s_x`` before the step, ``search_sides``,
            ``pyramid_side`` (L), ``box`` (the output), ``timings`` (seconds: crop, network, post).
            After :meth:`init`: ``template_crop`` (E, E, 3) uint8 and ``s_z``.
        center, size, s_x: the current state (frame pixels).
    """

    is_deterministic = True

    def __init__(
        self,
        model,
        scale_step: float = 1.1633,
        scale_lr: float = 0.171,
        scale_penalty: float = 0.9995,
        w_influence: float = 0.251,
        num_scales: int = 3,
        response_up: int = 16,
        context_amount: float = 0.5,
        device=None,
        fast: bool = True,
        exemplar_size: int | None = None,
        instance_size: int | None = None,
        score_size: int | None = None,
        total_stride: int | None = None,
        name: str | None = None,
        debug: bool = True,
        upsample: str = "cv2",
        model_name: str | None = None,
        benchmark: str | None = None,
        checkpoint: str | None = None,
    ) -> None:
        if model is None:
            raise ValueError("model: a network is required")
        if int(num_scales) < 1:
            raise ValueError(f"num_scales: must be >= 1, got {num_scales}")
        if not (float(scale_step) > 0):
            raise ValueError(f"scale_step: must be > 0, got {scale_step}")
        if int(response_up) < 1:
            raise ValueError(f"response_up: must be >= 1, got {response_up}")
        if upsample not in UPSAMPLE_MODES:
            raise ValueError(f"upsample: expected one of {UPSAMPLE_MODES}, got {upsample!r}")
        self.upsample = upsample
        self.scale_step = float(scale_step)
        self.scale_lr = float(scale_lr)
        self.scale_penalty = float(scale_penalty)
        self.w_influence = float(w_influence)
        self.num_scales = int(num_scales)
        self.response_up = int(response_up)
        self.context_amount = float(context_amount)
        self.debug = bool(debug)

        m_e, m_i, m_s, m_st = _model_geometry(model)
        self.exemplar_size = int(exemplar_size if exemplar_size is not None else (m_e if m_e is not None else 127))
        self.instance_size = int(instance_size if instance_size is not None else (m_i if m_i is not None else 255))
        self.total_stride = int(total_stride if total_stride is not None else (m_st if m_st is not None else 8))
        self.score_size = int(score_size) if score_size is not None else (int(m_s) if m_s is not None else None)

        self.device = resolve_device(device)
        self.model = model.to(self.device).eval() if hasattr(model, "to") else model
        self.fast = bool(fast)
        self.fast_fallback: str | None = None
        self.net = self._inference_model(self.model) if self.fast else self.model
        if self.score_size is None:  # a model without the attribute: measure it once
            self.score_size = self._probe_score_size()

        self.model_name = model_name or getattr(model, "arch", None) or type(model).__name__
        self.benchmark = benchmark
        self.tuned: dict[str, Any] | None = None  # from_benchmark(tuned=...): the tuned file's description
        self.checkpoint = checkpoint
        self.name = name or f"{self.model_name}"

        self.up_size = self.response_up * self.score_size
        self.window = hann_window(self.up_size)
        self.scales = scale_factors(self.scale_step, self.num_scales)
        self.penalties = np.array([self.scale_penalty ** abs(i - self.num_scales // 2)
                                   for i in range(self.num_scales)])
        self.head_type = getattr(model, "head_type", "pool")
        if self.head_type == "scale":
            self._init_scale_head(model)

        self.center: np.ndarray | None = None
        self.size: np.ndarray | None = None
        self.s_x: float | None = None
        self.min_s_x = self.max_s_x = None
        self.avg_chans: np.ndarray | None = None
        self.last_debug: dict[str, Any] = {}

    def _init_scale_head(self, model) -> None:
        """Scale-head mode (:mod:`.scale_head_tracker`): shifts ``-m..m``, ``scales`` = ``ratio ** k`` (the size
        factor of each shift), ``penalties`` = ``scale_penalty ** |k|``; ``scale_step``/``num_scales`` unused."""
        self.max_shift = int(model.max_shift)
        self.scale_ratio = float(model.scale_ratio)
        self.shifts = list(range(-self.max_shift, self.max_shift + 1))
        self.scales = self.scale_ratio ** np.asarray(self.shifts, dtype=np.float64)
        self.penalties = np.array([self.scale_penalty ** abs(k) for k in self.shifts])

    # --- construction helpers -----------------------------------------------------------------------------
    @classmethod
    def from_benchmark(cls, model, model_name: str | None = None, benchmark: str | None = DEFAULT_BENCHMARK,
                       tuned=None, **overrides) -> "SiamFCTracker":
        """A tracker with the released hyper-parameters of ``(model_name, benchmark)`` (FACTS §4), or those of a
        tuned file.

        ``model_name`` defaults to ``model.arch``; ``tuned`` is a ``best_params.json`` of :mod:`sesiam_lib.tuning`
        (path or dict) whose numbers replace the benchmark's (see :func:`tracker_params`; recorded in
        :attr:`tuned`, in :meth:`provenance` and, as ``benchmark = "tuned:<path>"``, in run records);
        ``overrides`` replace any hyper-parameter or set any other constructor argument (``device=``, ``name=``).
        """
        model_name = model_name or getattr(model, "arch", None)
        if model_name is None:
            raise ValueError("model_name: the model has no 'arch' attribute; pass model_name explicitly")
        keys = ("scale_step", "scale_lr", "scale_penalty", "w_influence", "num_scales")
        hp = tracker_params(model_name, benchmark, tuned=tuned,
                            **{k: overrides.pop(k) for k in keys if k in overrides})
        info = None
        if tuned is not None:
            from .params import load_tuned

            info = load_tuned(tuned)
            info.pop("params")
        overrides.setdefault("model_name", model_name)
        overrides.setdefault("benchmark", (canonical_benchmark(benchmark) or benchmark) if info is None
                             else f"tuned:{info['path'] or info['sha256'][:12]}")
        tracker = cls(model, **hp, **overrides)
        tracker.tuned = info
        return tracker

    def _inference_model(self, model):
        """The model's optimised inference copy (``model.fast()``, else ``optimize_for_inference``) or the model.

        A model the optimiser does not support (``TypeError`` / ``NotImplementedError``, e.g. a user's own
        network) silently falls back; any other failure falls back with a ``RuntimeWarning``. The reason is kept
        in :attr:`fast_fallback`.
        """
        self.fast_fallback = None
        fast = getattr(model, "fast", None)
        try:
            if callable(fast):
                net = fast()
            else:
                from ..models.fast import optimize_for_inference

                net = optimize_for_inference(model)
            return net.to(self.device) if hasattr(net, "to") else net
        except (ImportError, AttributeError, NotImplementedError, TypeError) as exc:
            self.fast_fallback = f"{type(exc).__name__}: {exc}"
            return model
        except Exception as exc:  # an optimiser bug must not stop tracking: fall back to the reference model
            self.fast_fallback = f"{type(exc).__name__}: {exc}"
            warnings.warn(f"fast inference path unavailable ({self.fast_fallback}); using the model as is",
                          RuntimeWarning, stacklevel=3)
            return model

    @torch.inference_mode()
    def _probe_score_size(self) -> int:
        z = torch.zeros(1, 3, self.exemplar_size, self.exemplar_size, device=self.device)
        x = torch.zeros(1, 3, self.instance_size, self.instance_size, device=self.device)
        self.net.template(z)
        return int(self._scores(self.net.track(x)).shape[-1])

    def params(self) -> dict[str, Any]:
        """The hyper-parameters and geometry (JSON-serialisable), for run records."""
        return {
            "scale_step": self.scale_step, "scale_lr": self.scale_lr, "scale_penalty": self.scale_penalty,
            "w_influence": self.w_influence, "num_scales": self.num_scales, "response_up": self.response_up,
            "context_amount": self.context_amount, "upsample": self.upsample, "exemplar_size": self.exemplar_size,
            "instance_size": self.instance_size, "score_size": self.score_size, "total_stride": self.total_stride,
            # scale-head mode only (the pyramid's record is unchanged): scale_step / num_scales are then unused
            **({"head": "scale", "max_shift": self.max_shift, "scale_ratio": self.scale_ratio}
               if self.head_type == "scale" else {}),
        }

    def provenance(self) -> dict[str, Any]:
        """Everything that determines this tracker's boxes (JSON-serialisable), for provenance keys: the weights'
        SHA-256 (of the state dict, so in-memory weights count too), the checkpoint file's SHA-256, the model's
        name and build options, the hyper-parameters and geometry, the inference path and the device type."""
        from ..core.io import file_sha256
        from ..core.provenance import state_dict_sha256

        state = self.model.state_dict() if hasattr(self.model, "state_dict") else {}
        checkpoint_sha = None
        if self.checkpoint is not None and os.path.isfile(str(self.checkpoint)):
            checkpoint_sha = file_sha256(self.checkpoint)
        fields = {
            "tracker_class": type(self).__name__,
            "model_name": self.model_name,
            "model_options": dict(getattr(self.model, "build_options", {}) or {}),
            "weights_sha256": state_dict_sha256(state),
            "checkpoint_sha256": checkpoint_sha,
            "hyper_parameters": self.params(),
            "fast": bool(self.fast and self.fast_fallback is None),
            "device_type": getattr(self.device, "type", str(self.device)),
        }
        if getattr(self, "tuned", None):  # only then: the keys of untuned runs stay what they were
            # what the setting was tuned for (not the file's hash or trial count: extending a study without a
            # better setting must not re-run tracking; the numbers themselves are in hyper_parameters)
            fields["tuned"] = {k: self.tuned.get(k) for k in ("model", "metric", "study", "value", "baseline_value")}
        return fields

    def __repr__(self) -> str:
        p = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"SiamFCTracker(name={self.name!r}, model={self.model_name!r}, device={self.device}, {p})"

    # --- tensors ---------------------------------------------------------------------------------------
    def _to_tensor(self, crops: np.ndarray) -> torch.Tensor:
        """``uint8 (N, H, W, 3)`` -> float32 ``[N, 3, H, W]`` on the device (uint8 is what crosses to a GPU)."""
        t = torch.from_numpy(crops).to(self.device, non_blocking=False)
        return t.permute(0, 3, 1, 2).float().contiguous()

    @staticmethod
    def _scores(out) -> torch.Tensor:
        if isinstance(out, (tuple, list)):
            out = out[0]
        if out.dim() == 4:
            out = out[:, 0]
        return out

    # --- the tracker interface ----------------------------------------------------------------------------
    @torch.inference_mode()
    def init(self, image, box) -> None:
        """Start tracking the target ``box`` (0-based ``x, y, w, h``, or an 8-value polygon) in ``image``.

        ``image``: RGB, ``uint8`` or float with values 0..255 (see :func:`as_rgb_uint8`).

        Raises:
            ValueError: a bad image (see :func:`as_rgb_uint8`), a malformed box, a box entirely outside the image
                or absurdly larger than it (see :func:`check_box_in_image`).
        """
        img = as_rgb_uint8(image)
        center, size = parse_box(box)
        check_box_in_image(center, size, img.shape)
        self.center, self.size = center, size
        self.avg_chans = channel_mean(img)

        s_z = context_side(size[0], size[1], self.context_amount)
        self.s_x = search_side(s_z, self.exemplar_size, self.instance_size)
        self.min_s_x, self.max_s_x = 0.2 * self.s_x, 5 * self.s_x

        z_crop = get_subwindow(img, center, self.exemplar_size, s_z, self.avg_chans)
        self.net.template(self._to_tensor(z_crop[None]))
        self.last_debug = {"template_crop": z_crop, "s_z": s_z} if self.debug else {}

    def place(self, box) -> None:
        """Set the current estimate to ``box`` (0-based ``x, y, w, h``) without touching the template: the next
        ``update`` searches around it at its size. For probes (:mod:`.scale_probe`) and re-detection; ``init``
        first. The search-side clamp of ``init`` is kept."""
        if self.center is None:
            raise RuntimeError("place() called before init()")
        center, size = parse_box(box)
        s_x = search_side(context_side(size[0], size[1], self.context_amount), self.exemplar_size, self.instance_size)
        self.center, self.size = center, size
        self.s_x = max(self.min_s_x, min(self.max_s_x, s_x))

    def _pyramid(self, img: np.ndarray, sides: list[int]) -> tuple[np.ndarray, int]:
        """The release's pyramid: crop the largest side once, resize to L, crop every side from that."""
        inst = self.instance_size
        min_side, max_side = min(sides), max(sides)
        beta = inst / min_side
        big_side = max(1, round(beta * max_side))
        region = get_subwindow(img, self.center, big_side, max_side, self.avg_chans)
        mid = (1 + big_side) / 2
        crops = np.empty((len(sides), inst, inst, 3), dtype=np.uint8)
        for i, side in enumerate(sides):
            crops[i] = get_subwindow(region, (mid, mid), inst, max(1, round(beta * side)), self.avg_chans)
        return crops, big_side

    def _upsample(self, raw: np.ndarray, up_size: int) -> np.ndarray:
        n, size = raw.shape[0], raw.shape[-1]
        if self.upsample == "cv2":
            up = np.empty((n, up_size, up_size), dtype=np.float32)
            for i in range(n):
                cv2.resize(raw[i], (up_size, up_size), dst=up[i], interpolation=cv2.INTER_CUBIC)
            return up
        key = (size, up_size)
        if getattr(self, "_bicubic_key", None) != key:
            mat = bicubic_matrix(size, up_size).astype(np.float32)
            self._bicubic, self._bicubic_t, self._bicubic_key = mat, np.ascontiguousarray(mat.T), key
        half = np.matmul(self._bicubic, raw)  # (n, U, S)
        return (half.reshape(n * up_size, size) @ self._bicubic_t).reshape(n, up_size, up_size)

    def _move_to_peak(self, r_max: int, c_max: int, up_size: int, width: int, height: int,
                      factor: float | None) -> np.ndarray:
        """Move the target to the response peak ``(r_max, c_max)`` of an ``up_size`` map and scale it by ``factor``
        with the released damped update (``scale_lr``; ``s_x`` clamped to ``[0.2, 5] s_x0``, the size to
        ``[10, W] x [10, H]``); ``factor=None`` keeps the size (true-size runs). Returns the new ``(x, y, w, h)``."""
        disp = np.array([c_max, r_max], dtype=np.float64) - np.ceil(up_size / 2)
        disp = disp * self.total_stride / self.response_up
        disp = disp * self.s_x / self.instance_size
        center = self.center + disp
        center[0] = max(0.0, min(float(width), center[0]))
        center[1] = max(0.0, min(float(height), center[1]))
        if factor is None:  # localisation alone: the size stays the true one (s_x too: it was set from it)
            size = self.size.copy()
        else:
            lr, old_size = self.scale_lr, self.size
            self.s_x = max(self.min_s_x, min(self.max_s_x, (1 - lr) * self.s_x + lr * (self.s_x * factor)))
            size = np.array([(1 - lr) * old_size[0] + lr * old_size[0] * factor,
                             (1 - lr) * old_size[1] + lr * old_size[1] * factor])
            size[0] = max(10.0, min(float(width), size[0]))
            size[1] = max(10.0, min(float(height), size[1]))
        self.center, self.size = center, size
        return center_to_xywh(center, size)

    def _upsample_scores(self, scores: torch.Tensor, raw: np.ndarray) -> tuple[np.ndarray, int]:
        """Bicubic upsampling of every score map (``scores`` ``[n, S, S]``, ``raw`` its numpy copy) into a contiguous
        float32 ``[n, U, U]`` (like the release's tensor), ``U = response_up * S``; non-finite scores raise."""
        if not np.isfinite(raw).all():
            raise RuntimeError("model returned NaN or infinite scores (check the weights and the input)")
        up_size = self.response_up * raw.shape[-1]
        if self.upsample == "torch":
            up = torch.nn.functional.interpolate(scores[:, None], size=(up_size, up_size), mode="bicubic")
            return up[:, 0].cpu().numpy(), up_size
        return self._upsample(raw, up_size), up_size

    def set_size(self, w: float, h: float) -> None:
        """Set the current size estimate to ``(w, h)`` (centre kept) and the search side to the one of that size
        (``s_x = search_side(context_side(w, h))``, as :meth:`init` computes it; *not* clamped to the
        ``[0.2, 5] s_x0`` range of normal tracking, so the next crop is cut at exactly this scale). Used by
        :meth:`update` with ``true_size=``; ``init`` first.

        Raises:
            RuntimeError: before ``init``. ValueError: ``w`` or ``h`` not a finite number > 0.
        """
        if self.center is None:
            raise RuntimeError("set_size() called before init()")
        size = np.array([w, h], dtype=np.float64).ravel()
        if size.size != 2 or not (np.isfinite(size).all() and (size > 0).all()):
            raise ValueError(f"true_size: expected a finite (w, h) > 0, got {size.tolist()}")
        self.size = size
        self.s_x = search_side(context_side(size[0], size[1], self.context_amount), self.exemplar_size,
                               self.instance_size)

    @torch.inference_mode()
    def update(self, image, true_size=None) -> np.ndarray:
        """Track the target into ``image``; returns the 0-based ``(x, y, w, h)`` box (float64 ``(4,)``).

        ``true_size``: the target's true ``(w, h)`` in this frame, for "true size given" runs that measure
        localisation alone: the size is set to it first (:meth:`set_size`, centre kept), the search uses ONE
        scale (the crop is cut at the true scale, whatever :attr:`num_scales` is), the centre comes from the
        response as usual, and the returned box is the new centre with exactly ``true_size`` (the size estimate
        is not updated, and not clamped to ``[10, W] x [10, H]``). ``None``: normal tracking.
        """
        if self.center is None:
            raise RuntimeError("update() called before init()")
        if self.head_type == "scale":  # one crop, scale from the shift axis (sesiam_lib.tracking.scale_head_tracker)
            from .scale_head_tracker import scale_head_step

            return scale_head_step(self, image, true_size)
        t0 = time.perf_counter()
        img = as_rgb_uint8(image)
        height, width = img.shape[:2]
        if true_size is not None:
            wh = np.asarray(true_size, dtype=np.float64).ravel()
            if wh.size != 2:
                raise ValueError(f"true_size: expected (w, h), got {true_size!r}")
            self.set_size(wh[0], wh[1])
            scales, penalties = np.ones(1), np.ones(1)
        else:
            scales, penalties = self.scales, self.penalties
        n = len(scales)

        scaled_instance = self.s_x * scales
        sides = [max(1, round(float(v))) for v in scaled_instance]
        crops, big_side = self._pyramid(img, sides)
        t1 = time.perf_counter()

        scores = self._scores(self.net.track(self._to_tensor(crops))).float()
        raw = scores.cpu().numpy()  # (n, S, S) float32; synchronises the device
        t2 = time.perf_counter()
        if raw.shape[0] != n:
            raise RuntimeError(f"model returned {raw.shape[0]} score maps for {n} search crops")
        up, up_size = self._upsample_scores(scores, raw)
        # penalised maxima, kept in float32 like the release's in-place multiply
        penalized = (up.reshape(n, -1).max(axis=1).astype(np.float64) * penalties).astype(np.float32)
        best = int(np.argmax(penalized))

        m = up[best] - up[best].min()
        total = m.sum()
        if total > 0 and np.isfinite(total):
            m = m / total
        else:  # constant map: only the window decides (the release would divide by zero)
            m = np.zeros_like(m)
        window = self.window if up_size == self.up_size else hann_window(up_size)
        final = (1 - self.w_influence) * m + self.w_influence * window
        r_max, c_max = np.unravel_index(int(final.argmax()), final.shape)

        old_center, old_size, old_s_x = self.center, self.size, self.s_x
        box = self._move_to_peak(r_max, c_max, up_size, width, height,
                                 None if true_size is not None else scales[best])
        t3 = time.perf_counter()

        if self.debug:
            self.last_debug = {
                "search_crops": crops, "response_raw": raw, "response_up": up, "scales": scales,
                "penalized_max": penalized, "best_scale": best, "response_final": final,
                "peak": (int(r_max), int(c_max)), "center": old_center, "size": old_size, "s_x": old_s_x,
                "search_sides": sides, "pyramid_side": big_side, "box": box,
                "timings": {"crop": t1 - t0, "network": t2 - t1, "post": t3 - t2},
            }
        else:
            self.last_debug = {"timings": {"crop": t1 - t0, "network": t2 - t1, "post": t3 - t2}}
        return box

    # --- GOT-10k toolkit's Tracker.track -----------------------------------------------------------------
    def track(self, img_files, box, visualize: bool = False, true_sizes=None):
        """Track through image files (GOT-10k toolkit interface): returns ``(boxes (N, 4), times (N,))``.

        The first box is ``box`` itself; ``times`` are the seconds spent in :meth:`init` / :meth:`update`.

        ``true_sizes``: "true size given" tracking (localisation alone, see :meth:`update`): the ground truth of
        every frame, ``(N, 4)`` boxes ``x, y, w, h`` or ``(N, 2)`` sizes ``w, h`` (row 0 unused); a frame whose
        size is missing (NaN, <= 0) keeps the last valid one (:func:`~sesiam_lib.tracking.runners.true_sizes`).
        """
        from ..core.sequence import read_rgb

        n = len(img_files)
        sizes = None
        if true_sizes is not None:
            from .runners import true_sizes as _true_sizes

            sizes = _true_sizes(true_sizes, n)
        boxes = np.zeros((n, 4))
        times = np.zeros(n)
        boxes[0] = np.asarray(box, dtype=np.float64).ravel()[:4] if np.size(box) == 4 else np.nan
        for f, path in enumerate(img_files):
            image = read_rgb(path) if isinstance(path, (str, bytes)) or hasattr(path, "__fspath__") else path
            start = time.perf_counter()
            if f == 0:
                self.init(image, box)
                if np.size(box) != 4:
                    boxes[0] = center_to_xywh(self.center, self.size)
            else:
                boxes[f] = self.update(image) if sizes is None else self.update(image, true_size=sizes[f])
            times[f] = time.perf_counter() - start
            if visualize:
                from .visualize import show_frame

                show_frame(image, boxes[f])
        return boxes, times


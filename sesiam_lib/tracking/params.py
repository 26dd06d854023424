"""Per-benchmark tracker hyper-parameters of the releases (FACTS §4).

Each released checkpoint was tuned per benchmark; the four numbers are ``scale_step``, ``scale_lr``,
``scale_penalty`` and ``w_influence``. Everything else (3 scales, response_up 16, context 0.5, crop sizes from the
model) is shared.

Look-ups are forgiving about spelling: ``tracker_params("se_siamfc_resnet22", "otb-2015")``,
``tracker_params("SE-SiamFC", "OTB100")`` and ``tracker_params("SESiamFCResNet22", "OTB2015")`` all give the
SE-SiamFC OTB2015 set. Model names are mapped to a *family* (``"SE-SiamFC"`` or ``"SiamFC+"``): any name that
mentions scale equivariance (``se_...``, ``SESiam...``, ``SE-...``) is SE-SiamFC, any other SiamFC name is
SiamFC+ (``siamfc_plus``, ``SiamFCRes22``, ``ciresnet22``, the tiny variants too).

Benchmarks other than the four tuned ones (GOT-10k, the synthetic T-/S-MNIST, a user's own list) have no
released setting; :data:`DEFAULT_BENCHMARK` (OTB2015, the one-pass benchmark closest to them) is used for them
and the choice is recorded in each run's JSON record. Pass explicit values to override.

Tuned settings: ``tracker_params(model, tuned="…/best_params.json")`` takes the four numbers (and ``num_scales``
when it was tuned) from a file written by :mod:`sesiam_lib.tuning` (``python -m sesiam_lib.tuning``), which
replaces the benchmark's; explicit ``overrides`` still win. :func:`load_tuned` reads and checks such a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Mapping

__all__ = [
    "TRACKER_PARAMS",
    "BENCHMARKS",
    "DEFAULT_BENCHMARK",
    "model_family",
    "canonical_benchmark",
    "tracker_params",
    "load_tuned",
    "TUNED_KEYS",
]

_KEYS = ("scale_step", "scale_lr", "scale_penalty", "w_influence")


def _p(step: float, lr: float, penalty: float, w: float) -> dict[str, float]:
    return dict(zip(_KEYS, (step, lr, penalty, w)))


#: family -> benchmark -> hyper-parameters (FACTS §4)
TRACKER_PARAMS: dict[str, dict[str, dict[str, float]]] = {
    "SE-SiamFC": {
        "OTB2013": _p(1.145, 0.08, 1.0, 0.3),
        "OTB2015": _p(1.1633, 0.171, 0.9995, 0.251),
        "VOT2016": _p(1.105, 0.43, 1.0, 0.3),
        "VOT2017": _p(1.0633, 0.349, 0.9725, 0.224),
    },
    "SiamFC+": {
        "OTB2013": _p(1.0482, 0.3629, 0.9997, 0.3896),
        "OTB2015": _p(1.1897, 0.2226, 0.9370, 0.2897),
        "VOT2016": _p(1.1535, 0.4596, 0.9259, 0.3309),
        "VOT2017": _p(1.1466, 0.2061, 0.9994, 0.3242),
    },
}

BENCHMARKS = ("OTB2013", "OTB2015", "VOT2016", "VOT2017")
DEFAULT_BENCHMARK = "OTB2015"

_BENCH_ALIASES = {
    "otb2013": "OTB2013", "otb13": "OTB2013", "otb50": "OTB2013", "otb51": "OTB2013",
    "otb2015": "OTB2015", "otb15": "OTB2015", "otb100": "OTB2015", "otb": "OTB2015",
    "vot2016": "VOT2016", "vot16": "VOT2016",
    "vot2017": "VOT2017", "vot17": "VOT2017",
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9+]", "", str(name).lower())


def model_family(model_name) -> str:
    """``"SE-SiamFC"`` or ``"SiamFC+"`` for a model name (or a model with an ``arch`` attribute).

    Raises:
        ValueError: the name names neither family.
    """
    name = getattr(model_name, "arch", model_name)
    if not isinstance(name, str) or not name:
        raise ValueError(f"model_name: cannot tell the model family of {model_name!r}")
    raw = str(name).lower()
    n = _norm(name)
    if n in ("sesiamfc", "se") or n.startswith("sesiam") or n.startswith("seresnet") or re.match(r"^se[-_ ]", raw) \
            or "scaleequivariant" in n:
        return "SE-SiamFC"
    if "siamfc" in n or "ciresnet" in n or "siamdw" in n or n.startswith("siamfcres"):
        return "SiamFC+"
    raise ValueError(
        f"model_name: {name!r} names neither SE-SiamFC (e.g. 'se_siamfc_resnet22') nor SiamFC+ "
        f"(e.g. 'siamfc_plus_resnet22')"
    )


def canonical_benchmark(benchmark: str | None) -> str | None:
    """The tuned benchmark name (``OTB2013``, ``OTB2015``, ``VOT2016``, ``VOT2017``) or ``None`` if untuned."""
    if benchmark is None:
        return None
    return _BENCH_ALIASES.get(_norm(benchmark))


def tracker_params(model_name, benchmark: str | None = DEFAULT_BENCHMARK, tuned=None,
                   **overrides) -> dict[str, float]:
    """The released hyper-parameters for ``(model, benchmark)``, with a tuned file and ``overrides`` applied.

    Args:
        model_name: a model name (see :func:`model_family`) or a model with an ``arch`` attribute.
        benchmark: ``OTB2013`` / ``OTB2015`` / ``VOT2016`` / ``VOT2017`` (aliases accepted). Any other name
            (``GOT-10k``, ``S-MNIST``, ``None``) falls back to :data:`DEFAULT_BENCHMARK`.
        tuned: a ``best_params.json`` of :mod:`sesiam_lib.tuning` (path, or the loaded dict): its numbers replace
            the benchmark's. It must have been tuned for a model of the same family.
        overrides: any tracker keyword (``scale_step=1.05``, ``num_scales=5`` ...); ``None`` values are ignored.

    Returns:
        a new dict of keyword arguments for :class:`~sesiam_lib.tracking.SiamFCTracker`.

    Raises:
        ValueError: an unknown model family, or a tuned file that is malformed or for the other family.
        FileNotFoundError: the tuned file does not exist.
    """
    family = model_family(model_name)
    bench = canonical_benchmark(benchmark) or DEFAULT_BENCHMARK
    params = dict(TRACKER_PARAMS[family][bench])
    if tuned is not None:
        info = load_tuned(tuned)
        if info.get("model_family") and info["model_family"] != family:
            raise ValueError(f"tuned: {info.get('path') or 'the tuned setting'} was tuned for a {info['model_family']} "
                             f"model ({info.get('model')}), not for {getattr(model_name, 'arch', model_name)!r} "
                             f"({family})")
        params.update(info["params"])
    params.update({k: v for k, v in overrides.items() if v is not None})
    return params


#: the numbers a tuned file sets (``num_scales`` only when it was tuned)
TUNED_KEYS = _KEYS + ("num_scales",)


def load_tuned(tuned) -> dict[str, Any]:
    """Read a ``best_params.json`` of :mod:`sesiam_lib.tuning` (a path, or the dict itself).

    Returns:
        ``{"params": {scale_step, scale_lr, scale_penalty, w_influence[, num_scales]}, "path", "sha256",
        "model", "model_family", "metric", "value", "baseline_value", "trials", "study"}`` (missing entries
        ``None``); ``sha256`` is the file's (or the canonical JSON's for a dict).

    Raises:
        FileNotFoundError: no such file. ValueError: not JSON, or a number missing / not a positive number.
    """
    if isinstance(tuned, Mapping):
        data, path = dict(tuned), None
        raw = json.dumps(data, sort_keys=True).encode()
    else:
        path = Path(os.fspath(tuned))
        if not path.is_file():
            raise FileNotFoundError(f"tuned: no such file {path} (a best_params.json written by "
                                    "python -m sesiam_lib.tuning)")
        raw = path.read_bytes()
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ValueError(f"tuned: {path} is not a JSON file ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"tuned: {path} holds a {type(data).__name__}, not a JSON object")
    where = path or "the tuned setting"
    params: dict[str, Any] = {}
    for key in _KEYS:
        value = data.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"tuned: {where} has no valid {key!r} (got {value!r}); is it a best_params.json?")
        params[key] = float(value)
    if data.get("num_scales") is not None:
        params["num_scales"] = int(data["num_scales"])
    return {"params": params, "path": None if path is None else str(path),
            "sha256": hashlib.sha256(raw).hexdigest(),
            **{k: data.get(k) for k in ("model", "model_family", "metric", "value", "baseline_value", "trials",
                                        "study")}}

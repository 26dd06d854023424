"""Mean ± standard deviation over training seeds of trackers named ``<base>_s<seed>``."""

from __future__ import annotations

import re
from typing import Mapping

import numpy as np

__all__ = ["split_seed", "aggregate_over_seeds", "format_mean_std"]

_SEED = re.compile(r"^(?P<base>.+)_s(?P<seed>\d+)$")


def split_seed(name: str) -> tuple[str, int | None]:
    """``"se_siamfc_tiny_s2"`` -> ``("se_siamfc_tiny", 2)``; a name without a seed suffix -> ``(name, None)``."""
    match = _SEED.match(name)
    return (match["base"], int(match["seed"])) if match else (name, None)


def aggregate_over_seeds(results: Mapping[str, object], metrics=("success_auc", "precision", "norm_precision"),
                         attribute: str | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Group :class:`~sesiam_lib.evaluation.otb.OTBResult` objects by base name and average each metric.

    Args:
        results: ``{tracker folder name: OTBResult}`` (e.g. from :func:`evaluate_otb`).
        metrics: attributes of :class:`~sesiam_lib.evaluation.otb.CurveScores` to aggregate.
        attribute: aggregate the scores of this attribute (e.g. ``"scale_change[2,3)"``) instead of the overall
            ones; trackers without it are skipped.

    Returns:
        ``{base: {metric: {"mean", "std", "n", "values"}}}``; ``std`` is the sample standard deviation
        (``ddof=1``; 0 for a single seed).
    """
    groups: dict[str, list] = {}
    for name, result in results.items():
        scores = result.overall if attribute is None else result.per_attribute.get(attribute)
        if scores is None:
            continue
        groups.setdefault(split_seed(name)[0], []).append(scores)
    summary = {}
    for base, members in groups.items():
        summary[base] = {}
        for metric in metrics:
            values = np.array([getattr(m, metric) for m in members], dtype=np.float64)
            summary[base][metric] = {"mean": float(values.mean()),
                                     "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                                     "n": int(len(values)), "values": values.tolist()}
    return summary


def format_mean_std(stats: Mapping[str, float], digits: int = 3) -> str:
    """``"0.512 ± 0.010"`` (or just ``"0.512"`` for a single seed)."""
    if stats["n"] > 1:
        return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"
    return f"{stats['mean']:.{digits}f}"

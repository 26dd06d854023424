"""Benchmark plots (matplotlib, Agg-safe): OTB success/precision, EAO curves and ranking, attribute bars.

Every function returns the :class:`matplotlib.figure.Figure` and takes an optional ``path``: the figure is
then saved atomically (to a temporary file in the same folder, then renamed) in the format given by the
extension (``.png``, ``.pdf``, ``.svg`` ...). Figures are created with :class:`matplotlib.figure.Figure`
directly (no pyplot state), so they work without a display and do not accumulate in pyplot.

Legends are sorted by score, best first, with the score in brackets as the OTB toolkit prints it
(``"SE-SiamFC [0.681]"``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence as _Seq

import numpy as np
from matplotlib.figure import Figure

from .otb import (
    NORM_PRECISION_INDEX,
    NORM_PRECISION_THRESHOLDS,
    PRECISION_INDEX,
    PRECISION_THRESHOLDS,
    SUCCESS_THRESHOLDS,
    CurveScores,
    OTBResult,
)

__all__ = [
    "save_figure",
    "plot_success",
    "plot_precision",
    "plot_norm_precision",
    "plot_eao_curves",
    "plot_eao_ranking",
    "plot_attribute_bars",
    "plot_apparent_scales",
]

_STYLES = ["-", "--", "-.", ":"]


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 200) -> Path:
    """Save ``fig`` atomically; the format comes from the extension (default PNG when there is none)."""
    from ..core.io import atomic_open

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    with atomic_open(path, "wb") as handle:
        fig.savefig(handle, format=fmt, dpi=dpi, bbox_inches="tight")
    return path


def _scores(results: Mapping[str, Any], attribute: str | None) -> dict[str, CurveScores]:
    out = {}
    for name, r in results.items():
        if isinstance(r, OTBResult):
            c = r.overall if attribute is None else r.per_attribute.get(attribute)
        elif isinstance(r, CurveScores):
            c = r
        else:
            raise TypeError(f"{name}: expected OTBResult or CurveScores, got {type(r).__name__}")
        if c is not None:
            out[name] = c
    return out


def _curve_plot(entries, x, xlabel, ylabel, title, path, xlim, legend_loc) -> Figure:
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot(111)
    entries = sorted(entries, key=lambda e: -e[2])
    for k, (name, y, score) in enumerate(entries):
        ax.plot(x, y, _STYLES[(k // 10) % len(_STYLES)], color=f"C{k % 10}", linewidth=2 if k == 0 else 1.5,
                label=f"{name} [{score:.3f}]")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title, xlim=xlim, ylim=(0, 1.0))
    ax.grid(True, alpha=0.3)
    if entries:
        ax.legend(loc=legend_loc, fontsize=8)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_success(results: Mapping[str, Any], path: str | os.PathLike | None = None, *,
                 title: str = "Success plots of OPE", attribute: str | None = None) -> Figure:
    """OTB success plot. ``results``: ``{tracker: OTBResult or CurveScores}`` (:func:`evaluate_otb` output);
    ``attribute`` plots one attribute's curves instead of the overall ones. Legend score = AUC."""
    sc = _scores(results, attribute)
    entries = [(n, c.success, c.success_auc) for n, c in sc.items()]
    if attribute is not None and title == "Success plots of OPE":
        title = f"Success plots of OPE - {attribute}"
    return _curve_plot(entries, SUCCESS_THRESHOLDS, "Overlap threshold", "Success rate", title, path, (0, 1),
                       "lower left")


def plot_precision(results: Mapping[str, Any], path: str | os.PathLike | None = None, *,
                   title: str = "Precision plots of OPE", attribute: str | None = None) -> Figure:
    """OTB precision plot (legend score = precision at 20 px)."""
    sc = _scores(results, attribute)
    entries = [(n, c.precision_curve, c.precision_curve[PRECISION_INDEX]) for n, c in sc.items()]
    if attribute is not None and title == "Precision plots of OPE":
        title = f"Precision plots of OPE - {attribute}"
    return _curve_plot(entries, PRECISION_THRESHOLDS, "Location error threshold (px)", "Precision", title, path,
                       (0, 50), "lower right")


def plot_norm_precision(results: Mapping[str, Any], path: str | os.PathLike | None = None, *,
                        title: str = "Normalized precision plots of OPE", attribute: str | None = None) -> Figure:
    """Normalised precision plot (legend score = value at 0.20)."""
    sc = _scores(results, attribute)
    entries = [(n, c.norm_precision_curve, c.norm_precision_curve[NORM_PRECISION_INDEX]) for n, c in sc.items()]
    return _curve_plot(entries, NORM_PRECISION_THRESHOLDS, "Normalized location error threshold", "Precision",
                       title, path, (0, 0.5), "lower right")


def plot_eao_curves(results: Mapping[str, Mapping[str, Any]], path: str | os.PathLike | None = None, *,
                    title: str | None = None) -> Figure:
    """Expected-overlap curves ``Phi(N)`` of several trackers (:func:`evaluate_vot` outputs), the EAO interval
    shaded; legend sorted by EAO."""
    fig = Figure(figsize=(6.0, 4.5))
    ax = fig.add_subplot(111)
    items = sorted(results.items(), key=lambda kv: -float(kv[1]["eao"]))
    rng = None
    for k, (name, r) in enumerate(items):
        curve = np.asarray(r["eao_curve"], dtype=np.float64)
        ax.plot(np.arange(1, len(curve) + 1), curve, _STYLES[(k // 10) % len(_STYLES)], color=f"C{k % 10}",
                label=f"{name} [{float(r['eao']):.3f}]")
        rng = r.get("eao_range", rng)
    if rng is not None:
        ax.axvspan(rng[0], rng[1], color="0.85", alpha=0.6, zorder=0)
    version = next((r.get("version") for _, r in items if r.get("version")), None)
    ax.set(xlabel="Sequence length N", ylabel="Expected overlap",
           title=title or (f"Expected overlap curves ({version})" if version else "Expected overlap curves"),
           ylim=(0, 1.0))
    ax.set_xlim(left=1)
    ax.grid(True, alpha=0.3)
    if items:
        ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_eao_ranking(results: Mapping[str, Any], path: str | os.PathLike | None = None, *,
                     title: str = "EAO ranking") -> Figure:
    """Bar plot of EAO, best first. ``results``: ``{tracker: evaluate_vot dict}`` or ``{tracker: eao}``."""
    vals = {n: float(r["eao"]) if isinstance(r, Mapping) else float(r) for n, r in results.items()}
    items = sorted(vals.items(), key=lambda kv: -kv[1])
    fig = Figure(figsize=(max(4.0, 0.7 * len(items) + 2), 4.0))
    ax = fig.add_subplot(111)
    x = np.arange(len(items))
    bars = ax.bar(x, [v for _, v in items], color=[f"C{k % 10}" for k in range(len(items))])
    for b, (_, v) in zip(bars, items):
        ax.annotate(f"{v:.3f}", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x)
    ax.set_xticklabels([n for n, _ in items], rotation=30, ha="right")
    ax.set(ylabel="EAO", title=title, ylim=(0, max([v for _, v in items] + [0.01]) * 1.15))
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_attribute_bars(results: Mapping[str, OTBResult], path: str | os.PathLike | None = None, *,
                        metric: str = "success_auc", attributes: _Seq[str] | None = None,
                        title: str | None = None, show_counts: bool = True) -> Figure:
    """Grouped bars: one group per attribute, one bar per tracker (trackers ordered by overall ``metric``).

    ``metric``: ``"success_auc"``, ``"precision"`` or ``"norm_precision"``. ``attributes``: which ones and in what
    order (default: the union over trackers, sorted). ``show_counts``: append the number of sequences to each
    attribute label (``"OCC (29)"``). Legend (outside, right): trackers with their overall score.
    """
    if attributes is None:
        attributes = sorted({a for r in results.values() for a in r.per_attribute})
    trackers = sorted(results, key=lambda n: -getattr(results[n].overall, metric))
    fig = Figure(figsize=(max(5.0, 0.6 * len(attributes) * max(1, len(trackers)) / 2 + 2), 4.5))
    ax = fig.add_subplot(111)
    x = np.arange(len(attributes))
    width = 0.8 / max(1, len(trackers))
    for k, t in enumerate(trackers):
        vals = [getattr(results[t].per_attribute[a], metric) if a in results[t].per_attribute else np.nan
                for a in attributes]
        ax.bar(x - 0.4 + width * (k + 0.5), vals, width, color=f"C{k % 10}",
               label=f"{t} [{getattr(results[t].overall, metric):.3f}]")
    ax.set_xticks(x)
    counts = [max((r.per_attribute[a].n_sequences for r in results.values() if a in r.per_attribute), default=0)
              for a in attributes]
    ax.set_xticklabels([f"{a} ({c})" if show_counts else a for a, c in zip(attributes, counts)],
                       rotation=30, ha="right")
    ax.set(ylabel=metric, ylim=(0, 1.0), title=title or f"{metric} per attribute")
    ax.grid(True, axis="y", alpha=0.3)
    if trackers:
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig


def plot_apparent_scales(following: Mapping[str, Mapping[str, Any]], path: str | os.PathLike | None = None, *,
                         ratio: float = 1.4, title: str | None = None) -> Figure:
    """Histogram of ``log2`` of the target's apparent scale in the search crop, one outline per tracker
    (``following``: :func:`~sesiam_lib.evaluation.scale_following.scale_following`), with the SE layers' scale
    step ``ratio`` marked on both sides. Legend: share of frames outside ``[1 / ratio, ratio]``."""
    fig = Figure(figsize=(6.5, 3.8))
    ax = fig.add_subplot(111)
    finite = [np.log2(f["scales"][np.isfinite(f["scales"])]) for f in following.values()]
    spread = max([float(np.abs(v).max()) for v in finite if v.size] + [np.log2(ratio) * 1.5])
    bins = np.linspace(-spread, spread, 61)
    for k, (name, values) in enumerate(zip(following, finite)):
        ax.hist(values, bins=bins, histtype="step", linewidth=1.4, color=f"C{k % 10}", density=True,
                linestyle=_STYLES[(k // 10) % len(_STYLES)],
                label=f"{name} [{following[name]['frac_outside']:.1%} outside]")
    for edge in (-np.log2(ratio), np.log2(ratio)):
        ax.axvline(edge, color="0.4", linestyle=":", linewidth=1)
    ax.set(xlabel="log2 apparent scale of the target in the search crop (0 = as in the template)",
           ylabel="density", title=title or f"Scale the network had to match across (dotted: x{ratio:g}^±1)")
    ax.grid(True, alpha=0.3)
    if following:
        ax.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
    return fig

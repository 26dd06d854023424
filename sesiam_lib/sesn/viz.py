"""Pictures of the scale-equivariant layers: basis functions, equivariance errors, an interactive explorer."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

__all__ = ["plot_basis", "plot_equivariance_bars", "plot_error_vs_ratio", "plot_scale_responses",
           "plot_stage_errors", "equivariance_explorer"]


def _figure(width: float, height: float) -> Figure:
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(width, height))


def plot_basis(basis: torch.Tensor, functions: Sequence[int] | None = None, scales: Sequence[float] | None = None,
               save: str | None = None) -> Figure:
    """Basis functions (rows) at each scale (columns) of a ``[F, S, K, K]`` basis; shared colour scale per row."""
    basis = basis.detach().cpu().numpy()
    functions = list(functions) if functions is not None else list(range(min(8, basis.shape[0])))
    num_scales = basis.shape[1]
    fig = _figure(1.6 * num_scales + 0.5, 1.5 * len(functions))
    axes = fig.subplots(len(functions), num_scales, squeeze=False)
    effective = int(round(np.sqrt(basis.shape[0])))
    for row, f in enumerate(functions):
        vmax = np.abs(basis[f]).max()
        for s in range(num_scales):
            ax = axes[row, s]
            ax.imshow(basis[f, s], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"scale {scales[s]:.3g}" if scales is not None else f"scale {s}", fontsize=9)
            if s == 0:
                ax.set_ylabel(f"f={f} ({f % effective},{f // effective})", fontsize=8)
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=120)
    return fig


def plot_equivariance_bars(rows: list[dict], title: str = "Scale-equivariance error (lower is better)",
                           save: str | None = None) -> Figure:
    """Grouped bars (log scale) of rows ``{"layer", "padding", "error"}``, one group per layer."""
    layers = list(dict.fromkeys(r["layer"] for r in rows))
    paddings = list(dict.fromkeys(r["padding"] for r in rows))
    lookup = {(r["layer"], r["padding"]): r["error"] for r in rows}
    fig = _figure(max(6.0, 1.3 * len(layers)), 3.8)
    ax = fig.add_subplot(111)
    width = 0.8 / len(paddings)
    for j, padding in enumerate(paddings):
        xs = [i + (j - (len(paddings) - 1) / 2) * width for i in range(len(layers))]
        values = [lookup.get((layer, padding), np.nan) for layer in layers]
        bars = ax.bar(xs, values, width, label=f"{padding} padding")
        for bar, value in zip(bars, values):
            if np.isfinite(value):
                ax.annotate(f"{value:.3g}", (bar.get_x() + bar.get_width() / 2, value), ha="center",
                            va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(layers, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("relative error Δ")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=120)
    return fig


def plot_error_vs_ratio(ratios: Sequence[float], curves: dict[str, Sequence[float]], save: str | None = None) -> Figure:
    """Equivariance error against the downscale ratio, one curve per layer."""
    fig = _figure(6, 3.6)
    ax = fig.add_subplot(111)
    for name, values in curves.items():
        ax.plot(ratios, values, marker="o", label=name)
    ax.set_yscale("log")
    ax.set_xlabel("downscale ratio r (scale axis shifted by one step)")
    ax.set_ylabel("relative error Δ")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=120)
    return fig


def plot_stage_errors(summary: list[dict], group_key: str = "group",
                      title: str = "Equivariance error per backbone stage", save: str | None = None) -> Figure:
    """Error per stage, one line per group, with ±std bars: rows of
    :func:`~sesiam_lib.sesn.checks.summarize_stage_errors`."""
    fig = _figure(7.5, 4.0)
    ax = fig.add_subplot(111)
    groups = list(dict.fromkeys(row[group_key] for row in summary))
    for group in groups:
        rows = [row for row in summary if row[group_key] == group]
        dashed = "random init" in str(group)
        ax.errorbar([row["stage"] for row in rows], [row["mean"] for row in rows], yerr=[row["std"] for row in rows],
                    marker="o", capsize=3, linestyle="--" if dashed else "-", label=group)
    ax.set_yscale("log")
    ax.set_ylabel("relative error Δ")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=120)
    return fig


def plot_scale_responses(phi_x: torch.Tensor, phi_dx: torch.Tensor, channel: int = 0, sample: int = 0,
                         save: str | None = None) -> Figure:
    """Top: ``Phi(x)`` per scale; bottom: ``Phi(D(x))`` per scale, shifted one scale to the left of its match."""
    top = phi_x[sample, channel].detach().cpu().numpy()
    bottom = phi_dx[sample, channel].detach().cpu().numpy()
    num_scales = top.shape[0]
    fig = _figure(2.4 * num_scales, 5)
    axes = fig.subplots(2, num_scales, squeeze=False)
    for s in range(num_scales):
        axes[0, s].imshow(top[s], cmap="viridis")
        axes[0, s].set_title(f"Φ(x), scale {s}", fontsize=9)
        axes[1, s].imshow(bottom[s], cmap="viridis")
        axes[1, s].set_title(f"Φ(D x), scale {s}" + (" ≈ top " + str(s + 1) if s + 1 < num_scales else ""),
                             fontsize=9)
        for ax in axes[:, s]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=120)
    return fig


def equivariance_explorer(images: torch.Tensor, channels: int = 16):
    """An ipywidgets control (layer, padding, scale ratio) that redraws the scale responses and the error.

    Returns the widget; display it in JupyterLab. In headless runs (:func:`sesiam_lib.core.notebook.is_headless`)
    it returns ``None``: widgets can block nbclient and are not kept in executed notebooks, so notebooks draw
    static figures for the default settings as well.
    """
    from ..core.notebook import is_headless

    if is_headless():
        print("(headless run: interactive explorer skipped; see the static figures)")
        return None
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    from .checks import REFERENCE_LAYERS, build_reference_layer
    from .equivariance import downscale, equivariance_delta

    layer_box = widgets.Dropdown(options=[n for n in REFERENCE_LAYERS if not n.startswith("plain")],
                                 description="layer")
    padding_box = widgets.ToggleButtons(options=["constant", "circular"], description="padding")
    ratio_box = widgets.FloatSlider(value=1.4, min=1.1, max=2.0, step=0.05, description="scale ratio")
    output = widgets.Output()

    def redraw(_change=None):
        layer = build_reference_layer(layer_box.value, channels, padding_box.value)
        with torch.no_grad():
            phi_x = layer(images[:1])
            phi_dx = layer(downscale(images[:1], ratio_box.value))
        error = equivariance_delta(phi_x, phi_dx)
        with output:
            output.clear_output(wait=True)
            fig = plot_scale_responses(phi_x, phi_dx)
            fig.suptitle(f"{layer_box.value}, {padding_box.value} padding, r={ratio_box.value:.2f}: Δ={error:.4f}")
            fig.tight_layout(rect=(0, 0, 1, 0.93))  # leave room for the title above the subplot titles
            display(fig)
            plt.close(fig)

    for box in (layer_box, padding_box, ratio_box):
        box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([layer_box, padding_box]), ratio_box, output])

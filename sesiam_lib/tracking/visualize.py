"""Looking at what the tracker did: frames with boxes, per-scale response maps, animations.

Every plotting function returns a :class:`matplotlib.figure.Figure` created through pyplot, so a notebook shows
it (``plt.show()`` or as a cell's value); it works with any backend, Agg included (in scripts, close figures
with ``plt.close(fig)`` when done). Animations render off-screen and leave no figure open. Boxes are 0-based
``(x, y, w, h)``; 8-value VOT polygons are drawn as polygons.

- :func:`draw_frame`: one frame with the ground truth and any number of trackers' boxes, with a legend.
- :func:`plot_response_maps`: after ``tracker.update``, the search crop and the upsampled response of every
  scale (the chosen scale framed, its peak marked), plus the windowed map the peak was taken from.
- :func:`animate_sequence`: a GIF (matplotlib's ``PillowWriter``) or MP4 (``cv2.VideoWriter``) of a tracked
  sequence with the boxes drawn in.
- :func:`render_boxes`: the same drawing on a ``uint8`` image with OpenCV (fast; used by the animations).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence as _Seq

import numpy as np

__all__ = [
    "GT_COLOR",
    "tracker_colors",
    "draw_frame",
    "plot_response_maps",
    "plot_shift_responses",
    "render_boxes",
    "animate_sequence",
    "plot_overlap_over_time",
    "show_frame",
]

GT_COLOR = (0.0, 0.8, 0.0)
_PALETTE = [  # tab10 without its green (kept for the ground truth)
    (0.839, 0.153, 0.157), (0.122, 0.467, 0.706), (1.000, 0.498, 0.055), (0.580, 0.404, 0.741),
    (0.549, 0.337, 0.294), (0.890, 0.467, 0.761), (0.498, 0.498, 0.498), (0.737, 0.741, 0.133),
    (0.090, 0.745, 0.812),
]


def tracker_colors(names: _Seq[str]) -> dict[str, tuple[float, float, float]]:
    """A distinct RGB colour (0..1) per tracker name, in order (ground truth is :data:`GT_COLOR`)."""
    return {n: _PALETTE[i % len(_PALETTE)] for i, n in enumerate(names)}


def _figure(nrows: int = 1, ncols: int = 1, figsize=None, managed: bool = True, **kw):
    """A figure with a grid of axes; ``managed``: created through pyplot (so a notebook shows it)."""
    if managed:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=figsize, layout="constrained")
    else:
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def _as_image(image) -> np.ndarray:
    from .siamfc_tracker import as_rgb_uint8

    return as_rgb_uint8(image)


def _named(boxes) -> dict[str, Any]:
    if boxes is None:
        return {}
    if isinstance(boxes, Mapping):
        return dict(boxes)
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.ndim == 1:
        return {"tracker": arr}
    return {f"tracker {i + 1}": b for i, b in enumerate(arr)}


def _patch(region, color, label, lw, ls="-"):
    from matplotlib.patches import Polygon, Rectangle

    r = np.asarray(region, dtype=np.float64).ravel()
    if r.size < 4 or not np.isfinite(r).all():
        return None
    if r.size == 4:
        return Rectangle((r[0], r[1]), r[2], r[3], fill=False, edgecolor=color, linewidth=lw, linestyle=ls,
                         label=label)
    return Polygon(r.reshape(-1, 2), closed=True, fill=False, edgecolor=color, linewidth=lw, linestyle=ls,
                   label=label)


def draw_frame(image, boxes=None, gt=None, *, ax=None, title: str | None = None,
               colors: Mapping[str, Any] | None = None, linewidth: float = 2.0, legend: bool = True):
    """Draw one frame with the ground truth and predicted boxes.

    Args:
        image: RGB ``uint8 [H, W, 3]`` (or grayscale, or PIL).
        boxes: ``{tracker name: box}`` (a box is ``(x, y, w, h)`` or an 8-value polygon), a single box, or an
            ``(K, 4)`` array. Boxes with NaN are skipped.
        gt: the ground-truth box/polygon (dashed, green) or ``None``.
        ax: draw into this axes instead of a new figure.
        colors: ``{tracker name: colour}`` (default :func:`tracker_colors`).

    Returns:
        the figure.
    """
    img = _as_image(image)
    if ax is None:
        h, w = img.shape[:2]
        fig, axes = _figure(figsize=(6.0, 6.0 * h / max(w, 1) + 0.4))
        ax = axes[0, 0]
    else:
        fig = ax.figure
    ax.imshow(img)
    named = _named(boxes)
    colors = dict(colors or {})
    auto = tracker_colors([n for n in named if n not in colors])
    if gt is not None:
        p = _patch(gt, GT_COLOR, "ground truth", linewidth, "--")
        if p is not None:
            ax.add_patch(p)
    for name, box in named.items():
        p = _patch(box, colors.get(name, auto.get(name)), name, linewidth)
        if p is not None:
            ax.add_patch(p)
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    if legend and (named or gt is not None):
        ax.legend(loc="upper right", fontsize="small", framealpha=0.7)
    return fig


def plot_response_maps(debug, *, raw: bool = False, show_crops: bool = True, show_final: bool = True,
                       cmap: str = "viridis"):
    """Per-scale response maps of the last tracking step.

    Args:
        debug: ``tracker.last_debug`` after an ``update`` (or the tracker itself).
        raw: show the raw ``S x S`` score maps instead of the bicubically upsampled ones.
        show_crops: a first row with the search crops of every scale.
        show_final: an extra panel with the normalised, cosine-windowed map of the chosen scale and its peak.

    Returns:
        the figure; the chosen scale's panels are framed in red, its peak marked with a cross.
    """
    if hasattr(debug, "last_debug"):
        debug = debug.last_debug
    if not debug or "response_up" not in debug:
        raise ValueError("debug: no response maps recorded (call tracker.update() with debug=True first)")
    maps = np.asarray(debug["response_raw" if raw else "response_up"])
    n = maps.shape[0]
    best = int(debug["best_scale"])
    scales = np.asarray(debug.get("scales", np.ones(n)))
    pen = np.asarray(debug.get("penalized_max", maps.reshape(n, -1).max(1)))
    ncols = n + (1 if show_final else 0)
    nrows = 2 if show_crops else 1
    fig, axes = _figure(nrows, ncols, figsize=(3.0 * ncols, 3.0 * nrows + 0.3))
    row = 0
    if show_crops:
        crops = debug["search_crops"]
        for i in range(n):
            ax = axes[0, i]
            if i >= len(crops):  # the scale head (one crop, several shift maps): no crop to show here
                ax.set_axis_off()
                continue
            ax.imshow(crops[i])
            ax.set_title(f"scale {scales[i]:.4f}" + ("  (chosen)" if i == best else ""), fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
        if show_final:
            axes[0, n].set_axis_off()
        row = 1
    vmin, vmax = float(maps.min()), float(maps.max())
    peak = debug.get("peak")
    for i in range(n):
        ax = axes[row, i]
        im = ax.imshow(maps[i], cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(f"max {maps[i].max():.3f} (pen. {pen[i]:.3f})", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        if i == best:
            for spine in ax.spines.values():
                spine.set_edgecolor("red")
                spine.set_linewidth(3)
            if peak is not None and not raw:
                ax.plot([peak[1]], [peak[0]], "r+", markersize=14, markeredgewidth=2)
    fig.colorbar(im, ax=[axes[row, i] for i in range(n)], shrink=0.8)
    if show_final:
        ax = axes[row, n]
        final = debug.get("response_final")
        if final is not None:
            ax.imshow(final, cmap=cmap)
            if peak is not None:
                ax.plot([peak[1]], [peak[0]], "r+", markersize=14, markeredgewidth=2)
            ax.set_title("windowed (chosen scale)", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def plot_shift_responses(debugs, frames=None, *, raw: bool = False, cmap: str = "viridis", title: str | None = None):
    """The scale head's response over its shifts for a few frames: one row per frame, one panel per shift.

    Args:
        debugs: ``tracker.last_debug`` dicts of a scale-head tracker (``head == "scale"``; see
            :mod:`sesiam_lib.tracking.scale_head_tracker`), e.g. ``track_sequence(..., debug=True)["debug"][f]``.
        frames: the frame numbers, for the row labels (default 0, 1, ...).
        raw: the raw ``S x S`` maps instead of the upsampled ones.
        title: figure title.

    Each row shares one colour scale; the chosen shift's panel is framed in red with the peak marked, and the row
    says the sub-step estimate ``k_hat`` and the size factor it gave. Shift ``k > 0``: the target looks larger
    than in the template.

    Raises:
        ValueError: a debug dict without the scale head's maps (a pyramid tracker, or ``debug=False``).
    """
    debugs = list(debugs)
    if not debugs:
        raise ValueError("debugs: no frames to draw")
    for d in debugs:
        if not d or d.get("head") != "scale" or "response_up" not in d:
            raise ValueError("debugs: not a scale-head tracker's debug record (head='scale' model, debug=True, "
                             "and a frame after the first)")
    frames = list(range(len(debugs))) if frames is None else list(frames)
    shifts = [int(k) for k in debugs[0]["shifts"]]
    ncols, nrows = len(shifts) + 1, len(debugs)
    fig, axes = _figure(nrows, ncols, figsize=(2.6 * ncols, 2.6 * nrows + 0.4))
    for row, (d, frame) in enumerate(zip(debugs, frames)):
        maps = np.asarray(d["response_raw" if raw else "response_up"])
        crop = d["search_crops"][0]
        ax = axes[row, 0]
        ax.imshow(crop)
        ax.set_title(f"frame {frame}: search crop", fontsize="small")
        ax.set_ylabel(f"k̂ {d['shift_estimate']:+.2f}, ×{d['scale_factor']:.3f}", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        vmin, vmax = float(maps.min()), float(maps.max())
        for j, k in enumerate(shifts):
            ax = axes[row, j + 1]
            ax.imshow(maps[j], cmap=cmap, vmin=vmin, vmax=vmax)
            factor = np.asarray(d["scales"])[j]
            ax.set_title(f"k = {k:+d} (×{factor:.2f}): max {maps[j].max():.2f}", fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == int(d["best_scale"]):
                for spine in ax.spines.values():
                    spine.set_edgecolor("red")
                    spine.set_linewidth(3)
                if not raw:
                    r, c = d["peak"]
                    ax.plot([c], [r], "r+", markersize=12, markeredgewidth=2)
    if title:
        fig.suptitle(title)
    return fig


def _bgr255(color) -> tuple[int, int, int]:
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(color)
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def render_boxes(image, boxes=None, gt=None, *, colors: Mapping[str, Any] | None = None, thickness: int = 2,
                 label: str | None = None, legend: bool = True) -> np.ndarray:
    """Draw boxes into a copy of ``image`` with OpenCV; returns RGB ``uint8 [H, W, 3]``.

    Same ``boxes`` / ``gt`` conventions as :func:`draw_frame`; ``label`` is written in the top-left corner
    (e.g. the frame number); ``legend`` lists the tracker names in their colours.
    """
    import cv2

    img = _as_image(image).copy()
    named = _named(boxes)
    colors = dict(colors or {})
    auto = tracker_colors([n for n in named if n not in colors])
    items = []
    if gt is not None:
        items.append(("ground truth", gt, GT_COLOR))
    items += [(n, b, colors.get(n, auto.get(n))) for n, b in named.items()]
    for _, region, color in items:
        r = np.asarray(region, dtype=np.float64).ravel()
        if r.size < 4 or not np.isfinite(r).all():
            continue
        pts = (np.array([[r[0], r[1]], [r[0] + r[2], r[1]], [r[0] + r[2], r[1] + r[3]], [r[0], r[1] + r[3]]])
               if r.size == 4 else r.reshape(-1, 2))
        cv2.polylines(img, [np.round(pts).astype(np.int32)], True, _bgr255(color), thickness, cv2.LINE_AA)
    scale = max(0.35, min(img.shape[:2]) / 600)
    y = int(18 * scale / 0.5)
    if label:
        cv2.putText(img, label, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
        y += int(18 * scale / 0.5)
    if legend:
        for name, _, color in items:
            cv2.putText(img, name, (4, y), cv2.FONT_HERSHEY_SIMPLEX, scale, _bgr255(color), 1, cv2.LINE_AA)
            y += int(18 * scale / 0.5)
    return img


def animate_sequence(sequence, results: Mapping[str, Any] | None = None, out_path=None, *, fps: float = 10.0,
                     frames: _Seq[int] | None = None, show_gt: bool = True, max_side: int | None = 480,
                     colors: Mapping[str, Any] | None = None) -> Path:
    """Write an animation of a tracked sequence: a ``.gif`` (matplotlib ``PillowWriter``) or ``.mp4`` (OpenCV).

    Args:
        sequence: a :class:`~sesiam_lib.core.sequence.Sequence` (frames, ground truth).
        results: ``{tracker name: (N, 4) boxes}`` (0-based), e.g. from :func:`~sesiam_lib.tracking.runners.
            track_sequence` or read back with :mod:`sesiam_lib.evaluation.results_io`.
        out_path: destination; the suffix picks the format (``.gif`` or ``.mp4``); default
            ``<sequence name>.gif`` in the working folder.
        fps: frames per second of the animation.
        frames: frame indices to show (default all).
        show_gt: draw the ground truth.
        max_side: downscale frames so their longer side is at most this (``None``: full size).

    Returns:
        the written path.
    """
    import cv2

    out_path = Path(out_path) if out_path is not None else Path(f"{sequence.name}.gif")
    suffix = out_path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"out_path: the suffix must be .gif or .mp4, got {out_path.name!r}")
    results = {k: np.asarray(v, dtype=np.float64) for k, v in (results or {}).items()}
    for k, v in results.items():
        if len(v) < len(sequence):
            raise ValueError(f"results[{k!r}]: {len(v)} boxes for {len(sequence)} frames")
    frames = list(range(len(sequence))) if frames is None else [int(f) for f in frames]
    if not frames:
        raise ValueError("frames: nothing to animate")
    colors = dict(colors or tracker_colors(list(results)))
    polys = getattr(sequence, "polygons", None)

    def render(f: int) -> np.ndarray:
        img = sequence.image(f)
        gt = None
        if show_gt:
            gt = polys[f] if polys is not None else sequence.boxes[f]
        s = 1.0
        if max_side is not None and max(img.shape[:2]) > max_side:
            s = max_side / max(img.shape[:2])
            img = cv2.resize(img, (max(1, round(img.shape[1] * s)), max(1, round(img.shape[0] * s))),
                             interpolation=cv2.INTER_AREA)
        scaled = {k: v[f] * s for k, v in results.items()}
        gt_s = None if gt is None else np.asarray(gt, dtype=np.float64) * s
        return render_boxes(img, scaled, gt_s, colors=colors, label=f"#{f + 1}")

    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    first = render(frames[0])
    if suffix == ".mp4":
        h, w = first.shape[:2]
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (w, h))
        if not writer.isOpened():
            raise RuntimeError(f"cv2.VideoWriter cannot write {out_path} (no mp4v encoder?); use a .gif path")
        try:
            for i, f in enumerate(frames):
                img = first if i == 0 else render(f)
                if img.shape[:2] != (h, w):
                    img = cv2.resize(img, (w, h))
                writer.write(cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
        finally:
            writer.release()
    else:
        from matplotlib.animation import FuncAnimation, PillowWriter

        h, w = first.shape[:2]
        dpi = 100
        fig, axes = _figure(figsize=(w / dpi, h / dpi), managed=False)
        fig.set_layout_engine(None)
        fig.subplots_adjust(0, 0, 1, 1)
        ax = axes[0, 0]
        ax.set_axis_off()
        artist = ax.imshow(first)

        def step(i):
            img = first if i == 0 else render(frames[i])
            if img.shape[:2] != (h, w):
                img = cv2.resize(img, (w, h))
            artist.set_data(img)
            return (artist,)

        anim = FuncAnimation(fig, step, frames=len(frames), blit=False)
        anim.save(str(tmp), writer=PillowWriter(fps=fps), dpi=dpi)
    tmp.replace(out_path)
    return out_path


def plot_overlap_over_time(gt, results: Mapping[str, Any], *, ax=None, title: str | None = None,
                           colors: Mapping[str, Any] | None = None):
    """IoU with the ground truth per frame for each tracker (0-based ``(N, 4)`` boxes). Returns the figure."""
    from ..evaluation.overlap import iou_xywh

    gt = np.asarray(gt, dtype=np.float64)
    if ax is None:
        fig, axes = _figure(figsize=(8, 3))
        ax = axes[0, 0]
    else:
        fig = ax.figure
    colors = dict(colors or tracker_colors(list(results)))
    for name, boxes in results.items():
        b = np.asarray(boxes, dtype=np.float64)[: len(gt)]
        ax.plot(np.arange(1, len(b) + 1), iou_xywh(gt[: len(b)], b), color=colors.get(name), label=name, lw=1.2)
    ax.set_xlabel("frame")
    ax.set_ylabel("IoU")
    ax.set_ylim(0, 1)
    if title:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return fig


def show_frame(image, box, gt=None, pause: float = 0.001) -> None:  # pragma: no cover - interactive only
    """Interactive display used by ``SiamFCTracker.track(..., visualize=True)`` (pyplot, one reused window)."""
    import matplotlib.pyplot as plt

    fig = plt.figure("sesiam_lib tracker")
    fig.clf()
    draw_frame(image, {"tracker": box}, gt, ax=fig.add_subplot(1, 1, 1))
    plt.pause(pause)

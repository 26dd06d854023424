"""Does a tracker's network tell the target's scale apart? A probe of the 3-scale search pyramid.

The SiamFC tracker estimates scale only through its pyramid: it searches at ``s_x * q_i`` (``q`` = scale_step
^ -1, 0, 1) and keeps the scale with the highest (penalised) response peak. If the network's response is nearly the
same whatever the target's apparent size -- a scale-*invariant* matching -- the pyramid's choice is noise and the
size estimate drifts. This probe places the tracker (template from the first frame, as in tracking) on the true
centre of later frames with a size estimate that is off by a known factor ``o`` and records which pyramid scale it
picks: with ``o > 1`` (boxes too large, target looks small) the right pick is a smaller crop (``q < 1``), with
``o < 1`` a larger one, with ``o = 1`` the middle. The tracker's hyper-parameters (penalty included) are used as
they are, so this measures the whole scale decision, network and penalty together.
"""

from __future__ import annotations

from typing import Iterable, Sequence as _Seq

import numpy as np

__all__ = ["scale_selection_probe", "summarize_scale_selection", "plot_scale_selection", "scale_contrast"]


def _right_pick(offset: float, scales: np.ndarray) -> int:
    """Index of the pyramid scale that best undoes a size estimate off by ``offset`` (``q`` closest to 1/offset
    in log scale)."""
    return int(np.argmin(np.abs(np.log(scales) + np.log(offset))))


def scale_contrast(raw_scores: np.ndarray) -> float:
    """How much the response peaks of the pyramid's scales differ, relative to how much the target stands out.

    ``raw_scores``: ``[n_scales, S, S]`` raw score maps of one ``update`` (``last_debug["response_raw"]``).
    Returns ``(max_i peak_i - min_i peak_i) / (peak_mid - median(map_mid))`` with ``peak_i`` the maximum of map ``i``
    and ``mid`` the middle scale: 0 when every scale scores the same peak (the pyramid then decides by noise and
    penalty), about 1 when the scales differ as much as the target differs from the background. NaN when the
    middle map is flat.
    """
    raw = np.asarray(raw_scores, dtype=np.float64)
    peaks = raw.reshape(raw.shape[0], -1).max(axis=1)
    mid = raw[raw.shape[0] // 2]
    stand_out = float(mid.max() - np.median(mid))
    return float((peaks.max() - peaks.min()) / stand_out) if stand_out > 0 else float("nan")


def scale_selection_probe(tracker, sequences: Iterable, offsets: _Seq[float] = (1 / 1.4, 1.0, 1.4),
                          frames_per_sequence: int = 5, seed: int = 0) -> list[dict]:
    """Pick-the-scale trials of ``tracker`` (a :class:`~sesiam_lib.tracking.SiamFCTracker`) on ``sequences``.

    For each sequence: ``init`` on frame 0's ground truth; then for ``frames_per_sequence`` frames drawn with
    ``seed`` from the rest, and each ``offset``: :meth:`~SiamFCTracker.place` the true box scaled by ``offset``
    about its centre, run one ``update`` in debug mode and record the pyramid scale it chose.

    Returns:
        rows ``{"sequence", "frame", "offset", "picked" (index), "right" (index), "picked_scale", "correct",
        "n_scales", "scale_contrast"}`` (see :func:`scale_contrast`).
    """
    rng = np.random.default_rng(seed)
    rows = []
    debug_before = tracker.debug
    tracker.debug = True
    try:
        for seq in sequences:
            boxes = np.asarray(seq.boxes, dtype=np.float64)
            valid = np.flatnonzero((boxes[1:, 2] > 0) & (boxes[1:, 3] > 0)) + 1
            if len(valid) == 0:
                continue
            chosen = np.sort(rng.choice(valid, size=min(frames_per_sequence, len(valid)), replace=False))
            tracker.init(seq.image(0), boxes[0])
            for frame in chosen:
                image = seq.image(int(frame))
                x, y, w, h = boxes[frame]
                cx, cy = x + w / 2, y + h / 2
                for offset in offsets:
                    tracker.place([cx - w * offset / 2, cy - h * offset / 2, w * offset, h * offset])
                    tracker.update(image)
                    picked = int(tracker.last_debug["best_scale"])
                    contrast = scale_contrast(tracker.last_debug["response_raw"])
                    right = _right_pick(offset, np.asarray(tracker.scales))
                    rows.append({"sequence": seq.name, "frame": int(frame), "offset": float(offset), "picked": picked,
                                 "right": right, "picked_scale": float(tracker.scales[picked]),
                                 "correct": picked == right, "n_scales": len(tracker.scales),
                                 "scale_contrast": contrast})
    finally:
        tracker.debug = debug_before
    return rows


def _median_contrast(rows: list[dict]) -> float:
    values = [r["scale_contrast"] for r in rows if np.isfinite(r.get("scale_contrast", float("nan")))]
    return float(np.median(values)) if values else float("nan")


def summarize_scale_selection(rows: Iterable[dict]) -> dict[float, dict]:
    """Per offset: ``accuracy`` (share of right picks), ``picks`` (how often each pyramid index was chosen),
    ``trials`` and the median ``scale_contrast``; plus ``"all"``: accuracy and median contrast over every trial."""
    rows = list(rows)
    out: dict = {}
    for offset in sorted({r["offset"] for r in rows}):
        sel = [r for r in rows if r["offset"] == offset]
        n_scales = max(r.get("n_scales", r["picked"] + 1) for r in rows)
        out[offset] = {"accuracy": float(np.mean([r["correct"] for r in sel])),
                       "picks": np.bincount([r["picked"] for r in sel], minlength=n_scales).tolist(),
                       "trials": len(sel), "scale_contrast": _median_contrast(sel)}
    out["all"] = {"accuracy": float(np.mean([r["correct"] for r in rows])) if rows else float("nan"),
                  "trials": len(rows), "scale_contrast": _median_contrast(rows)}
    return out


def plot_scale_selection(summaries: dict[str, dict], save=None, title: str | None = None):
    """Stacked bars per tracker and offset: the share of trials that picked each pyramid scale (smaller crop,
    same, larger crop). ``summaries``: ``{tracker: summarize_scale_selection(...)}``.

    The figure is a pyplot figure, so ``plt.show()`` (or a notebook cell's end) displays it; ``plt.close(fig)``
    when done in a loop."""
    import matplotlib.pyplot as plt

    trackers = list(summaries)
    offsets = sorted({o for s in summaries.values() for o in s if o != "all"})
    fig = plt.figure(figsize=(max(7.0, 0.6 * len(trackers) * len(offsets) + 3), 4.2))
    ax = fig.add_subplot(111)
    width = 0.8 / max(1, len(trackers))
    colours = ["#4c72b0", "#bbbbbb", "#dd8452"]
    labels = ["smaller crop (q < 1)", "same (q = 1)", "larger crop (q > 1)"]
    for k, name in enumerate(trackers):
        for j, offset in enumerate(offsets):
            entry = summaries[name].get(offset)
            if entry is None:
                continue
            shares = np.asarray(entry["picks"], dtype=float) / max(1, entry["trials"])
            x = j - 0.4 + width * (k + 0.5)
            bottom = 0.0
            for i, share in enumerate(shares[:3]):
                ax.bar(x, share, width * 0.9, bottom=bottom, color=colours[i % 3],
                       label=labels[i] if (k, j) == (0, 0) else None)
                bottom += share
            ax.text(x, 1.02, f"{k + 1}", ha="center", fontsize=7)
    ax.set_xticks(range(len(offsets)))
    ax.set_xticklabels([f"size estimate\n×{o:.2f}" for o in offsets])
    ax.set(ylabel="share of picks", ylim=(0, 1.12), title=title or "Pyramid scale picked")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.text(1.01, 0.45, "\n".join(f"{k + 1}: {name} ({summaries[name]['all']['accuracy']:.0%} right)"
                                  for k, name in enumerate(trackers)), transform=ax.transAxes, fontsize=7, va="top")
    fig.tight_layout()
    if save is not None:
        from ..evaluation.plots import save_figure

        save_figure(fig, save)
    return fig

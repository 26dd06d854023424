"""Pictures of training pairs: template, search crop and the label map laid over it."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_pairs"]


def plot_pairs(dataset, indices=(0, 1, 2, 3), save: str | None = None):
    """One row per sample of a :class:`~sesiam_lib.data.PairDataset`: template, search crop with the positive
    label cells drawn at their place in the crop (score cell ``i`` covers search pixels around
    ``centre + (i - centre cell) * stride``), and the label map itself. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(indices), 3, figsize=(8.4, 2.8 * len(indices)), squeeze=False)
    for row, index in enumerate(indices):
        sample = dataset[index]
        template = sample["template"].permute(1, 2, 0).numpy()
        search = sample["search"].permute(1, 2, 0).numpy()
        label = sample["label"][0].numpy()
        axes[row, 0].imshow(template)
        axes[row, 0].set_title(f"template {template.shape[0]}px", fontsize=9)
        axes[row, 1].imshow(search)
        size, cells = search.shape[0], label.shape[0]
        stride = getattr(dataset, "stride", 8)
        centre_cell = cells // 2
        ys, xs = np.nonzero(label > 0)
        axes[row, 1].scatter((size - 1) / 2 + (xs - centre_cell) * stride, (size - 1) / 2 + (ys - centre_cell) * stride,
                             s=12, c="red", marker="s", alpha=0.6)
        shift = sample.get("shift")
        shift_text = "" if shift is None else ", shift ({:+.1f}, {:+.1f}) px".format(*np.asarray(shift, dtype=float))
        axes[row, 1].set_title(f"search {size}px{shift_text}", fontsize=9)
        axes[row, 2].imshow(label, cmap="gray", vmin=0, vmax=1)
        axes[row, 2].set_title(f"label {cells}x{cells}", fontsize=9)
        for ax in axes[row]:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.tight_layout()
    if save:
        fig.savefig(save, dpi=110)
    return fig

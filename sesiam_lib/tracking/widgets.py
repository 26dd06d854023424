"""Notebook controls for looking at tracked sequences (ipywidgets), with static fallbacks for headless runs."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from .visualize import draw_frame

__all__ = ["frame_slider", "frame_grid"]


def frame_grid(sequence, results: Mapping[str, np.ndarray], num_frames: int = 6, columns: int = 3):
    """A static grid of evenly spaced frames with ground truth and every tracker's box; returns the figure."""
    import matplotlib.pyplot as plt

    indices = np.linspace(0, len(sequence) - 1, num_frames).round().astype(int)
    rows = int(np.ceil(len(indices) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False)
    for ax, index in zip(axes.flat, indices):
        boxes = {name: np.asarray(b)[index] for name, b in results.items()}
        draw_frame(sequence.image(index), boxes, sequence.boxes[index], ax=ax, title=f"frame {index + 1}",
                   legend=index == indices[0])
    for ax in list(axes.flat)[len(indices):]:
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def frame_slider(sequence, results: Mapping[str, np.ndarray]):
    """An ``IntSlider`` over the frames of ``sequence`` (numbered from 1, as in the figure title) redrawing the
    frame with ground truth and boxes.

    ``results``: ``{tracker name: (N, 4) 0-based boxes}``. Returns the widget (display it in JupyterLab), or
    ``None`` in headless runs (:func:`sesiam_lib.core.notebook.is_headless`), which keep :func:`frame_grid`'s
    static figure instead.
    """
    from ..core.notebook import is_headless

    if is_headless():
        print("(headless run: frame slider skipped; see the static frames)")
        return None
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    # 1-based like the figure title ("frame 1/N") and the OTB / GOT-10k file names
    slider = widgets.IntSlider(value=1, min=1, max=len(sequence), description="frame",
                               continuous_update=False, layout=widgets.Layout(width="60%"))
    output = widgets.Output()

    def redraw(_change=None):
        index = slider.value - 1
        with output:
            output.clear_output(wait=True)
            fig = draw_frame(sequence.image(index), {n: np.asarray(b)[index] for n, b in results.items()},
                             sequence.boxes[index], title=f"{sequence.name}: frame {index + 1}/{len(sequence)}")
            display(fig)
            plt.close(fig)

    slider.observe(redraw, names="value")
    redraw()
    return widgets.VBox([slider, output])

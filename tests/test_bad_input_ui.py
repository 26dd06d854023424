"""A new user's rough edges in the notebooks and their widgets: figures that show, readable titles, 1-based
frame numbers, committed notebooks that JupyterLab does not mark modified."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from sesiam_lib.core.sequence import Sequence  # noqa: E402
from sesiam_lib.pipeline.runner import repo_root  # noqa: E402
from sesiam_lib.tracking.scale_probe import plot_scale_selection  # noqa: E402


def test_scale_probe_figure_is_shown_by_plt_show():
    summary = {1.0: {"accuracy": 1.0, "picks": [0, 3, 0], "trials": 3, "scale_contrast": 0.1},
               "all": {"accuracy": 1.0, "trials": 3, "scale_contrast": 0.1}}
    fig = plot_scale_selection({"a": summary})
    try:
        assert fig.number in plt.get_fignums()  # pyplot manages it: plt.show() / inline display draws it
    finally:
        plt.close(fig)


@pytest.fixture
def widget_env(monkeypatch):
    pytest.importorskip("ipywidgets")
    monkeypatch.delenv("SESIAM_HEADLESS", raising=False)
    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, *a, **k: shown.append(obj))
    return shown


def test_frame_slider_is_one_based_like_the_title(tmp_path, widget_env):
    import cv2

    from sesiam_lib.tracking.widgets import frame_slider

    frames = []
    for i in range(3):
        path = tmp_path / f"{i + 1:04d}.jpg"
        cv2.imwrite(str(path), np.full((32, 32, 3), 40 * i, np.uint8))
        frames.append(str(path))
    seq = Sequence("s", frames, np.tile([4.0, 4.0, 10.0, 10.0], (3, 1)))
    box = frame_slider(seq, {"t": seq.boxes})
    slider = box.children[0]
    assert (slider.min, slider.max, slider.value) == (1, 3, 1)
    assert widget_env[-1].axes[0].get_title().endswith("frame 1/3")
    slider.value = 3
    assert widget_env[-1].axes[0].get_title().endswith("frame 3/3")


def test_explorer_title_does_not_overlap_subplot_titles(widget_env):
    from sesiam_lib.sesn.viz import equivariance_explorer

    equivariance_explorer(torch.rand(1, 3, 40, 40), channels=2)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = widget_env[-1]
    canvas = FigureCanvasAgg(fig)  # the widget closed the figure after displaying it
    canvas.draw()
    renderer = canvas.get_renderer()
    title = fig._suptitle.get_window_extent(renderer)
    for ax in fig.axes:
        sub = ax.title.get_window_extent(renderer)
        assert title.y0 >= sub.y1 - 1, "the figure title overlaps a subplot title"


def _notebooks():
    return sorted((repo_root() / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_committed_notebooks_have_jupyterlab_metadata_and_no_literal_backslash_n(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"]["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python",
                                            "name": "python3"}
    info = nb["metadata"]["language_info"]
    assert {"codemirror_mode", "file_extension", "mimetype", "name", "nbconvert_exporter", "pygments_lexer",
            "version"} <= set(info)
    assert all(cell.get("id") for cell in nb["cells"])
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            assert "\\n" not in "".join(cell["source"]), "a literal \\n in a markdown cell"

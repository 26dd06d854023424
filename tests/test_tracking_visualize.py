"""Visualisation helpers: figures under Agg, animations to GIF / MP4."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from PIL import Image  # noqa: E402

from sesiam_lib.core.sequence import Sequence  # noqa: E402
from sesiam_lib.tracking import SiamFCTracker, track_sequence  # noqa: E402
from sesiam_lib.tracking import visualize as viz  # noqa: E402

from test_tracking_tracker import StandIn, scene  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def tracked(tmp_path):
    frames, boxes = scene(n=5)
    paths = []
    for i, f in enumerate(frames):
        p = tmp_path / f"{i:04d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        paths.append(str(p))
    seq = Sequence("scene", paths, boxes)
    tracker = SiamFCTracker(StandIn(), device="cpu", fast=False)
    out = track_sequence(tracker, seq)
    return seq, tracker, out


def test_draw_frame_several_trackers(tracked):
    seq, _, out = tracked
    fig = viz.draw_frame(seq.image(3), {"A": out["boxes"][3], "B": out["boxes"][3] + 2}, gt=seq.boxes[3],
                         title="frame 4")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ground truth", "A", "B"]
    fig.savefig(__import__("io").BytesIO(), format="png")
    # polygon ground truth, NaN boxes skipped, grayscale image
    fig2 = viz.draw_frame(seq.image(0)[..., 0], [np.nan] * 4, gt=[1, 1, 20, 2, 22, 15, 3, 14])
    assert len(fig2.axes[0].patches) == 1


def test_plot_response_maps(tracked):
    _, tracker, _ = tracked
    fig = viz.plot_response_maps(tracker)
    assert isinstance(fig, Figure)
    assert len(fig.axes) >= 8  # 3 crops + 3 maps + windowed + colour bar
    fig = viz.plot_response_maps(tracker.last_debug, raw=True, show_crops=False, show_final=False)
    assert isinstance(fig, Figure)
    with pytest.raises(ValueError, match="debug"):
        viz.plot_response_maps({})


def test_render_boxes_and_overlap_plot(tracked):
    seq, _, out = tracked
    img = viz.render_boxes(seq.image(1), {"A": out["boxes"][1]}, seq.boxes[1], label="#2")
    assert img.shape == seq.image(1).shape and img.dtype == np.uint8
    assert (img != seq.image(1)).any()
    fig = viz.plot_overlap_over_time(seq.boxes, {"A": out["boxes"]})
    assert isinstance(fig, Figure)


def test_animate_gif(tracked, tmp_path):
    seq, _, out = tracked
    import matplotlib.pyplot as plt

    open_before = len(plt.get_fignums())
    path = viz.animate_sequence(seq, {"A": out["boxes"]}, tmp_path / "anim" / "scene.gif", fps=5)
    assert path.is_file()
    assert len(plt.get_fignums()) == open_before  # no figure left open
    with Image.open(path) as im:
        assert im.n_frames == len(seq)
    assert not list((tmp_path / "anim").glob(".*partial*"))
    with pytest.raises(ValueError, match="suffix"):
        viz.animate_sequence(seq, {"A": out["boxes"]}, tmp_path / "x.avi")
    with pytest.raises(ValueError, match="results"):
        viz.animate_sequence(seq, {"A": out["boxes"][:2]}, tmp_path / "x.gif")


def test_animate_mp4(tracked, tmp_path):
    seq, _, out = tracked
    try:
        path = viz.animate_sequence(seq, {"A": out["boxes"]}, tmp_path / "scene.mp4", frames=[0, 2, 4])
    except RuntimeError as exc:  # an OpenCV build without an mp4 encoder
        pytest.skip(str(exc))
    cap = cv2.VideoCapture(str(path))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert n == 3

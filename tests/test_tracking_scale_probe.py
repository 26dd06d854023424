"""The scale-decision probe: which pyramid scale is right, trial bookkeeping, place(), and the plot."""

import numpy as np
import pytest
import torch

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.models import build_model
from sesiam_lib.tracking import SiamFCTracker
from sesiam_lib.tracking.scale_probe import (_right_pick, plot_scale_selection, scale_contrast,
                                             scale_selection_probe, summarize_scale_selection)


class ArraySequence(Sequence):
    def __init__(self, name, images, boxes):
        super().__init__(name, [f"{i}.png" for i in range(len(images))], boxes)
        self._images = images

    def image(self, index):
        return self._images[index]


def blob_sequence(n=4, size=160):
    """A bright square on a dark background that grows by 10 % per frame."""
    images, boxes = [], []
    for t in range(n):
        side = 24 * 1.1 ** t
        x0 = size / 2 - side / 2
        img = np.full((size, size, 3), 30, np.uint8)
        img[int(x0):int(x0 + side), int(x0):int(x0 + side)] = (220, 180, 40)
        images.append(img)
        boxes.append([x0, x0, side, side])
    return ArraySequence("blob", images, np.array(boxes, float))


def test_right_pick_undoes_the_size_error():
    scales = np.array([1 / 1.1633, 1.0, 1.1633])
    assert _right_pick(1.0, scales) == 1
    assert _right_pick(1.25, scales) == 0   # boxes too large: a smaller crop makes the target look right
    assert _right_pick(0.8, scales) == 2


def test_place_sets_the_estimate_like_init():
    torch.manual_seed(0)
    seq = blob_sequence()
    tracker = SiamFCTracker.from_benchmark(build_model("siamfc_tiny").eval(), "siamfc_tiny", "OTB2015")
    with pytest.raises(RuntimeError, match="before init"):
        tracker.place(seq.boxes[1])
    tracker.init(seq.image(1), seq.boxes[1])
    s_x, centre = tracker.s_x, tracker.center.copy()
    tracker.init(seq.image(0), seq.boxes[0])
    tracker.place(seq.boxes[1])
    assert tracker.s_x == pytest.approx(s_x) and np.allclose(tracker.center, centre)


def test_probe_rows_and_summary():
    torch.manual_seed(0)
    seq = blob_sequence()
    tracker = SiamFCTracker.from_benchmark(build_model("siamfc_tiny").eval(), "siamfc_tiny", "OTB2015")
    tracker.debug = False
    rows = scale_selection_probe(tracker, [seq], offsets=(0.8, 1.0, 1.25), frames_per_sequence=2, seed=0)
    assert len(rows) == 2 * 3 and {r["offset"] for r in rows} == {0.8, 1.0, 1.25}
    assert all(r["right"] == {0.8: 2, 1.0: 1, 1.25: 0}[r["offset"]] for r in rows)
    assert all(r["correct"] == (r["picked"] == r["right"]) for r in rows)
    assert all(np.isfinite(r["scale_contrast"]) and r["scale_contrast"] >= 0 for r in rows)
    assert tracker.debug is False  # restored
    summary = summarize_scale_selection(rows)
    assert summary[1.0]["trials"] == 2 and len(summary[1.0]["picks"]) == 3
    assert summary["all"]["accuracy"] == pytest.approx(np.mean([r["correct"] for r in rows]))
    # same seed, same trials
    again = scale_selection_probe(tracker, [seq], offsets=(0.8, 1.0, 1.25), frames_per_sequence=2, seed=0)
    assert [r["picked"] for r in again] == [r["picked"] for r in rows]


def test_summary_by_hand_and_plot(tmp_path):
    rows = [{"offset": 1.0, "picked": 1, "correct": True, "n_scales": 3},
            {"offset": 1.0, "picked": 0, "correct": False, "n_scales": 3},
            {"offset": 1.25, "picked": 0, "correct": True, "n_scales": 3}]
    summary = summarize_scale_selection(rows)
    assert {k: summary[1.0][k] for k in ("accuracy", "picks", "trials")} == {"accuracy": 0.5, "picks": [1, 1, 0],
                                                                             "trials": 2}
    assert np.isnan(summary[1.0]["scale_contrast"])  # no contrast recorded
    assert summary["all"]["accuracy"] == pytest.approx(2 / 3)
    plot_scale_selection({"a": summary, "b": summary}, save=tmp_path / "probe.png")
    assert (tmp_path / "probe.png").stat().st_size > 1000


def test_scale_contrast_by_hand():
    base = np.zeros((5, 5))
    base[2, 2] = 4.0                                   # middle map: peak 4 over a median of 0
    maps = np.stack([base * 0.5, base, base * 1.5])    # peaks 2, 4, 6
    assert scale_contrast(maps) == pytest.approx((6 - 2) / 4)
    assert scale_contrast(np.stack([base, base, base])) == 0.0  # every scale scores the same: no scale signal
    assert np.isnan(scale_contrast(np.zeros((3, 5, 5))))

""""True size given" tracking: localisation alone (sizes = ground truth, one scale, its own provenance key)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation.results_io import read_otb_result
from sesiam_lib.tracking import SiamFCTracker, run_otb, track_sequence, true_sizes

from test_tracking_tracker import StandIn, scene


def _sequence(tmp_path, name="scene", n=7, nan_at=()):
    frames, boxes = scene(n=n, growth=1.08)
    folder = tmp_path / "frames" / name
    folder.mkdir(parents=True)
    paths = []
    for i, f in enumerate(frames):
        p = folder / f"{i:04d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        paths.append(str(p))
    boxes = boxes.astype(np.float64)
    for f in nan_at:
        boxes[f] = np.nan
    return Sequence(name, paths, boxes)


def _tracker(**kw):
    kw.setdefault("device", "cpu")
    kw.setdefault("fast", False)
    return SiamFCTracker.from_benchmark(StandIn(), "se_siamfc_resnet22", "OTB2015", name="se_test", **kw)


def test_reported_sizes_are_the_ground_truth_and_centres_come_from_the_response(tmp_path):
    seq = _sequence(tmp_path)
    given = track_sequence(_tracker(), seq, true_size=True)["boxes"]
    normal = track_sequence(_tracker(), seq)["boxes"]
    np.testing.assert_array_equal(given[:, 2:], seq.boxes[:, 2:])  # exactly the ground truth's sizes
    assert not np.allclose(normal[:, 2:], seq.boxes[:, 2:])
    centre = lambda b: b[:, :2] + b[:, 2:] / 2  # noqa: E731
    assert not np.allclose(centre(given[1:]), centre(normal[1:]))  # another search, other centres
    assert np.abs(centre(given) - centre(seq.boxes)).max() < 10  # and it still localises the target


def test_true_size_is_one_scale_at_the_true_size():
    """The definition: size set to the ground truth (centre kept), a 1-scale search, the centre from it."""
    frames, boxes = scene(n=6, growth=1.08)
    given, single = _tracker(), _tracker(num_scales=1)
    given.init(frames[0], boxes[0])
    single.init(frames[0], boxes[0])
    for f in range(1, len(frames)):
        single.set_size(*boxes[f, 2:])
        expected = single.update(frames[f])
        out = given.update(frames[f], true_size=boxes[f, 2:])
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(out[2:], boxes[f, 2:])
        assert given.last_debug["scales"].tolist() == [1.0] and len(given.last_debug["search_crops"]) == 1
    assert given.num_scales == 3  # the tracker's own setting is untouched


def test_track_with_true_sizes_matches_the_runner(tmp_path):
    seq = _sequence(tmp_path)
    boxes, times = _tracker().track(seq.frames, seq.boxes[0], true_sizes=seq.boxes)
    np.testing.assert_array_equal(boxes, track_sequence(_tracker(), seq, true_size=True)["boxes"])
    sizes_only, _ = _tracker().track(seq.frames, seq.boxes[0], true_sizes=seq.boxes[:, 2:])
    np.testing.assert_array_equal(sizes_only, boxes)
    assert times.shape == (len(seq),)


def test_run_otb_true_size_has_its_own_provenance_and_record(tmp_path):
    seq = _sequence(tmp_path)
    out = tmp_path / "res"
    run_otb(_tracker(), [seq], out, progress=False)
    key_file = out / "se_test" / "provenance" / f"{seq.name}.json"
    normal_key = json.loads(key_file.read_text())
    assert "true_size" not in normal_key["fields"]["protocol"]  # keys of normal runs are unchanged
    rec = run_otb(_tracker(), [seq], out, progress=False, true_size=True)
    assert rec["sequences_run"] == 1 and rec["true_size"] is True  # never resumed from the normal result
    given_key = json.loads(key_file.read_text())
    assert given_key["fields"]["protocol"]["true_size"] is True and given_key["key"] != normal_key["key"]
    np.testing.assert_allclose(read_otb_result(out / "se_test" / f"{seq.name}.txt")[:, 2:], seq.boxes[:, 2:],
                               atol=1e-4)
    assert run_otb(_tracker(), [seq], out, progress=False, true_size=True)["sequences_run"] == 0  # resumes itself
    assert run_otb(_tracker(), [seq], out, progress=False)["sequences_run"] == 1  # and back
    assert json.loads((out / "se_test" / "run_record.json").read_text())["true_size"] is False


def test_missing_ground_truth_keeps_the_last_valid_size(tmp_path):
    seq = _sequence(tmp_path, nan_at=(3,))
    boxes = track_sequence(_tracker(), seq, true_size=True)["boxes"]
    np.testing.assert_array_equal(boxes[3, 2:], seq.boxes[2, 2:])
    np.testing.assert_array_equal(boxes[4, 2:], seq.boxes[4, 2:])
    sizes = true_sizes(np.array([[0, 0, 5, 6], [0, 0, 0, 0], [1, 1, np.nan, 2], [0, 0, 7, 8]]))
    assert sizes.tolist() == [[5, 6], [5, 6], [5, 6], [7, 8]]


def test_true_size_errors(tmp_path):
    with pytest.raises(ValueError, match="first frame"):
        true_sizes([[np.nan, 0, 0, 0], [0, 0, 3, 3]])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        true_sizes(np.zeros((3, 3)))
    frames, boxes = scene(n=2)
    tracker = _tracker()
    with pytest.raises(RuntimeError, match="before init"):
        tracker.set_size(10, 10)
    tracker.init(frames[0], boxes[0])
    with pytest.raises(ValueError, match="true_size"):
        tracker.update(frames[1], true_size=(np.nan, 20))
    with pytest.raises(ValueError, match="true_size"):
        tracker.update(frames[1], true_size=(20, 20, 3))

    class Plain:
        name = "plain"

        def init(self, image, box):
            pass

        def update(self, image):
            return np.zeros(4)

    seq = _sequence(tmp_path, n=3)
    with pytest.raises(TypeError, match="true_size"):
        run_otb(Plain(), [seq], tmp_path / "res", progress=False, true_size=True)


class SizeEcho:
    """Picklable stand-in: reports a fixed centre with the size it is given (or (1, 1) without one)."""

    name = "echo"

    def provenance(self):
        return {"tracker_class": "SizeEcho"}

    def init(self, image, box):
        pass

    def update(self, image, true_size=None):
        w, h = (1.0, 1.0) if true_size is None else true_size
        return np.array([5.0, 5.0, w, h])


def test_true_size_in_worker_processes(tmp_path):
    seqs = [_sequence(tmp_path, f"w{i}", n=4) for i in range(2)]
    run_otb(SizeEcho(), seqs, tmp_path / "res", workers=2, progress=False, true_size=True)
    for s in seqs:
        np.testing.assert_allclose(read_otb_result(tmp_path / "res" / "echo" / f"{s.name}.txt")[:, 2:],
                                   s.boxes[:, 2:], atol=1e-4)

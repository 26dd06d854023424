"""GOT-10k AO / SR: frame 1 excluded, invisible frames dropped, runs pooled, toolkit bound clipping."""

import numpy as np
import pytest

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation import ResultFileError, evaluate_got10k, evaluate_got10k_boxes
from sesiam_lib.evaluation.got10k import got10k_clip
from sesiam_lib.evaluation.results_io import write_got10k_result, write_otb_result


def seq(name, n, cover=None, absent=None, size=(200, 100)):
    return Sequence(name, [f"{i:08d}.jpg" for i in range(n)], np.tile([10.0, 10.0, 20.0, 20.0], (n, 1)),
                    cover=None if cover is None else np.asarray(cover),
                    absent=None if absent is None else np.asarray(absent, bool),
                    attributes={"image_size": size})


def shifted(n, dxs):
    b = np.tile([10.0, 10.0, 20.0, 20.0], (n, 1))
    b[:, 0] += dxs
    return b


def test_ao_sr_hand_computed():
    # IoU of a 20x20 box shifted by d along x: (20 - d) * 20 / (800 - (20 - d) * 20)
    def iou(d):
        return (20 - d) * 20 / (800 - (20 - d) * 20)

    s = seq("s", 5, cover=[8, 8, 0, 8, 8])
    pred = shifted(5, [100, 0, 0, 5, 10])  # frame 1 is excluded whatever it holds; frame 3 is invisible
    out = evaluate_got10k_boxes({"s": pred}, [s])
    ious = [1.0, iou(5), iou(10)]  # frames 2, 4, 5
    assert out["ao"] == pytest.approx(np.mean(ious))
    assert iou(5) == pytest.approx(0.6) and iou(10) == pytest.approx(1 / 3)
    assert out["sr50"] == pytest.approx(2 / 3)  # 1.0 and 0.6 > 0.5
    assert out["sr75"] == pytest.approx(1 / 3)
    assert out["n_frames"] == 3
    assert len(out["success_curve"]) == 101


def test_absent_and_pooling_over_sequences_and_runs():
    a = seq("a", 3, absent=[False, True, False])  # keeps frame 3 only
    b = seq("b", 3)  # no cover/absent: keeps frames 2, 3 (valid ground truth)
    pa = shifted(3, [0, 0, 0])
    pb = shifted(3, [0, 0, 10])
    out = evaluate_got10k_boxes({"a": pa, "b": [pb, pb]}, [a, b])
    # pooled: a -> [1], b (two runs) -> [1, 1/3, 1, 1/3]  => AO = (3 + 2/3) / 5
    assert out["ao"] == pytest.approx((3 + 2 / 3) / 5)
    assert out["ao_seq_mean"] == pytest.approx((1 + (2 + 2 / 3) / 4) / 2)
    assert out["per_sequence"]["b"]["runs"] == 2


def test_toolkit_bound_clipping():
    # x < 0 is clipped to 0 without shortening w (the got10k toolkit's rect_iou bound)
    clipped = got10k_clip(np.array([[-10.0, 5.0, 30.0, 200.0]]), (100, 50))
    np.testing.assert_array_equal(clipped, [[0, 5, 30, 45]])


def test_evaluate_got10k_files(tmp_path):
    s = seq("GOT-10k_Val_000001", 3, cover=[8, 8, 8])
    pred = shifted(3, [0, 0, 10])
    d = tmp_path / "T" / s.name
    for r in (1, 2):  # GOT-10k layout: runs, boxes in the ground-truth file's frame (unshifted)
        write_got10k_result(d / f"{s.name}_{r:03d}.txt", pred)
    write_otb_result(tmp_path / "U" / f"{s.name}.txt", pred)  # OTB layout: 1-based
    assert (d / f"{s.name}_001.txt").read_text().splitlines()[0] == "10.0000,10.0000,20.0000,20.0000"
    assert (tmp_path / "U" / f"{s.name}.txt").read_text().splitlines()[0] == "11.0000,11.0000,20.0000,20.0000"
    out = evaluate_got10k(tmp_path, [s])
    assert out["T"]["ao"] == pytest.approx((1 + 1 / 3) / 2)
    assert out["U"]["ao"] == pytest.approx((1 + 1 / 3) / 2)
    # forcing the wrong convention moves every box by (-1, -1): frame 2 overlaps 19 x 19 = 361 (union 439),
    # frame 3 (already 10 px right) overlaps (20 - 9) x 19 = 209 (union 591)
    forced = evaluate_got10k(tmp_path, [s], trackers=["T"], one_based=True)["T"]
    assert forced["per_sequence"][s.name]["ao"] == pytest.approx((361 / 439 + 209 / 591) / 2)
    (tmp_path / "U" / f"{s.name}.txt").write_text("11,11,20,20\n")
    with pytest.raises(ResultFileError, match="too short"):
        evaluate_got10k(tmp_path, [s], trackers=["U"])
    with pytest.raises(FileNotFoundError, match="_001.txt"):
        evaluate_got10k(tmp_path, [seq("missing", 3)], trackers=["U"])

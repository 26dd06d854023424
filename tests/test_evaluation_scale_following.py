"""Apparent scale of the target in the search crop: hand-computed ratios, summaries, files and the plot."""

import numpy as np
import pytest

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation import apparent_scales, scale_following, summarize_apparent_scales, write_otb_result


def growing(n, start=20.0, rate=1.1):
    sides = start * rate ** np.arange(n)
    return np.stack([np.full(n, 5.0), np.full(n, 5.0), sides, sides], axis=1)


def test_apparent_scale_is_true_size_over_previous_estimate():
    gt = growing(4)                                    # sides 20, 22, 24.2, 26.62
    frozen = np.repeat(gt[:1], 4, axis=0)              # a tracker that never changes its size
    np.testing.assert_allclose(apparent_scales(gt, frozen), [1.1, 1.21, 1.331])
    np.testing.assert_allclose(apparent_scales(gt, gt), [1.1, 1.1, 1.1])  # perfect tracking still lags one frame
    rect_gt = np.array([[0, 0, 10, 40], [0, 0, 20, 80]], float)
    rect_pred = np.array([[0, 0, 20, 20], [0, 0, 1, 1]], float)
    np.testing.assert_allclose(apparent_scales(rect_gt, rect_pred), [2.0])  # sqrt(20*80) / sqrt(20*20)


def test_invalid_boxes_give_nan_and_are_left_out():
    gt = growing(4)
    gt[2, 2] = 0.0
    scales = apparent_scales(gt, gt)
    assert np.isnan(scales[1:]).all() and np.isfinite(scales[0])  # frame 2 is both a target and a crop size
    summary = summarize_apparent_scales(scales, ratio=1.4)
    assert summary["frames"] == 1


def test_summary_numbers():
    scales = np.array([1.0, 2.0, 0.5, 1.2])
    s = summarize_apparent_scales(scales, ratio=1.4)
    assert s["frac_outside"] == pytest.approx(0.5)     # 2 and 0.5 lie outside [1/1.4, 1.4]
    assert s["mean_log2"] == pytest.approx(np.log2(1.2) / 4)
    assert s["median_abs_log2"] == pytest.approx((np.log2(1.2) + 1.0) / 2)
    with pytest.raises(ValueError, match="same N"):
        apparent_scales(growing(3), growing(4))


def test_scale_following_reads_result_files(tmp_path):
    seq = Sequence("seq1", [f"{i:04d}.jpg" for i in range(6)], growing(6, rate=1.2))
    write_otb_result(tmp_path / "follows" / "seq1.txt", seq.boxes)
    write_otb_result(tmp_path / "frozen" / "seq1.txt", np.repeat(seq.boxes[:1], 6, axis=0))
    result = scale_following(tmp_path, [seq])
    assert list(result) == ["follows", "frozen"]
    assert result["follows"]["frac_outside"] == 0.0            # 1.2 per frame stays inside x1.4
    assert result["frozen"]["frac_outside"] == pytest.approx(4 / 5)  # 1.2^t > 1.4 from t = 2 on
    assert result["frozen"]["scales"].shape == (5,)
    with pytest.raises(FileNotFoundError, match="missing"):
        scale_following(tmp_path, [seq], trackers=["missing"])


def test_plot_apparent_scales(tmp_path):
    from sesiam_lib.evaluation import plots

    seq = Sequence("seq1", [f"{i:04d}.jpg" for i in range(6)], growing(6, rate=1.2))
    write_otb_result(tmp_path / "res" / "a" / "seq1.txt", seq.boxes)
    fig = plots.plot_apparent_scales(scale_following(tmp_path / "res", [seq]), tmp_path / "scales.png")
    assert (tmp_path / "scales.png").stat().st_size > 1000 and fig.axes[0].get_legend() is not None

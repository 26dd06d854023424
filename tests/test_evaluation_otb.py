"""OTB curves (hand-computed), invalid ground truth, file parsing and evaluate_otb with attributes."""

import numpy as np
import pytest

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation import (
    OTBResult,
    ResultFileError,
    evaluate_otb,
    normalized_precision_curve,
    otb_rows,
    precision_curve,
    read_otb_result,
    rows_to_csv,
    success_curve,
    write_rows_csv,
)
from sesiam_lib.evaluation.otb import NORM_PRECISION_THRESHOLDS, PRECISION_THRESHOLDS, SUCCESS_THRESHOLDS

T = SUCCESS_THRESHOLDS  # 0, 0.05, ..., 1


def boxes(n, box=(10.0, 20.0, 30.0, 40.0)):
    return np.tile(np.asarray(box, dtype=np.float64), (n, 1))


def test_threshold_grids():
    assert len(T) == 21 and T[0] == 0 and T[-1] == 1 and T[1] == pytest.approx(0.05)
    assert len(PRECISION_THRESHOLDS) == 51 and PRECISION_THRESHOLDS[20] == 20
    assert len(NORM_PRECISION_THRESHOLDS) == 51 and NORM_PRECISION_THRESHOLDS[20] == pytest.approx(0.2)


def test_identical_boxes():
    gt = boxes(5)
    s = success_curve(gt, gt)
    # IoU = 1 > t for every t < 1; 1 > 1 is false
    np.testing.assert_array_equal(s[:-1], 1.0)
    assert s[-1] == 0.0
    assert s.mean() == pytest.approx(20 / 21)
    np.testing.assert_array_equal(precision_curve(gt, gt), 1.0)
    np.testing.assert_array_equal(normalized_precision_curve(gt, gt), 1.0)


def test_disjoint_boxes_and_frame_one_rule():
    gt = boxes(4)
    pred = gt + [1000.0, 0, 0, 0]
    s = success_curve(gt, pred)
    # frame 1 is replaced by the ground truth (IoU 1), frames 2-4 have IoU 0 -> never > t (not even t = 0)
    np.testing.assert_allclose(s[:-1], 1 / 4)
    assert s[-1] == 0.0
    s_raw = success_curve(gt, pred, first_frame_gt=False)
    np.testing.assert_array_equal(s_raw, 0.0)
    # centre error 1000 px > 50: only frame 1 is within any threshold
    np.testing.assert_allclose(precision_curve(gt, pred), 1 / 4)


def test_half_width_shift():
    gt = boxes(3)  # w = 30, h = 40
    pred = gt + [15.0, 0, 0, 0]
    iou = (15 * 40) / (2 * 30 * 40 - 15 * 40)  # = 1/3
    assert iou == pytest.approx(1 / 3)
    s = success_curve(gt, pred)
    # frame 1 (IoU 1) succeeds for t < 1; frames 2, 3 (IoU 1/3) for t < 1/3, i.e. t = 0 .. 0.30 (7 thresholds)
    expected = np.where(T < 1, 1, 0) / 3 + 2 * np.where(T < iou, 1, 0) / 3
    np.testing.assert_allclose(s, expected)
    assert s[6] == pytest.approx(1.0) and s[7] == pytest.approx(1 / 3)
    # centre error 15 px: precision curve 1/3 below 15 px, 1 from 15 px on
    p = precision_curve(gt, pred)
    np.testing.assert_allclose(p, np.where(PRECISION_THRESHOLDS >= 15, 1.0, 1 / 3))
    # normalised: 15 / w = 0.5 -> within every threshold <= 0.5 only at 0.5
    npc = normalized_precision_curve(gt, pred)
    np.testing.assert_allclose(npc, np.where(NORM_PRECISION_THRESHOLDS >= 0.5 - 1e-12, 1.0, 1 / 3))


def test_normalised_precision_divides_by_gt_size():
    gt = boxes(2, (0, 0, 100, 10))
    pred = gt + [[0, 0, 0, 0], [5, 1, 0, 0]]  # error (5/100, 1/10) -> sqrt(0.0025 + 0.01) = 0.1118
    npc = normalized_precision_curve(gt, pred)
    e = np.hypot(0.05, 0.1)
    np.testing.assert_allclose(npc, np.where(NORM_PRECISION_THRESHOLDS >= e, 1.0, 0.5))
    assert npc[20] == 1.0 and npc[11] == 0.5


def test_invalid_ground_truth_otb_convention():
    gt = boxes(4)
    gt[2] = [10, 20, 0, 40]  # zero width
    gt[3] = [np.nan] * 4  # unknown
    pred = boxes(4)
    s = success_curve(gt, pred)
    # OTB: invalid frames stay in the denominator (4) and never count on the success curve
    np.testing.assert_allclose(s[:-1], 2 / 4)
    # ... but always count on the precision curves (centre error taken as -1 <= t)
    np.testing.assert_allclose(precision_curve(gt, pred), 1.0)
    np.testing.assert_allclose(normalized_precision_curve(gt, pred), 1.0)
    # "exclude": dropped from numerator and denominator
    np.testing.assert_allclose(success_curve(gt, pred, invalid_gt="exclude")[:-1], 1.0)
    np.testing.assert_allclose(precision_curve(gt, pred + [100, 0, 0, 0], invalid_gt="exclude"), 0.5)
    with pytest.raises(ValueError):
        success_curve(gt, pred, invalid_gt="bogus")


def test_zero_area_ground_truth_sequence():
    gt = boxes(3, (5, 5, 0, 0))
    s = success_curve(gt, boxes(3, (5, 5, 0, 0)))
    np.testing.assert_array_equal(s, 0.0)  # zero area: never a success, no NaN
    assert np.isfinite(s).all()


def test_nan_prediction_is_a_failure():
    gt = boxes(3)
    pred = gt.copy()
    pred[1] = np.nan
    np.testing.assert_allclose(success_curve(gt, pred)[:-1], 2 / 3)
    np.testing.assert_allclose(precision_curve(gt, pred), 2 / 3)


def test_length_mismatch_raises():
    with pytest.raises(ValueError):
        success_curve(boxes(3), boxes(2))


# ------------------------------------------------------------------ files and evaluate_otb
def make_seq(name, n, tags=None, scale_change=None, box=(10.0, 20.0, 30.0, 40.0)):
    attrs = {}
    if tags is not None:
        attrs["tags"] = tags
    if scale_change is not None:
        attrs["scale_change"] = scale_change
    return Sequence(name, [f"{i:04d}.jpg" for i in range(n)], boxes(n, box), attributes=attrs)


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_read_otb_result_separators_whitespace_nan(tmp_path):
    p = tmp_path / "r.txt"
    write(p, "  11,21,30,40 \n\n11\t21\t30\t40\n 11  21 ,30\t 40\r\nNaN,nan,NaN,NaN\n")
    b = read_otb_result(p)
    assert b.shape == (4, 4)
    np.testing.assert_array_equal(b[:3], [[10, 20, 30, 40]] * 3)  # 1-based -> 0-based
    assert np.isnan(b[3]).all()


def test_read_otb_result_errors_name_file(tmp_path):
    p = tmp_path / "bad.txt"
    write(p, "1,2,3,4\n1,2,3\n")
    with pytest.raises(ResultFileError, match="bad.txt"):
        read_otb_result(p)
    write(p, "1,2,3,4\n1,2,x,4\n")
    with pytest.raises(ResultFileError, match="bad.txt: line 2"):
        read_otb_result(p)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        read_otb_result(tmp_path / "missing.txt")


def otb_text(bxs):
    return "".join(f"{x + 1},{y + 1},{w},{h}\n" for x, y, w, h in bxs)


def test_evaluate_otb_end_to_end(tmp_path):
    seqs = [
        make_seq("Basketball", 4, tags=["OCC", "SV"], scale_change=1.2),
        make_seq("Jogging.1", 4, tags=["OCC"], scale_change=2.5),
        make_seq("Car", 4, tags=[], scale_change=7.0),
    ]
    perfect = {s.name: s.boxes for s in seqs}
    shifted = {s.name: s.boxes + [15.0, 0, 0, 0] for s in seqs}
    for tracker, preds in (("A", perfect), ("B", shifted)):
        for name, b in preds.items():
            # tracker B writes "Jogging-1" (a released-results naming variant) with tab separators
            fname = name.replace(".", "-") if tracker == "B" else name
            text = otb_text(b) if tracker == "A" else otb_text(b).replace(",", "\t")
            write(tmp_path / tracker / f"{fname}.txt", text + "\n")
    res = evaluate_otb(tmp_path, seqs)
    assert list(res) == ["A", "B"]
    a, b = res["A"], res["B"]
    assert isinstance(a, OTBResult)
    assert a.success_auc == pytest.approx(20 / 21)
    assert a.precision == 1.0 and a.norm_precision == 1.0
    # B: per sequence (4 frames): frame 1 is the ground truth (IoU 1), frames 2-4 have IoU 1/3;
    # AUC = mean of the 21 points of the sequence-averaged curve (all three sequences alike)
    per_seq = (np.where(T < 1, 1, 0) + 3 * np.where(T < 1 / 3, 1, 0)) / 4
    assert b.success_auc == pytest.approx(per_seq.mean())
    assert b.precision == pytest.approx(1.0)  # 15 px <= 20 px
    assert b.overall.precision_curve[14] == pytest.approx(1 / 4)
    assert b.per_sequence["Car"].success_auc == pytest.approx(per_seq.mean())
    assert b.overall.n_sequences == 3 and len(b.overall.success) == 21
    # attributes: tags and scale-change bins ([1,1.5), [2,3), [3,inf))
    assert set(a.per_attribute) == {"OCC", "SV", "scale_change[1,1.5)", "scale_change[2,3)", "scale_change[3,inf)"}
    assert a.per_attribute["OCC"].n_sequences == 2
    assert a.per_attribute["scale_change[3,inf)"].n_sequences == 1
    # custom bins
    res2 = evaluate_otb(tmp_path, seqs, trackers=["A"], scale_bins=(1, 3, 10))
    assert set(res2["A"].per_attribute) >= {"scale_change[1,3)", "scale_change[3,10)"}
    # flat rows / CSV
    rows = otb_rows(res)
    assert rows[0]["tracker"] == "A" and rows[0]["scope"] == "overall"
    assert {r["scope"] for r in rows} == {"overall", "attribute", "sequence"}
    csv_text = rows_to_csv(rows)
    assert csv_text.splitlines()[0] == "tracker,scope,name,success_auc,precision,norm_precision,n_sequences"
    assert csv_text.splitlines()[1].startswith("A,overall,all,0.9524,1.0000,1.0000,3")
    write_rows_csv(tmp_path / "out" / "rows.csv", rows)
    assert (tmp_path / "out" / "rows.csv").read_text() == csv_text
    assert a.to_dict()["overall"]["success_auc"] == pytest.approx(20 / 21)


def test_evaluate_otb_missing_and_short_files(tmp_path):
    seqs = [make_seq("Car", 4)]
    write(tmp_path / "T" / "Other.txt", otb_text(seqs[0].boxes))
    with pytest.raises(FileNotFoundError, match=r"T[/\\]Car\.txt"):
        evaluate_otb(tmp_path, seqs)
    write(tmp_path / "T" / "Car.txt", otb_text(seqs[0].boxes[:3]))
    with pytest.raises(ResultFileError, match=r"Car\.txt.*too short"):
        evaluate_otb(tmp_path, seqs)
    # a longer file is refused (it would be silently cut), unless truncation is asked for
    write(tmp_path / "T" / "Car.txt", otb_text(np.vstack([seqs[0].boxes, seqs[0].boxes])))
    with pytest.raises(ResultFileError, match=r"Car\.txt: 8 result lines but the sequence Car has 4 frames.*too long"):
        evaluate_otb(tmp_path, seqs)
    assert evaluate_otb(tmp_path, seqs, align="truncate")["T"].success_auc == pytest.approx(20 / 21)
    with pytest.raises(FileNotFoundError, match="nope"):
        evaluate_otb(tmp_path, seqs, trackers=["nope"])

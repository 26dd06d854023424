"""VOT: result-file parsing, accuracy with burn-in, failures/robustness and EAO on a hand-made example."""

import numpy as np
import pytest

from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation import ResultFileError, evaluate_vot, evaluate_vot_trackers, read_vot_result
from sesiam_lib.evaluation.results_io import read_vot_trajectory, write_vot_result
from sesiam_lib.evaluation.vot import (
    EAO_RANGES,
    VotGroundTruth,
    eao_fragments,
    eao_from_curve,
    evaluate_vot_trajectories,
    expected_overlap_curve,
    failure_frames,
    load_vot_groundtruth,
)

GT_BOX = [0.0, 0.0, 10.0, 10.0]


def box_with_overlap(o):
    """A prediction whose overlap with GT_BOX is exactly ``o``: same top-left and height, width 10*o."""
    return [0.0, 0.0, 10.0 * o, 10.0]


def traj(spec):
    """``spec``: ints are VOT codes, floats are the wanted overlap of a predicted box."""
    return [[float(s)] if isinstance(s, int) else box_with_overlap(s) for s in spec]


def gt(name, n):
    return VotGroundTruth(name, np.tile(GT_BOX, (n, 1)), (100, 100))


# Sequence A (10 frames): init, 0.8, 0.6, failure at frame index 3, frames 4-7 skipped (0), re-init at 3 + 5 = 8, 0.5
SEQ_A = [1, 0.8, 0.6, 2, 0, 0, 0, 0, 1, 0.5]
# Sequence B (6 frames): no failure, overlap 0.9 after the init frame
SEQ_B = [1, 0.9, 0.9, 0.9, 0.9, 0.9]


def test_versions_and_ranges():
    assert EAO_RANGES["VOT2016"] == (108, 371)
    assert EAO_RANGES["VOT2017"] == (100, 356)


def test_hand_made_eao_two_sequences():
    # Per-frame overlaps (code frames -> NaN -> 0 inside fragments):
    #   A: [-, .8, .6, F, s, s, s, s, I, .5]; failures at index 3 -> cut points [0, 3 + 5 = 8]
    #     fragment A1 = frames 0..8 (inclusive) = [0, .8, .6, 0, 0, 0, 0, 0, 0], zero-padded to max_len = 10
    #     fragment A2 = frames 8..9 = [0, .5]  (ends at the sequence end: length 2, not padded)
    #   B: no failure: fragment B1 = [-, .9, .9, .9, .9, .9] (length 6, not padded)
    # Phi(N) = mean over fragments of length >= N of mean(fragment frames 2..N) (1-based):
    #   A1 (always):      N=2: .8   N>=3: (.8 + .6) / (N - 1) = 1.4 / (N - 1)
    #   A2 (N <= 2):      N=2: .5
    #   B1 (N <= 6):      .9
    #   Phi(1) = 1
    #   Phi(2) = (.8 + .5 + .9) / 3 = 2.2 / 3
    #   Phi(3) = (1.4/2 + .9) / 2 = (.7 + .9) / 2 = .8
    #   Phi(4) = (1.4/3 + .9) / 2
    #   Phi(5) = (1.4/4 + .9) / 2 = (.35 + .9) / 2 = .625
    #   Phi(6) = (1.4/5 + .9) / 2 = (.28 + .9) / 2 = .59
    #   Phi(7..10) = 1.4/6, 1.4/7, 1.4/8, 1.4/9 (only A1 is that long)
    expected = [1, 2.2 / 3, 0.8, (1.4 / 3 + 0.9) / 2, 0.625, 0.59, 1.4 / 6, 1.4 / 7, 1.4 / 8, 1.4 / 9]
    out = evaluate_vot_trajectories(
        {"A": [traj(SEQ_A)], "B": [traj(SEQ_B)]}, [gt("A", 10), gt("B", 6)], None, eao_range=(2, 6), burnin=2
    )
    np.testing.assert_allclose(out["eao_curve"], expected, atol=1e-12)
    # EAO over N = 2..6: (2.2/3 + .8 + (1.4/3 + .9)/2 + .625 + .59) / 5
    eao = (2.2 / 3 + 0.8 + (1.4 / 3 + 0.9) / 2 + 0.625 + 0.59) / 5
    assert out["eao"] == pytest.approx(eao)
    assert out["eao"] == pytest.approx(0.686333333, abs=1e-8)
    assert out["n_fragments"] == 3
    # a range reaching past the longest sequence only averages the lengths that exist (N = 8..10)
    out2 = evaluate_vot_trajectories({"A": [traj(SEQ_A)], "B": [traj(SEQ_B)]}, [gt("A", 10), gt("B", 6)], None,
                                     eao_range=(8, 20))
    assert out2["eao"] == pytest.approx((1.4 / 7 + 1.4 / 8 + 1.4 / 9) / 3)
    # accuracy with burnin = 2: A keeps frame 2 (.6) [frames 0,1 and 8,9 are burn-in, 3..7 are codes];
    # B keeps frames 2..5 (.9 x 4); pooled over frames: (.6 + 4 * .9) / 5 = .84
    assert out["accuracy"] == pytest.approx(0.84)
    assert out["per_sequence"]["A"]["accuracy"] == pytest.approx(0.6)
    assert out["per_sequence"]["B"]["accuracy"] == pytest.approx(0.9)
    # failures: 1 (A) + 0 (B); robustness = 100 * 1 / 16 frames
    assert out["failures"] == 1
    assert out["robustness"] == pytest.approx(6.25)


def test_fragment_rules_failure_near_sequence_end():
    # failure at index 3 of a 7-frame sequence: 3 + 5 = 8 > 7, so it is not a cut point; the run stays a single,
    # unpadded fragment [0, .5, .5, 0, 0, 0, 0] of length 7
    ov = np.array([np.nan, 0.5, 0.5, np.nan, np.nan, np.nan, np.nan])
    frags, lengths = eao_fragments([(ov, [3])], max_len=9)
    assert lengths.tolist() == [7]
    np.testing.assert_array_equal(frags[0, :7], [0, 0.5, 0.5, 0, 0, 0, 0])
    assert np.isnan(frags[0, 7:]).all()
    # failure at index 2 of a 7-frame sequence: 2 + 5 = 7 <= 7 is a cut point; the fragment [0..7] is padded
    # with zeros and the last fragment (frames 7..) is empty
    frags, lengths = eao_fragments([(ov, [2])], max_len=9)
    assert lengths.tolist() == [9, 0]
    np.testing.assert_array_equal(frags[0], [0, 0.5, 0.5, 0, 0, 0, 0, 0, 0])
    curve = expected_overlap_curve(frags, lengths)
    assert curve[0] == 1 and curve[1] == pytest.approx(0.5) and curve[3] == pytest.approx(1.0 / 3)
    assert eao_from_curve(curve, 2, 3) == pytest.approx((0.5 + 0.5) / 2)


def test_accuracy_default_burnin_and_runs():
    # 15 frames without failure: the default burn-in masks frames 0..9, accuracy = mean of frames 10..14
    spec = [1] + [0.9] * 9 + [0.2, 0.4, 0.6, 0.8, 1.0]
    run2 = [1] + [0.9] * 4 + [2, 0, 0, 0, 0, 1] + [0.5] * 4  # a second run failing at index 5
    out = evaluate_vot_trajectories({"S": [traj(spec), traj(run2)]}, [gt("S", 15)], "VOT2016")
    # frame-wise mean over runs: frames 10 is burn-in in run 2 (re-init at 10) -> run 1 only (.2);
    # frames 11..14: run 2 is still in burn-in (10..19) -> run 1 only: .4 .6 .8 1.0 -> mean .6
    assert out["accuracy"] == pytest.approx(0.6)
    # failures averaged over the runs: (0 + 1) / 2
    assert out["failures"] == pytest.approx(0.5)
    assert out["per_sequence"]["S"]["failures_per_run"] == [0, 1]
    assert out["eao_range"] == (108, 371)


def test_vot_result_parsing(tmp_path):
    p = tmp_path / "seq_001.txt"
    p.write_text("1\n 10.5,20,30,40 \n\n2\n0\n0\t\n1,2,3,4,5,6,7,8\nNaN,NaN,NaN,NaN\n")
    r = read_vot_result(p)
    assert [len(x) for x in r] == [1, 4, 1, 1, 1, 8, 4]
    assert r[0][0] == 1 and r[2][0] == 2 and r[3][0] == 0
    np.testing.assert_array_equal(r[1], [10.5, 20, 30, 40])  # no coordinate shift for VOT files
    assert np.isnan(r[6]).all()
    assert failure_frames(r) == [2]
    t = read_vot_trajectory(p)
    assert t.codes().tolist() == [1, -1, 2, 0, 0, -1, -1]
    # bad files name themselves
    p.write_text("1\n1,2,3\n")
    with pytest.raises(ResultFileError, match="seq_001.txt: frame 2"):
        read_vot_result(p)
    p.write_text("1\n7\n")
    with pytest.raises(ResultFileError, match="unknown VOT code"):
        read_vot_result(p)
    p.write_text("1\nfoo\n")
    with pytest.raises(ResultFileError, match="seq_001.txt: line 2"):
        read_vot_result(p)


def _make_dataset(root, names_lengths, polygons=True):
    cv2 = pytest.importorskip("cv2")
    root.mkdir(parents=True, exist_ok=True)
    (root / "list.txt").write_text("\n".join(n for n, _ in names_lengths) + "\n")
    for k, (name, n) in enumerate(names_lengths):
        d = root / name
        img_dir = d / "color" if k % 2 == 0 else d  # both VOT layouts
        img_dir.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(img_dir / "00000001.jpg"), np.zeros((60, 80, 3), np.uint8))  # W = 80, H = 60
        line = "0,0,10,0,10,10,0,10" if polygons else "0,0,10,10"
        (d / "groundtruth.txt").write_text((line + "\n") * n)


def test_evaluate_vot_from_folders(tmp_path):
    data = tmp_path / "vot"
    _make_dataset(data, [("a", 10), ("b", 6)])
    gts = load_vot_groundtruth(data)
    assert [g.bounds for g in gts] == [(80, 60), (80, 60)]
    assert gts[0].regions.shape == (10, 8)
    res = tmp_path / "results"
    for tracker, runs in (("T1", 2), ("T2", 1)):
        for name, spec in (("a", SEQ_A), ("b", SEQ_B)):
            for r in range(runs):
                write_vot_result(res / tracker / "baseline" / name / f"{name}_{r + 1:03d}.txt", traj(spec))
    out = evaluate_vot(res / "T1", data, "VOT2016", eao_range=(2, 6), burnin=2)
    assert out["tracker"] == "T1"
    # two identical runs: same accuracy/failures as one run, fragments doubled (same curve)
    assert out["accuracy"] == pytest.approx(0.84)
    assert out["failures"] == 1
    assert out["n_fragments"] == 6
    assert out["eao"] == pytest.approx(0.686333333, abs=1e-8)
    allres = evaluate_vot_trackers(res, data, "VOT2017", eao_range=(2, 6), burnin=2)
    assert set(allres) == {"T1", "T2"}
    assert allres["T2"]["eao"] == pytest.approx(out["eao"])
    # a list of Sequence objects works as the dataset too
    seqs = [
        Sequence("a", [str(data / "a" / "color" / "00000001.jpg")] * 10, np.tile(GT_BOX, (10, 1)),
                 polygons=np.tile([0, 0, 10, 0, 10, 10, 0, 10.0], (10, 1))),
        Sequence("b", ["x.jpg"] * 6, np.tile(GT_BOX, (6, 1)), attributes={"image_size": (80, 60)}),
    ]
    out_seq = evaluate_vot(res / "T1", seqs, "VOT2016", eao_range=(2, 6), burnin=2)
    assert out_seq["eao"] == pytest.approx(out["eao"])
    assert out_seq["accuracy"] == pytest.approx(out["accuracy"])


def test_evaluate_vot_missing_and_short_results(tmp_path):
    data = tmp_path / "vot"
    _make_dataset(data, [("a", 10)], polygons=False)
    res = tmp_path / "results" / "T"
    (res / "baseline" / "a").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"a_001\.txt"):
        evaluate_vot(res, data, "VOT2016")
    write_vot_result(res / "baseline" / "a" / "a_001.txt", traj(SEQ_A[:7]))
    with pytest.raises(ResultFileError, match=r"a_001\.txt.*too short"):
        evaluate_vot(res, data, "VOT2016")
    with pytest.raises(FileNotFoundError, match="baseline"):
        evaluate_vot(tmp_path / "nowhere", data, "VOT2016")
    with pytest.raises(ValueError, match="VOT version"):
        evaluate_vot_trajectories({"a": [traj(SEQ_A)]}, [gt("a", 10)], "VOT1999")

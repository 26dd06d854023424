"""Our result files read by the real got10k toolkit (pip package ``got10k``, a test extra), and its files read by us.

The toolkit's reports (``ExperimentOTB``: success score, precision score, speed; ``ExperimentGOT10k``: AO, SR,
speed) are compared with :func:`~sesiam_lib.evaluation.evaluate_otb` / :func:`~sesiam_lib.evaluation.evaluate_got10k`
on tiny fixture trees (a few 64x48 frames per sequence).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

try:  # a test extra, not optional: CI must compare with the real toolkit (no skip)
    import got10k  # noqa: F401
except ImportError:  # pragma: no cover
    pytest.fail("the got10k toolkit (pip package 'got10k', in the 'test' extra) is required: pip install -e .[test]",
                pytrace=False)
from got10k.experiments import ExperimentGOT10k, ExperimentOTB, ExperimentUAV123  # noqa: E402
from got10k.trackers import Tracker as Got10kTracker  # noqa: E402
from got10k.utils.metrics import center_error, rect_iou  # noqa: E402

from sesiam_lib.data import load_got10k, load_otb, load_uav123  # noqa: E402
from sesiam_lib.evaluation import evaluate_got10k, evaluate_otb  # noqa: E402
from sesiam_lib.evaluation.results_io import ResultFileError  # noqa: E402
from sesiam_lib.tracking import run_got10k, run_otb  # noqa: E402

W, H = 64, 48


class Drift:
    """Deterministic tracker: the initial box, moved and resized by a frame-dependent amount (both toolkits call
    ``init`` then ``update`` per frame, so the same class serves our runner and the got10k toolkit's)."""

    name = "ours"

    def provenance(self):
        return {"tracker_class": "Drift"}

    def init(self, image, box):
        self.box, self.f = np.asarray(box, dtype=float).copy(), 0

    def update(self, image):
        self.f += 1
        f = self.f
        return self.box + np.array([3.0 * f, 2.0 * (f % 3), float(f % 2), -float(f % 2)])


class Got10kDrift(Drift, Got10kTracker):
    def __init__(self):
        Got10kTracker.__init__(self, "theirs")


def _gt(n: int, k: int = 0) -> np.ndarray:
    """1-based ``x, y, w, h`` as written in the files: a target drifting right and down."""
    f = np.arange(n, dtype=float)
    return np.stack([5 + 2 * f + 7 * k, 4 + f, np.full(n, 10.0 + k), np.full(n, 8.0)], axis=1)


def _images(folder, numbers, width=4):
    folder.mkdir(parents=True, exist_ok=True)
    img = np.full((H, W, 3), 90, np.uint8)
    for i in numbers:
        cv2.imwrite(str(folder / f"{i:0{width}d}.jpg"), img)


def _write_boxes(path, boxes, sep=","):
    path.write_text("".join(sep.join(f"{v:g}" for v in b) + "\n" for b in boxes))


def _otb_root(root, tiger1=False):
    _images(root / "Car4" / "img", range(1, 9))
    _write_boxes(root / "Car4" / "groundtruth_rect.txt", _gt(8), sep="\t")
    _images(root / "Jogging" / "img", range(1, 7))
    _write_boxes(root / "Jogging" / "groundtruth_rect.1.txt", _gt(6))
    _write_boxes(root / "Jogging" / "groundtruth_rect.2.txt", _gt(6, k=1))
    if tiger1:  # official start frame 6: we use frames 6..10, the got10k toolkit all 10
        _images(root / "Tiger1" / "img", range(1, 11))
        _write_boxes(root / "Tiger1" / "groundtruth_rect.txt", _gt(10))
    return root


@pytest.fixture()
def offline(monkeypatch):
    """The toolkit downloads missing OTB folders and plots its curves: neither is wanted here."""
    from got10k.datasets import OTB

    monkeypatch.setattr(OTB, "_download", lambda self, root_dir, version: root_dir)
    monkeypatch.setattr(ExperimentOTB, "plot_curves", lambda self, names: None)
    monkeypatch.setattr(ExperimentGOT10k, "plot_curves", lambda self, files, names: None)


def test_got10k_experiment_otb_reads_our_results(tmp_path, offline):
    root = _otb_root(tmp_path / "OTB")
    seqs = load_otb(root, "OTB2013", missing=[])
    assert [s.name for s in seqs] == ["Car4", "Jogging.1", "Jogging.2"]
    results = tmp_path / "results"
    run_otb(Drift(), seqs, results / "OTB2013", "ours", progress=False)
    assert (results / "OTB2013" / "ours" / "times" / "Car4_time.txt").is_file()

    exp = ExperimentOTB(str(root), version=2013, result_dir=str(results), report_dir=str(tmp_path / "reports"))
    theirs = exp.report(["ours"])["ours"]
    ours = evaluate_otb(results / "OTB2013", seqs, ["ours"])["ours"]

    assert ours.success_auc == pytest.approx(theirs["overall"]["success_score"], abs=1e-9)
    assert ours.precision == pytest.approx(theirs["overall"]["precision_score"], abs=1e-9)
    np.testing.assert_allclose(ours.overall.success, theirs["overall"]["success_curve"], atol=1e-9)
    np.testing.assert_allclose(ours.overall.precision_curve, theirs["overall"]["precision_curve"], atol=1e-9)
    for name, seq_scores in theirs["seq_wise"].items():
        assert ours.per_sequence[name].success_auc == pytest.approx(seq_scores["success_score"], abs=1e-9)
        assert ours.per_sequence[name].precision == pytest.approx(seq_scores["precision_score"], abs=1e-9)
        assert ours.per_sequence_fps[name] == pytest.approx(seq_scores["speed_fps"], rel=1e-6)
    assert 0.0 < ours.success_auc < 1.0  # a non-trivial comparison
    # the toolkit found our times (it reports -1 without them) and agrees on the speed
    assert theirs["overall"]["speed_fps"] > 0
    assert ours.speed_fps == pytest.approx(theirs["overall"]["speed_fps"], rel=1e-6)


def test_got10k_toolkit_result_files_need_align_got10k(tmp_path, offline):
    root = _otb_root(tmp_path / "OTB", tiger1=True)
    results = tmp_path / "results"
    exp = ExperimentOTB(str(root), version=2013, result_dir=str(results), report_dir=str(tmp_path / "reports"))
    exp.run(Got10kDrift())
    theirs = exp.report(["theirs"])["theirs"]
    seqs = load_otb(root, "OTB2013", missing=[])
    tiger = next(s for s in seqs if s.name == "Tiger1")
    assert len(tiger) == 5 and tiger.attributes["start_frame"] == 6

    # our default refuses the 10-line Tiger1 file instead of silently cutting it to 5 lines
    with pytest.raises(ResultFileError, match=r"Tiger1\.txt: 10 result lines but the sequence Tiger1 has 5 "
                                              r"frames.*align='got10k'"):
        evaluate_otb(results / "OTB2013", seqs, ["theirs"])
    ours = evaluate_otb(results / "OTB2013", seqs, ["theirs"], align="got10k")["theirs"]

    # sequences without a start-frame rule: the same numbers as the toolkit
    for name in ("Car4", "Jogging.1", "Jogging.2"):
        assert ours.per_sequence[name].success_auc == pytest.approx(theirs["seq_wise"][name]["success_score"])
        assert ours.per_sequence[name].precision == pytest.approx(theirs["seq_wise"][name]["precision_score"])
    # Tiger1: the toolkit's rule applied to lines 6..10 (frame 6 replaced by the ground truth)
    anno = np.loadtxt(root / "Tiger1" / "groundtruth_rect.txt", delimiter=",")[5:]
    boxes = np.loadtxt(results / "OTB2013" / "theirs" / "Tiger1.txt", delimiter=",")[5:]
    boxes[0] = anno[0]
    succ, prec = exp._calc_curves(rect_iou(boxes, anno), center_error(boxes, anno))
    assert ours.per_sequence["Tiger1"].success_auc == pytest.approx(np.mean(succ))
    assert ours.per_sequence["Tiger1"].precision == pytest.approx(prec[20])
    # speeds from the toolkit's own times/ files
    assert ours.speed_fps == pytest.approx(theirs["overall"]["speed_fps"], rel=1e-6)


def test_got10k_experiment_uav123_reads_our_results_and_drops_nan_frames(tmp_path, offline):
    """UAV123 ``uav6`` (frames 1..109 of its folder in the official table) with NaN rows (absent target): the got10k
    toolkit's ``ExperimentUAV123`` drops those frames, which is our ``invalid_gt="exclude"``."""
    root = tmp_path / "UAV123"
    _images(root / "data_seq" / "UAV123" / "uav6", range(1, 110), width=6)
    gt = np.vstack([_gt(60), _gt(49) + [0, 0, 2, 1]])
    gt[[5, 6, 40, 41, 42]] = np.nan
    (root / "anno" / "UAV123").mkdir(parents=True)
    (root / "anno" / "UAV123" / "uav6.txt").write_text(
        "".join(",".join("NaN" if np.isnan(v) else f"{v:g}" for v in b) + "\n" for b in gt))
    for extra in ("a", "b", "c"):  # the toolkit wants more than 3 entries in the root
        (root / extra).mkdir()
    seqs = load_uav123(root, missing=[])
    assert [s.name for s in seqs] == ["uav6"] and seqs[0].absent.sum() == 5
    results = tmp_path / "results"
    run_otb(Drift(), seqs, results / "UAV123", "ours", progress=False)

    exp = ExperimentUAV123(str(root), result_dir=str(results), report_dir=str(tmp_path / "reports"))
    theirs = exp.report(["ours"])["ours"]["overall"]
    ours = evaluate_otb(results / "UAV123", seqs, ["ours"], invalid_gt="exclude")["ours"]
    assert ours.success_auc == pytest.approx(theirs["success_score"], abs=1e-9)
    assert ours.precision == pytest.approx(theirs["precision_score"], abs=1e-9)
    np.testing.assert_allclose(ours.overall.success, theirs["success_curve"], atol=1e-9)
    assert ours.speed_fps == pytest.approx(theirs["speed_fps"], rel=1e-6)
    # the default (MATLAB toolkit / pysot / pytracking) keeps them in the denominator: failures on the success
    # curve, successes on the precision curve
    default = evaluate_otb(results / "UAV123", seqs, ["ours"])["ours"]
    np.testing.assert_allclose(default.overall.success, np.array(ours.overall.success) * 104 / 109)
    np.testing.assert_allclose(default.overall.precision_curve,
                               (np.array(ours.overall.precision_curve) * 104 + 5) / 109)


def _got10k_root(root):
    split = root / "val"
    names = ["GOT-10k_Val_000001", "GOT-10k_Val_000002"]
    (split).mkdir(parents=True)
    (split / "list.txt").write_text("\n".join(names) + "\n")
    for k, name in enumerate(names):
        seq = split / name
        n = 7 + k
        _images(seq, range(1, n + 1), width=8)
        gt = _gt(n, k) - [1, 1, 0, 0]
        gt[-1] = [W - 6, 30, 12, 9]  # crosses the right border: the toolkit's image bound matters
        _write_boxes(seq / "groundtruth.txt", gt)
        cover = np.full(n, 8)
        cover[3] = 0  # invisible frame: not scored
        (seq / "cover.label").write_text("".join(f"{c}\n" for c in cover))
        (seq / "absence.label").write_text("".join(f"{int(c == 0)}\n" for c in cover))
        (seq / "cut_by_image.label").write_text("0\n" * n)
        (seq / "meta_info.ini").write_text(f"[METAINFO]\nobject_class: car\nresolution: ({W}, {H})\n")
    return root


def test_got10k_experiment_got10k_reads_our_results(tmp_path, offline):
    root = _got10k_root(tmp_path / "GOT10k")
    seqs = load_got10k(root, "val")
    results = tmp_path / "results"
    run_got10k(Drift(), seqs, results / "GOT-10k", "ours", progress=False)

    exp = ExperimentGOT10k(str(root), subset="val", result_dir=str(results), report_dir=str(tmp_path / "reports"))
    theirs = exp.report(["ours"])["ours"]
    ours = evaluate_got10k(results / "GOT-10k", seqs, ["ours"])["ours"]
    assert ours["ao"] == pytest.approx(theirs["overall"]["ao"], abs=1e-9)
    assert ours["sr50"] == pytest.approx(theirs["overall"]["sr"], abs=1e-9)
    np.testing.assert_allclose(ours["success_curve"], theirs["overall"]["succ_curve"], atol=1e-9)
    for name, seq_scores in theirs["seq_wise"].items():
        assert ours["per_sequence"][name]["ao"] == pytest.approx(seq_scores["ao"], abs=1e-9)
    assert 0.0 < ours["ao"] < 1.0
    assert theirs["overall"]["speed_fps"] > 0  # it found <seq>/<seq>_time.txt


def test_vot_time_files_are_read_by_the_vot_toolkit_and_missed_by_pysot_glob(tmp_path):
    """``baseline/<seq>/<seq>_001_time.value``: the VOT Python toolkit's property file of run 001; pysot's VOT loader
    takes any ``*0*.txt`` of the folder for a run, so a time file there must not be a ``.txt``."""
    from sesiam_lib.core.sequence import Sequence
    from sesiam_lib.tracking import run_vot

    folder = tmp_path / "data" / "s0"
    _images(folder, range(1, 7), width=8)
    gt = _gt(6) - [1, 1, 0, 0]
    seq = Sequence(name="s0", frames=sorted(str(p) for p in folder.iterdir()), boxes=gt)
    run_vot(Drift(), [seq], tmp_path / "res", "ours", progress=False)
    run_dir = tmp_path / "res" / "ours" / "baseline" / "s0"
    assert sorted(p.name for p in run_dir.glob("*0*.txt")) == ["s0_001.txt"]
    times = np.loadtxt(run_dir / "s0_001_time.value")
    assert times.shape == (6,)

    results = pytest.importorskip("vot.tracker.results", reason="optional cross-check with vot-toolkit")
    from vot.workspace.storage import LocalStorage

    trajectory = results.Trajectory.read(results.Results(LocalStorage(str(run_dir))), "s0_001")
    assert len(trajectory) == 6
    np.testing.assert_allclose([trajectory.properties(i)["time"] for i in range(6)], times, rtol=1e-6)

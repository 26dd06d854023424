"""Runners: result file formats, resume, VOT restart logic, worker processes, run records."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import pytest

from sesiam_lib.core.boxes import polygon_to_xywh
from sesiam_lib.core.sequence import Sequence
from sesiam_lib.evaluation.results_io import read_got10k_result, read_otb_result, read_vot_result
from sesiam_lib.tracking import run_got10k, run_otb, run_vot, track_sequence, vot_supervised
from sesiam_lib.tracking.runners import result_path, vot_result_path

H, W = 48, 64


def make_sequence(tmp_path, name, n=20, box0=(10.0, 12.0, 16.0, 14.0), polygons=False):
    """Frames whose pixel (0, 0) encodes the frame index; the target drifts 1 px right per frame."""
    folder = tmp_path / "data" / name
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(n):
        img = np.full((H, W, 3), 40, np.uint8)
        img[0, 0] = (i, i, i)
        path = folder / f"{i + 1:08d}.png"
        cv2.imwrite(str(path), img)
        frames.append(str(path))
    boxes = np.array([[box0[0] + i, box0[1], box0[2], box0[3]] for i in range(n)])
    polys = None
    if polygons:
        x, y, w, h = boxes.T
        polys = np.stack([x, y, x + w, y, x + w, y + h, x, y + h], axis=1)
        boxes = polygon_to_xywh(polys)
    return Sequence(name=name, frames=frames, boxes=boxes, polygons=polys)


class OracleTracker:
    """Returns the ground truth, except on the frames in ``jump_at`` where it jumps far away (zero overlap)."""

    name = "oracle"

    def __init__(self, boxes=None, jump_at=()):
        self.boxes = boxes
        self.jump_at = set(jump_at)
        self.inits = []

    def provenance(self):
        return {"tracker_class": "OracleTracker", "jump_at": sorted(self.jump_at)}

    def init(self, image, box):
        self.inits.append((int(np.asarray(image)[0, 0, 0]), np.asarray(box, dtype=float).copy()))

    def update(self, image):
        f = int(np.asarray(image)[0, 0, 0])
        b = np.array([10.0 + f, 12.0, 16.0, 14.0])
        if f in self.jump_at:
            b[0] += 30.0  # no overlap with the ground truth any more
        return b


class OracleFactory:
    """Picklable factory (module level) for the worker-process test."""

    name = "oracle_mp"
    model_name = "oracle-model"

    def __call__(self):
        t = OracleTracker()
        t.name = self.name
        return t


# --------------------------------------------------------------------------------------------------------------
def test_one_pass_files_are_otb_format(tmp_path):
    seq = make_sequence(tmp_path, "seqA", n=6)
    rec = run_otb(OracleTracker(), [seq], tmp_path / "res", progress=False)
    path = tmp_path / "res" / "oracle" / "seqA.txt"
    lines = path.read_text().splitlines()
    assert len(lines) == 6
    assert lines[0] == "11.0000,13.0000,16.0000,14.0000"  # first frame = ground truth, 1-based
    assert lines[3] == "14.0000,13.0000,16.0000,14.0000"  # 0-based (13, 12) + 1
    np.testing.assert_allclose(read_otb_result(path), seq.boxes)
    times = np.loadtxt(tmp_path / "res" / "oracle" / "seqA_time.txt")
    assert times.shape == (6,) and (times >= 0).all()
    # the got10k toolkit's ExperimentOTB reads speeds from <tracker>/times/<seq>_time.txt
    np.testing.assert_array_equal(np.loadtxt(tmp_path / "res" / "oracle" / "times" / "seqA_time.txt"), times)
    assert rec["sequences_run"] == 1 and rec["protocol"] == "one-pass"
    saved = json.loads((tmp_path / "res" / "oracle" / "run_record.json").read_text())
    assert saved["tracker_name"] == "oracle" and saved["library_version"] and saved["timestamp"]
    assert saved["per_sequence"]["seqA"]["frames"] == 6


def test_got10k_layout(tmp_path):
    seq = make_sequence(tmp_path, "GOT-10k_Test_000001", n=4)
    run_got10k(OracleTracker(), [seq], tmp_path / "res", progress=False)
    d = tmp_path / "res" / "oracle" / seq.name
    assert (d / f"{seq.name}_001.txt").is_file() and (d / f"{seq.name}_time.txt").is_file()
    assert result_path(tmp_path / "res", "oracle", seq.name, "got10k") == d / f"{seq.name}_001.txt"
    # unshifted: the ground-truth file's own coordinates (what the got10k toolkit compares with)
    assert (d / f"{seq.name}_001.txt").read_text().splitlines()[0] == "10.0000,12.0000,16.0000,14.0000"
    np.testing.assert_allclose(read_got10k_result(d / f"{seq.name}_001.txt"), seq.boxes)


def test_resume_skips_finished_and_cleans_stale_temp(tmp_path):
    a = make_sequence(tmp_path, "seqA", n=5)
    b = make_sequence(tmp_path, "seqB", n=5)
    c = make_sequence(tmp_path, "seqC", n=5)
    tdir = tmp_path / "res" / "oracle"
    run_otb(OracleTracker(), [a], tmp_path / "res", progress=False)  # seqA finished, with its key
    finished = "1,1,1,1\n" * 5  # marker content (same length, key untouched): must not be rewritten
    (tdir / "seqA.txt").write_text(finished)
    (tdir / "seqA_time.txt").write_text("0.5\n" * 5)
    stale = tdir / ".seqB.txt.abc123.tmp"  # an interrupted atomic write
    stale.write_text("1,2,3")
    (tdir / "seqC.txt").write_text("1,1,1,1\n" * 3)  # truncated / wrong length: re-run
    tracker = OracleTracker()
    rec = run_otb(tracker, [a, b, c], tmp_path / "res", progress=False)
    assert (tdir / "seqA.txt").read_text() == finished
    assert not stale.exists()
    assert len((tdir / "seqB.txt").read_text().splitlines()) == 5
    assert len((tdir / "seqC.txt").read_text().splitlines()) == 5
    assert [f for f, _ in tracker.inits] == [0, 0]  # B and C only
    assert rec["per_sequence"]["seqA"]["resumed"] and not rec["per_sequence"]["seqB"]["resumed"]
    assert rec["per_sequence"]["seqA"]["fps"] == pytest.approx(2.0)  # from its time file
    # a second call runs nothing
    tracker2 = OracleTracker()
    rec2 = run_otb(tracker2, [a, b, c], tmp_path / "res", progress=False)
    assert tracker2.inits == [] and rec2["sequences_run"] == 0
    # overwrite re-runs everything
    tracker3 = OracleTracker()
    run_otb(tracker3, [a, b, c], tmp_path / "res", progress=False, overwrite=True)
    assert len(tracker3.inits) == 3 and (tdir / "seqA.txt").read_text() != finished


def test_invalid_first_frame_gt_is_a_clear_error(tmp_path):
    seq = make_sequence(tmp_path, "bad", n=3)
    seq.boxes[0] = np.nan
    with pytest.raises(ValueError, match="first frame"):
        run_otb(OracleTracker(), [seq], tmp_path / "res", progress=False)
    assert not (tmp_path / "res" / "oracle" / "bad.txt").exists()


def test_vot_restart_logic(tmp_path):
    seq = make_sequence(tmp_path, "vseq", n=25, polygons=True)
    tracker = OracleTracker(jump_at={7, 19})
    rec = run_vot(tracker, [seq], tmp_path / "res", progress=False)
    path = vot_result_path(tmp_path / "res", "oracle", "vseq")
    assert path == tmp_path / "res" / "oracle" / "baseline" / "vseq" / "vseq_001.txt"
    lines = path.read_text().splitlines()
    assert len(lines) == 25
    assert lines[0] == "1"
    assert all(len(lines[f].split(",")) == 4 for f in range(1, 7))
    assert lines[7] == "2"  # failure
    assert lines[8:12] == ["0"] * 4  # four skipped frames
    assert lines[12] == "1"  # re-initialised 5 frames after the failure
    assert all(len(lines[f].split(",")) == 4 for f in range(13, 19))
    assert lines[19] == "2" and lines[20:24] == ["0"] * 4 and lines[24] == "1"
    assert [f for f, _ in tracker.inits] == [0, 12, 24]
    # boxes are written unshifted, in the ground truth's own coordinates
    np.testing.assert_allclose([float(v) for v in lines[3].split(",")], [13.0, 12.0, 16.0, 14.0])
    # re-initialisation uses the ground truth of that frame (the polygon itself, as the release)
    np.testing.assert_allclose(tracker.inits[1][1], seq.polygons[12])
    parsed = read_vot_result(path)
    assert [int(r[0]) for r in parsed if r.size == 1] == [1, 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 1]
    times = np.loadtxt(path.parent / "vseq_001_time.value")
    assert [p.name for p in path.parent.glob("*0*.txt")] == ["vseq_001.txt"]  # pysot's VOT glob: the run only
    assert times.shape == (25,) and (times[8:12] == 0).all()
    assert rec["failures_total"] == 2 and rec["per_sequence"]["vseq"]["failures"] == 2
    assert (tmp_path / "res" / "oracle" / "baseline" / "run_record.json").is_file()


def test_vot_failure_near_the_end_and_bounded_overlap(tmp_path):
    seq = make_sequence(tmp_path, "tail", n=10)
    res = vot_supervised(OracleTracker(jump_at={8}), seq)
    assert res["lines"][8] == 2 and res["lines"][9] == 0 and res["failures"] == 1
    # a prediction overlapping the ground truth only outside the image is a failure when bounded
    seq2 = make_sequence(tmp_path, "edge", n=3, box0=(-10.0, 5.0, 12.0, 10.0))

    class Outside(OracleTracker):
        def update(self, image):
            return np.array([-9.0, 5.0, 8.0, 10.0])  # overlaps the gt only at x < 0

    assert vot_supervised(Outside(), seq2, bounded=True)["lines"][1] == 2
    assert np.asarray(vot_supervised(Outside(), seq2, bounded=False)["lines"][1]).size == 4


def test_vot_invalid_gt_frames(tmp_path):
    seq = make_sequence(tmp_path, "nan", n=8)
    seq.boxes[0] = np.nan  # unusable at the start: skipped, initialised on frame 1
    seq.boxes[4] = np.nan  # unusable later: never a failure
    res = vot_supervised(OracleTracker(jump_at={4}), seq)
    assert res["lines"][0] == 0 and res["lines"][1] == 1
    assert res["failures"] == 0 and np.asarray(res["lines"][4]).size == 4


def test_track_sequence_returns_boxes_times_debug(tmp_path):
    seq = make_sequence(tmp_path, "s", n=4)
    out = track_sequence(OracleTracker(), seq, debug=True)
    assert out["boxes"].shape == (4, 4) and out["times"].shape == (4,) and len(out["debug"]) == 4
    np.testing.assert_allclose(out["boxes"], seq.boxes)


def test_workers_and_factory(tmp_path):
    seqs = [make_sequence(tmp_path, f"w{i}", n=6) for i in range(3)]
    rec = run_otb(OracleFactory(), seqs, tmp_path / "res", workers=2, progress=False)
    for s in seqs:
        np.testing.assert_allclose(read_otb_result(tmp_path / "res" / "oracle_mp" / f"{s.name}.txt"), s.boxes)
    assert rec["sequences_run"] == 3 and rec["tracker_name"] == "oracle_mp"


def test_run_record_with_real_tracker_and_checkpoint(tmp_path):
    torch = pytest.importorskip("torch")
    from sesiam_lib.core.io import file_sha256
    from sesiam_lib.tracking import SiamFCTracker

    from test_tracking_tracker import StandIn, scene

    frames, boxes = scene(n=4)
    folder = tmp_path / "frames"
    folder.mkdir()
    paths = []
    for i, f in enumerate(frames):
        p = folder / f"{i:04d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        paths.append(str(p))
    seq = Sequence("scene", paths, boxes)
    ckpt = tmp_path / "standin.pth"
    torch.save({"state_dict": StandIn().state_dict()}, ckpt)
    tracker = SiamFCTracker.from_benchmark(StandIn(), "se_siamfc_resnet22", "OTB2015", device="cpu", name="se_test",
                                           checkpoint=str(ckpt))
    rec = run_otb(tracker, [seq], tmp_path / "res", progress=True, benchmark="OTB2015")
    saved = json.loads((tmp_path / "res" / "se_test" / "run_record.json").read_text())
    assert saved["checkpoint_sha256"] == file_sha256(ckpt)
    assert saved["model_name"] == "se_siamfc_resnet22" and saved["device"] == "cpu"
    assert saved["hyper_parameters"]["scale_step"] == 1.1633 and saved["hyper_parameters"]["exemplar_size"] == 127
    assert saved["mean_fps"] > 0 and rec["benchmark"] == "OTB2015"


def test_tracker_name_must_be_a_folder_name(tmp_path):
    seq = make_sequence(tmp_path, "s", n=2)
    with pytest.raises(ValueError, match="tracker_name"):
        run_otb(OracleTracker(), [seq], tmp_path / "res", tracker_name=f"a{os.sep}b", progress=False)


def test_results_round_trip_through_the_evaluation_package(tmp_path):
    from sesiam_lib.evaluation import evaluate_otb, evaluate_vot

    plain = [make_sequence(tmp_path, f"p{i}", n=30) for i in range(2)]
    run_otb(OracleTracker(), plain, tmp_path / "otb", progress=False)
    res = evaluate_otb(tmp_path / "otb", plain, ["oracle"])["oracle"]
    assert res.success_auc == pytest.approx(20 / 21)  # IoU 1 everywhere: every threshold but t = 1
    seqs = [make_sequence(tmp_path, f"r{i}", n=30, polygons=True) for i in range(2)]
    run_vot(OracleTracker(jump_at={7}), seqs, tmp_path / "vot", progress=False)
    vot = evaluate_vot(tmp_path / "vot" / "oracle", seqs, "VOT2016")
    assert vot["failures"] == 2  # one per sequence
    assert vot["accuracy"] > 0.99


# --------------------------------------------------------------------------------------------------------------
# provenance-keyed resume


def test_resume_reruns_when_the_tracker_changes(tmp_path):
    seqs = [make_sequence(tmp_path, f"k{i}", n=12) for i in range(2)]
    run_vot(OracleTracker(jump_at={3}), seqs, tmp_path / "res", progress=False)
    key_file = tmp_path / "res" / "oracle" / "provenance" / "k0.json"
    first = json.loads(key_file.read_text())
    assert first["fields"]["tracker"] == {"tracker_class": "OracleTracker", "jump_at": [3]}
    # the same tracker: nothing re-run
    same = OracleTracker(jump_at={3})
    assert run_vot(same, seqs, tmp_path / "res", progress=False)["sequences_run"] == 0 and same.inits == []
    # another tracker (other hyper-parameters in effect): every sequence re-run, the record describes it
    other = OracleTracker(jump_at={5})
    rec = run_vot(other, seqs, tmp_path / "res", progress=False)
    assert rec["sequences_run"] == 2 and rec["provenance"]["jump_at"] == [5]
    assert json.loads(key_file.read_text())["key"] != first["key"]
    assert read_vot_result(vot_result_path(tmp_path / "res", "oracle", "k0"))[5].size == 1  # failure at 5 now
    # another protocol setting is another key too
    assert run_vot(other, seqs, tmp_path / "res", progress=False, skip_frames=3)["sequences_run"] == 2


def test_result_without_key_or_unkeyable_tracker_is_rerun(tmp_path):
    seq = make_sequence(tmp_path, "s", n=5)
    run_otb(OracleTracker(), [seq], tmp_path / "res", progress=False)
    (tmp_path / "res" / "oracle" / "provenance" / "s.json").unlink()  # e.g. a file from an older version
    again = OracleTracker()
    assert run_otb(again, [seq], tmp_path / "res", progress=False)["sequences_run"] == 1

    class NoKey(OracleTracker):
        provenance = None

    with pytest.warns(RuntimeWarning, match="cannot be keyed"):
        rec = run_otb(NoKey(), [seq], tmp_path / "res", progress=False)
    assert rec["sequences_run"] == 1


def test_changed_ground_truth_is_rerun(tmp_path):
    seq = make_sequence(tmp_path, "s", n=5)
    run_otb(OracleTracker(), [seq], tmp_path / "res", progress=False)
    seq.boxes[0, 2] += 1.0
    assert run_otb(OracleTracker(), [seq], tmp_path / "res", progress=False)["sequences_run"] == 1


def test_results_of_another_tracker_outside_the_call_are_moved_aside(tmp_path):
    a, b = make_sequence(tmp_path, "a", n=5), make_sequence(tmp_path, "b", n=5)
    run_otb(OracleTracker(jump_at={2}), [a, b], tmp_path / "res", progress=False)
    (tmp_path / "res" / "oracle" / "legacy.txt").write_text("1,1,1,1\n")  # no key: unknown origin
    with pytest.warns(RuntimeWarning, match="moved to"):
        rec = run_otb(OracleTracker(), [a], tmp_path / "res", progress=False)
    folder = tmp_path / "res" / "oracle"
    assert rec["sequences_run"] == 1 and not (folder / "b.txt").exists() and not (folder / "legacy.txt").exists()
    moved = list((folder / "superseded").glob("*/b.txt"))
    assert len(moved) == 1 and list((folder / "superseded").glob("*/provenance/b.json"))
    assert sorted(p.name for p in folder.glob("*.txt")) == ["a.txt", "a_time.txt"]
    assert [p.name for p in (folder / "times").iterdir()] == ["a_time.txt"]  # b's moved with its result
    assert list((folder / "superseded").glob("*/times/b_time.txt"))


@pytest.mark.slow
def test_two_checkpoints_never_share_results(tmp_path):
    """The reported bug: run_otb with w0.pth, then with w1.pth, ran 0 sequences and recorded w1 over w0's boxes."""
    torch = pytest.importorskip("torch")
    from sesiam_lib.core.io import file_sha256
    from sesiam_lib.models import build_model
    from sesiam_lib.tracking import TrackerFactory

    seqs = [make_sequence(tmp_path, f"s{i}", n=4) for i in range(2)]
    for seed in (0, 1):
        torch.manual_seed(seed)
        torch.save(build_model("siamfc_tiny").state_dict(), tmp_path / f"w{seed}.pth")
    rec0 = run_otb(TrackerFactory("siamfc_tiny", str(tmp_path / "w0.pth"), device="cpu"), seqs, tmp_path / "out",
                   progress=False)
    rec1 = run_otb(TrackerFactory("siamfc_tiny", str(tmp_path / "w1.pth"), device="cpu"), seqs, tmp_path / "out",
                   progress=False)
    assert rec0["sequences_run"] == 2 and rec1["sequences_run"] == 2
    saved = json.loads((tmp_path / "out" / "siamfc_tiny" / "run_record.json").read_text())
    assert saved["checkpoint_sha256"] == file_sha256(tmp_path / "w1.pth") != file_sha256(tmp_path / "w0.pth")
    assert saved["hyper_parameters"]["scale_step"] > 1
    for s in seqs:
        key = json.loads((tmp_path / "out" / "siamfc_tiny" / "provenance" / f"{s.name}.json").read_text())
        assert key["fields"]["tracker"]["checkpoint_sha256"] == saved["checkpoint_sha256"]
        assert saved["per_sequence"][s.name]["key"] == key["key"]
    # the same checkpoint again, in worker processes: nothing to do
    rec2 = run_otb(TrackerFactory("siamfc_tiny", str(tmp_path / "w1.pth"), device="cpu"), seqs, tmp_path / "out",
                   progress=False, workers=2)
    assert rec2["sequences_run"] == 0
    # other model options are another tracker
    rec3 = run_otb(TrackerFactory("siamfc_tiny", str(tmp_path / "w1.pth"), device="cpu",
                                  tracker_options={"scale_lr": 0.5}), seqs, tmp_path / "out", progress=False)
    assert rec3["sequences_run"] == 2 and rec3["hyper_parameters"]["scale_lr"] == 0.5

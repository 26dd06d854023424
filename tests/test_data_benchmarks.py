"""UAV123 / UAV20L, LaSOT, TrackingNet, NfS and TC128 loaders on tiny fixture trees carrying each layout's quirks."""

from __future__ import annotations

import zipfile

import cv2
import numpy as np
import pytest

from sesiam_lib.data import (
    AnnotationError,
    LASOT_TEST_SEQUENCES,
    UAV20L_SEQUENCES,
    UAV123_SEQUENCES,
    load_lasot,
    load_nfs,
    load_tc128,
    load_trackingnet,
    load_uav123,
    write_trackingnet_submission,
)
from sesiam_lib.data import lasot as lasot_mod
from sesiam_lib.data import uav123 as uav_mod
from sesiam_lib.evaluation import evaluate_otb_boxes
from sesiam_lib.evaluation.otb import sequence_curves
from sesiam_lib.evaluation.results_io import write_otb_result

_JPEG = cv2.imencode(".jpg", np.full((6, 8, 3), 128, np.uint8))[1].tobytes()


def images(folder, numbers, width):
    folder.mkdir(parents=True, exist_ok=True)
    for i in numbers:
        (folder / f"{i:0{width}d}.jpg").write_bytes(_JPEG)


def rows(n, x0=10.0, sep=","):
    return "".join(sep.join(f"{v:g}" for v in (x0 + i, 20, 5, 4)) + "\n" for i in range(n))


# ---------------------------------------------------------------------------------------------------------- UAV123
def test_uav123_table_is_the_official_configuration():
    assert len(UAV123_SEQUENCES) == 123 and len(UAV20L_SEQUENCES) == 20
    assert len({v["folder"] for v in UAV123_SEQUENCES.values()}) == 91
    b = {k: (v["folder"], v["first"], v["last"]) for k, v in UAV123_SEQUENCES.items() if k.startswith("bird1")}
    assert b == {"bird1_1": ("bird1", 1, 253), "bird1_2": ("bird1", 775, 1477), "bird1_3": ("bird1", 1573, 2437)}
    assert UAV123_SEQUENCES["car1_1"]["last"] == UAV123_SEQUENCES["car1_2"]["first"] == 751  # a shared frame
    assert UAV123_SEQUENCES["car1_s"]["folder"] == "car1_s"
    assert UAV20L_SEQUENCES["group3"] == {"folder": "group3", "first": 1, "last": 5527, "tags": (),
                                          "object_class": None}
    assert "FOC" in UAV123_SEQUENCES["bird1_1"]["tags"]


@pytest.fixture()
def small_uav(monkeypatch):
    """A 3-range table over one shared folder (the real one has bird1 at frames 1..2437)."""
    table = {
        "bird1_1": {"folder": "bird1", "first": 1, "last": 3, "tags": ("SV",), "object_class": "bird"},
        "bird1_2": {"folder": "bird1", "first": 6, "last": 9, "tags": ("FOC", "OV"), "object_class": "bird"},
        "bird1_3": {"folder": "bird1", "first": 9, "last": 11, "tags": (), "object_class": "bird"},
        "boat1": {"folder": "boat1", "first": 1, "last": 2, "tags": (), "object_class": "vessel"},
    }
    long = {"bird1": {"folder": "bird1", "first": 1, "last": 11, "tags": (), "object_class": None}}
    monkeypatch.setattr(uav_mod, "_SUBSETS", {"uav123": ("UAV123", table), "uav20l": ("UAV20L", long)})


def make_uav(root):
    images(root / "data_seq" / "UAV123" / "bird1", range(1, 12), 6)
    anno = root / "anno" / "UAV123"
    anno.mkdir(parents=True)
    (anno / "bird1_1.txt").write_text(rows(3))
    (anno / "bird1_2.txt").write_text("10,20,5,4\nNaN,NaN,NaN,NaN\nNaN,NaN,NaN,NaN\n13,20,5,4\n")
    (anno / "bird1_3.txt").write_text(rows(3, x0=30))
    (root / "anno" / "UAV20L").mkdir(parents=True)
    (root / "anno" / "UAV20L" / "bird1.txt").write_text(rows(11))
    return root


def test_uav123_shared_folders_ranges_and_nan_rows(tmp_path, small_uav):
    root = make_uav(tmp_path / "UAV123")
    missing = []
    seqs = load_uav123(root, missing=missing)
    assert missing == ["boat1"]
    assert [s.name for s in seqs] == ["bird1_1", "bird1_2", "bird1_3"]
    folder = root / "data_seq" / "UAV123" / "bird1"
    assert seqs[1].frames == [str(folder / f"{i:06d}.jpg") for i in range(6, 10)]
    assert seqs[2].frames[0] == seqs[1].frames[-1]  # ranges may share a frame
    np.testing.assert_allclose(seqs[0].boxes[0], [9, 19, 5, 4])  # 1-based -> 0-based
    assert seqs[1].absent.tolist() == [False, True, True, False] and np.isnan(seqs[1].boxes[1:3]).all()
    assert seqs[1].attributes["tags"] == ["FOC", "OV"] and seqs[1].attributes["start_frame"] == 6
    # a NaN frame is a failure on the success curve and a success on the precision curve (OTB toolkit)
    res = evaluate_otb_boxes({s.name: np.nan_to_num(s.boxes) for s in seqs}, seqs)
    assert res.per_sequence["bird1_2"].success[0] == pytest.approx(0.5)
    assert res.per_sequence["bird1_2"].precision == pytest.approx(1.0)
    # UAV20L: the whole folder
    (long,) = load_uav123(root, "UAV20L")
    assert long.name == "bird1" and len(long) == 11 and long.attributes["benchmark"] == "UAV20L"


def test_uav123_att_file_and_errors(tmp_path, small_uav):
    root = make_uav(tmp_path / "UAV123")
    att = root / "anno" / "UAV123" / "att"
    att.mkdir()
    (att / "bird1_1.txt").write_text("0,1,0,0,0,0,0,0,0,0,0,1\n")
    assert load_uav123(root, missing=[])[0].attributes["tags"] == ["ARC", "SOB"]
    (att / "bird1_1.txt").write_text("0,1,0\n")
    with pytest.raises(AnnotationError, match=r"att[/\\]bird1_1\.txt:1: expected 12"):
        load_uav123(root, missing=[])
    (att / "bird1_1.txt").unlink()
    with pytest.raises(AnnotationError, match=r"anno[/\\]UAV123[/\\]boat1\.txt: not found.*missing 1 of 4"):
        load_uav123(root)
    (root / "anno" / "UAV123" / "bird1_3.txt").write_text(rows(4))
    with pytest.raises(AnnotationError, match=r"bird1_3\.txt: 4 annotation lines, but UAV123 sequence bird1_3 is "
                                              r"frames 9\.\.11"):
        load_uav123(root, missing=[])
    (root / "anno" / "UAV123" / "bird1_3.txt").write_text(rows(3))
    (root / "data_seq" / "UAV123" / "bird1" / "000007.jpg").unlink()
    with pytest.raises(AnnotationError, match=r"bird1[/\\]000007\.jpg: missing image"):
        load_uav123(root, missing=[])
    with pytest.raises(AnnotationError, match=r"anno[/\\]UAV123: annotation folder not found"):
        load_uav123(tmp_path)
    with pytest.raises(ValueError, match="unknown subset"):
        load_uav123(root, "UAV10")


# ----------------------------------------------------------------------------------------------------------- LaSOT
def make_lasot_seq(root, name, n=5, occ=None, oov=None):
    cls = name.split("-")[0]
    d = root / cls / name
    images(d / "img", range(1, n + 2), 8)  # one extra image: ignored, as pytracking
    (d / "groundtruth.txt").write_text(rows(n))
    (d / "full_occlusion.txt").write_text(",".join(str(v) for v in (occ or [0] * n)))
    (d / "out_of_view.txt").write_text(",".join(str(v) for v in (oov or [0] * n)))
    (d / "nlp.txt").write_text("white airplane landing\n")
    return d


def test_lasot_layout_occlusion_files_and_protocol(tmp_path, monkeypatch):
    assert len(LASOT_TEST_SEQUENCES) == 280 and LASOT_TEST_SEQUENCES[:2] == ("airplane-1", "airplane-9")
    monkeypatch.setattr(lasot_mod, "LASOT_TEST_SEQUENCES", ("airplane-1", "bear-2"))
    root = tmp_path / "LaSOT"
    make_lasot_seq(root, "airplane-1", occ=[0, 0, 1, 0, 0], oov=[0, 0, 0, 1, 0])
    make_lasot_seq(root, "bear-2")
    make_lasot_seq(root, "airplane-3")  # a training sequence
    a, b = load_lasot(root)
    assert a.name == "airplane-1" and len(a) == 5 and a.frames[0].endswith("00000001.jpg")
    assert a.absent.tolist() == [False, False, True, True, False]
    assert a.attributes["object_class"] == "airplane" and a.attributes["nlp"] == "white airplane landing"
    assert a.attributes["tags"] == ["POC", "ROT", "SV", "LR"]  # from the table
    assert [s.name for s in load_lasot(root, "train")] == ["airplane-3"]

    # protocol: absent frames stay in the denominator and fail every curve (pytracking / pysot), even when the
    # prediction is perfect there
    s, p, n = sequence_curves(a.boxes, a.boxes, invalid_gt="lasot", absent=a.absent)
    assert s[0] == p[20] == n[20] == pytest.approx(3 / 5)
    s, p, n = sequence_curves(a.boxes, a.boxes, invalid_gt="exclude", absent=a.absent)
    assert s[0] == p[20] == 1.0
    res = evaluate_otb_boxes({x.name: x.boxes for x in (a, b)}, [a, b], invalid_gt="lasot")
    assert res.norm_precision == pytest.approx((3 / 5 + 1) / 2)


def test_lasot_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(lasot_mod, "LASOT_TEST_SEQUENCES", ("airplane-1", "bear-2"))
    root = tmp_path / "LaSOT"
    d = make_lasot_seq(root, "airplane-1")
    with pytest.raises(AnnotationError, match=r"bear[/\\]bear-2: sequence folder not found.*missing 1 of 2"):
        load_lasot(root)
    missing = []
    assert [s.name for s in load_lasot(root, missing=missing)] == ["airplane-1"] and missing == ["bear-2"]
    (d / "out_of_view.txt").write_text("0,0,0,0")
    with pytest.raises(AnnotationError, match=r"out_of_view\.txt: 4 flags but groundtruth\.txt has 5 lines"):
        load_lasot(root, missing=[])
    (d / "out_of_view.txt").write_text("0,0,2,0,0")
    with pytest.raises(AnnotationError, match=r"out_of_view\.txt:1: expected 0/1 flags, got '2'"):
        load_lasot(root, missing=[])
    (d / "out_of_view.txt").unlink()
    with pytest.raises(AnnotationError, match=r"out_of_view\.txt: flag file not found"):
        load_lasot(root, missing=[])
    (d / "out_of_view.txt").write_text("0,0,0,0,0")
    (d / "groundtruth.txt").write_text(rows(2) + "1,2,3\n" + rows(2))
    with pytest.raises(AnnotationError, match=r"groundtruth\.txt:3: expected 4 values, got 3"):
        load_lasot(root, missing=[])


# ----------------------------------------------------------------------------------------------------- TrackingNet
def make_trackingnet(root):
    for chunk, name, n, lines in (("TRAIN_0", "-3TIfnTSM6c_2", 3, 3), ("TRAIN_1", "abc_0", 2, 2),
                                  ("TEST", "zz_1", 4, 1)):
        images(root / chunk / "frames" / name, range(n), 1)
        (root / chunk / "anno").mkdir(parents=True, exist_ok=True)
        (root / chunk / "anno" / f"{name}.txt").write_text(rows(lines))
    return root


def test_trackingnet_chunks_test_first_box_and_submission(tmp_path):
    root = make_trackingnet(tmp_path / "TrackingNet")
    train = load_trackingnet(root, "train")
    assert [(s.name, s.attributes["chunk"], len(s)) for s in train] == [("-3TIfnTSM6c_2", "TRAIN_0", 3),
                                                                       ("abc_0", "TRAIN_1", 2)]
    assert train[0].frames[2].endswith("2.jpg")
    np.testing.assert_allclose(train[0].boxes[0], [10, 20, 5, 4])  # as written
    assert [s.name for s in load_trackingnet(root, "TRAIN_1")] == ["abc_0"]
    (test,) = load_trackingnet(root, "test")
    assert len(test) == 4 and np.isfinite(test.boxes[0]).all() and np.isnan(test.boxes[1:]).all()

    # submission: one <seq>.txt per test sequence at the zip root, x,y,w,h per frame, in the file's frame
    preds = np.array([[10, 20, 5, 4], [11, 20, 5, 4], [12.5, 21, 5, 4], [13, 22, 6, 4]], dtype=float)
    write_otb_result(tmp_path / "res" / "zz_1.txt", preds)  # this project's one-pass result (1-based)
    out = write_trackingnet_submission(tmp_path / "res", [test], tmp_path / "sub.zip")
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == ["zz_1.txt"]
        lines = zf.read("zz_1.txt").decode().splitlines()
    assert len(lines) == 4 and lines[2] == "12.5000,21.0000,5.0000,4.0000"
    with pytest.raises(ValueError, match=r"result of zz_1: 3 boxes but zz_1 has 4 frames"):
        write_trackingnet_submission({"zz_1": preds[:3]}, [test], tmp_path / "sub2.zip")
    assert not (tmp_path / "sub2.zip").exists()


def test_trackingnet_errors(tmp_path):
    root = make_trackingnet(tmp_path / "TrackingNet")
    (root / "TEST" / "frames" / "zz_1" / "2.jpg").unlink()
    with pytest.raises(AnnotationError, match=r"zz_1[/\\]2\.jpg: missing image"):
        load_trackingnet(root, "test")
    (root / "TRAIN_0" / "anno" / "-3TIfnTSM6c_2.txt").unlink()
    with pytest.raises(AnnotationError, match=r"TRAIN_0[/\\]anno[/\\]-3TIfnTSM6c_2\.txt: annotation file not found"):
        load_trackingnet(root, "TRAIN_0")
    (root / "TRAIN_1" / "anno" / "abc_0.txt").write_text(rows(3))
    with pytest.raises(AnnotationError, match=r"abc_0\.txt: 3 annotation lines but 2 frames"):
        load_trackingnet(root, "TRAIN_1")
    with pytest.raises(AnnotationError, match=r"TRAIN_5[/\\]anno: TrackingNet annotation folder not found"):
        load_trackingnet(root, "TRAIN_5")


# ------------------------------------------------------------------------------------------------------------- NfS
def nfs_lines(n, lost=()):
    return "".join(f'1 {10 + i} 20 {16 + i} 25 {i} {int(i in lost)} 0 0 "person head"\n' for i in range(n))


def test_nfs_layout_240fps_annotations_and_trimming(tmp_path):
    root = tmp_path / "NfS"
    images(root / "bee" / "30" / "bee", range(1, 5), 5)
    (root / "bee" / "30" / "bee.txt").write_text(nfs_lines(32, lost={16}))  # 240 fps annotations
    images(root / "bee" / "240" / "bee", range(1, 33), 5)
    (root / "bee" / "240" / "bee.txt").write_text(nfs_lines(32, lost={16}))
    images(root / "ball" / "30" / "ball", range(1, 5), 5)
    (root / "ball" / "30" / "ball.txt").write_text(nfs_lines(5))  # one line too many
    ball, bee = load_nfs(root)
    assert bee.name == "bee" and len(bee) == 4 and bee.attributes["annotation_stride"] == 8
    np.testing.assert_allclose(bee.boxes[:, 0], [9, 17, 25, 33])  # xmin of lines 0, 8, 16, 24, minus 1
    np.testing.assert_allclose(bee.boxes[0, 2:], [6, 5])  # w = xmax - xmin, h = ymax - ymin
    assert bee.absent.tolist() == [False, False, True, False]  # the 'lost' column
    assert bee.frames[0].endswith("00001.jpg")
    assert len(ball) == 4 and ball.attributes["trimmed"] == 1
    with pytest.raises(AnnotationError, match=r"ball[/\\]240[/\\]ball\.txt: NfS annotation file not found"):
        load_nfs(root, fps=240)  # ball has no 240 fps part
    missing = []
    (bee240,) = load_nfs(root, fps=240, missing=missing)
    assert missing == ["ball"] and len(bee240) == 32 and bee240.attributes["annotation_stride"] == 1


def test_nfs_errors(tmp_path):
    root = tmp_path / "NfS"
    images(root / "bee" / "30" / "bee", range(1, 5), 5)
    with pytest.raises(AnnotationError, match=r"bee[/\\]30[/\\]bee\.txt: NfS annotation file not found"):
        load_nfs(root)
    (root / "bee" / "30" / "bee.txt").write_text(nfs_lines(2) + "1 2 3\n" + nfs_lines(1))
    with pytest.raises(AnnotationError, match=r"bee\.txt:3: expected 'track_id xmin"):
        load_nfs(root)
    (root / "bee" / "30" / "bee.txt").write_text(nfs_lines(7))
    with pytest.raises(AnnotationError, match=r"bee\.txt: 7 annotations but 4 images"):
        load_nfs(root)
    with pytest.raises(ValueError, match="fps must be 30 or 240"):
        load_nfs(root, fps=60)


# ----------------------------------------------------------------------------------------------------------- TC128
def test_tc128_frame_ranges_and_file_names(tmp_path):
    root = tmp_path / "TC128"
    images(root / "Ball_ce1" / "img", range(1, 9), 4)
    (root / "Ball_ce1" / "Ball_ce1_gt.txt").write_text(rows(4, sep="\t"))
    (root / "Ball_ce1" / "Ball_ce1_frames.txt").write_text("3,6\n")
    images(root / "Walking" / "img", range(1, 4), 4)
    (root / "Walking" / "walking_gt.txt").write_text(rows(3))  # not named exactly after the folder
    (root / "Walking" / "walking_frames.txt").write_text("1,3")
    ball, walking = load_tc128(root)
    assert ball.frames[0].endswith("0003.jpg") and len(ball) == 4 and ball.attributes["start_frame"] == 3
    np.testing.assert_allclose(ball.boxes[0], [9, 19, 5, 4])
    assert walking.name == "Walking" and len(walking) == 3

    (root / "Ball_ce1" / "Ball_ce1_frames.txt").write_text("3,7\n")
    with pytest.raises(AnnotationError, match=r"Ball_ce1_gt\.txt: 4 annotation lines, but Ball_ce1_frames\.txt "
                                              r"selects frames 3\.\.7 \(5 frames\)"):
        load_tc128(root)
    (root / "Ball_ce1" / "Ball_ce1_frames.txt").write_text("3,9\n")
    with pytest.raises(AnnotationError, match=r"img[/\\]0009\.jpg: missing image"):
        load_tc128(root)
    (root / "Ball_ce1" / "Ball_ce1_frames.txt").unlink()
    with pytest.raises(AnnotationError, match=r"Ball_ce1[/\\]Ball_ce1_frames\.txt: TC128 frame-range file not found"):
        load_tc128(root)
    (root / "Ball_ce1" / "Ball_ce1_frames.txt").write_text("6,3\n")
    with pytest.raises(AnnotationError, match=r"Ball_ce1_frames\.txt:1: expected one line 'first,last'"):
        load_tc128(root)

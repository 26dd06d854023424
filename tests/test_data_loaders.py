"""OTB / VOT / GOT-10k loaders on small fixture trees built here, with the benchmarks' quirks."""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from sesiam_lib.core.boxes import polygon_to_xywh
from sesiam_lib.data import AnnotationError, load_got10k, load_otb, load_vot, otb_names
from sesiam_lib.data.otb import OTB2013_FOLDERS, OTB_ATTRIBUTES


def _images(folder: Path, numbers, width=4, ext=".jpg", real=False):
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        path = folder / f"{n:0{width}d}{ext}"
        if real:
            cv2.imwrite(str(path), np.full((6, 8, 3), n % 255, np.uint8))
        else:
            path.touch()  # loaders never read pixels; only Sequence.image does


def _gt(path: Path, rows, sep=","):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(sep.join(str(v) for v in r) + "\n" for r in rows))


def _otb_seq(root: Path, folder: str, n: int, first=1, width=4, gt_name="groundtruth_rect.txt", rows=None):
    _images(root / folder / "img", range(first, first + n), width)
    rows = rows if rows is not None else [(i + 1, i + 2, 10, 20) for i in range(n)]
    _gt(root / folder / gt_name, rows)


# ---------------------------------------------------------------- OTB


def test_otb_lists():
    assert len(otb_names("OTB2013")) == 51
    assert len(otb_names("OTB2015")) == 100
    assert len(set(otb_names("OTB2015"))) == 100
    assert {"Jogging.1", "Jogging.2", "Skating2.1", "Skating2.2", "Human4"} <= set(otb_names("OTB2015"))
    assert set(otb_names("OTB2013")) <= set(otb_names("OTB2015")) == set(OTB_ATTRIBUTES)


def test_otb_quirks(tmp_path):
    root = tmp_path
    # Board: 5-digit names
    _otb_seq(root, "Board", 3, width=5)
    # mixed separators, 1-based -> 0-based
    _images(root / "Mixed" / "img", range(1, 5))
    (root / "Mixed" / "groundtruth_rect.txt").write_text("11,21,5,6\n12\t22\t5\t6\n13 23 5 6\n14, 24\t5  6\n\n")
    # two targets
    _images(root / "Jogging" / "img", range(1, 4))
    _gt(root / "Jogging" / "groundtruth_rect.1.txt", [(1, 1, 5, 5)] * 3, "\t")
    _gt(root / "Jogging" / "groundtruth_rect.2.txt", [(9, 9, 7, 7)] * 3)
    # Human4: .1 empty, .2 counts
    _images(root / "Human4" / "img", range(1, 4))
    (root / "Human4" / "groundtruth_rect.1.txt").write_text("")
    _gt(root / "Human4" / "groundtruth_rect.2.txt", [(2, 3, 4, 5)] * 3)
    # David: frames 300..770 of a longer folder, annotation = those frames
    _images(root / "David" / "img", range(1, 800))
    _gt(root / "David" / "groundtruth_rect.txt", [(i, 1, 10, 10) for i in range(471)])
    # Tiger1: start frame 6, annotation lines 6..
    _images(root / "Tiger1" / "img", range(1, 11))
    _gt(root / "Tiger1" / "groundtruth_rect.txt", [(i, 1, 10, 10) for i in range(1, 11)])
    # BlurCar1: image files start at 0247
    _images(root / "BlurCar1" / "img", range(247, 989))
    _gt(root / "BlurCar1" / "groundtruth_rect.txt", [(1, 1, 3, 3)] * 742)
    # Football1: only 1..74 of a longer folder
    _otb_seq(root, "Football1", 74)
    _images(root / "Football1" / "img", range(75, 80))
    # attrs.txt override
    _otb_seq(root, "Custom", 2)
    (root / "Custom" / "attrs.txt").write_text("SV, OCC\n")

    seqs = {s.name: s for s in load_otb(root, None)}
    assert set(seqs) == {"Board", "Mixed", "Jogging.1", "Jogging.2", "Human4", "David", "Tiger1", "BlurCar1",
                         "Football1", "Custom"}
    assert Path(seqs["Board"].frames[0]).name == "00001.jpg" and len(seqs["Board"]) == 3
    np.testing.assert_array_equal(seqs["Mixed"].boxes[:, :2], [[10, 20], [11, 21], [12, 22], [13, 23]])
    np.testing.assert_array_equal(seqs["Mixed"].boxes[:, 2:], [[5, 6]] * 4)
    np.testing.assert_array_equal(seqs["Jogging.1"].boxes[0], [0, 0, 5, 5])
    np.testing.assert_array_equal(seqs["Jogging.2"].boxes[0], [8, 8, 7, 7])
    np.testing.assert_array_equal(seqs["Human4"].boxes[0], [1, 2, 4, 5])
    david = seqs["David"]
    assert len(david) == 471 and Path(david.frames[0]).name == "0300.jpg" and Path(david.frames[-1]).name == "0770.jpg"
    assert david.boxes[0, 0] == -1 and david.attributes["start_frame"] == 300
    tiger = seqs["Tiger1"]
    assert len(tiger) == 5 and Path(tiger.frames[0]).name == "0006.jpg"
    assert tiger.boxes[0, 0] == 6 - 1  # line 6 holds x = 6 (1-based) -> 5
    assert len(seqs["BlurCar1"]) == 742 and Path(seqs["BlurCar1"].frames[0]).name == "0247.jpg"
    assert len(seqs["Football1"]) == 74
    assert seqs["Jogging.1"].attributes["tags"] == list(OTB_ATTRIBUTES["Jogging.1"])
    assert seqs["Custom"].attributes["tags"] == ["SV", "OCC"]
    assert seqs["Mixed"].attributes["tags"] == []


def test_otb2013_full_tree_and_missing(tmp_path):
    special = {"David": (1, 771), "Football1": (1, 75), "Freeman3": (1, 461), "Freeman4": (1, 284), "Tiger1": (1, 9)}
    for folder in OTB2013_FOLDERS:
        lo, hi = special.get(folder, (1, 4))
        img_dir = tmp_path / (folder if folder != "Basketball" else "BasketBall") / "img"
        _images(img_dir, range(lo, hi))
        n = {"David": 471, "Football1": 74, "Freeman3": 460, "Freeman4": 283}.get(folder, hi - lo)
        if folder == "Jogging":
            for k in (1, 2):
                _gt(img_dir.parent / f"groundtruth_rect.{k}.txt", [(1, 1, 2, 2)] * n)
        else:
            _gt(img_dir.parent / "groundtruth_rect.txt", [(1, 1, 2, 2)] * n)
    seqs = load_otb(tmp_path, "OTB2013")
    assert [s.name for s in seqs] == otb_names("OTB2013") and len(seqs) == 51
    assert len(next(s for s in seqs if s.name == "Tiger1")) == 3  # frames 6..8
    assert next(s for s in seqs if s.name == "Basketball").attributes["folder"].endswith("BasketBall")
    # a missing sequence is named
    shutil.rmtree(tmp_path / "Woman")
    shutil.rmtree(tmp_path / "Jogging")
    with pytest.raises(AnnotationError) as info:
        load_otb(tmp_path, "OTB2013")
    assert "Woman" in str(info.value) and "Jogging.1" in str(info.value) and "Jogging.2" in str(info.value)


def test_otb_bad_input(tmp_path):
    _otb_seq(tmp_path / "a", "Seq", 3, rows=[(1, 2, 3, 4), (1, 2, 3), (1, 2, 3, 4)])
    with pytest.raises(AnnotationError, match=r"groundtruth_rect\.txt:2: expected 4 values"):
        load_otb(tmp_path / "a", None)
    _otb_seq(tmp_path / "b", "Seq", 3, rows=[(1, 2, 3, 4), (1, "x", 3, 4), (1, 2, 3, 4)])
    with pytest.raises(AnnotationError, match=r"groundtruth_rect\.txt:2: not a number"):
        load_otb(tmp_path / "b", None)
    _otb_seq(tmp_path / "c", "Seq", 3, rows=[(1, 2, 3, 4)] * 4)
    with pytest.raises(AnnotationError, match=r"groundtruth_rect\.txt: 4 annotation lines but 3 images.*disagree"):
        load_otb(tmp_path / "c", None)
    _otb_seq(tmp_path / "d", "Seq", 4)
    (tmp_path / "d" / "Seq" / "img" / "0003.jpg").unlink()
    with pytest.raises(AnnotationError, match=r"0003\.jpg: missing image"):
        load_otb(tmp_path / "d", None)
    _otb_seq(tmp_path / "e", "Tiger1", 4)  # too short for its frame range 6..
    with pytest.raises(AnnotationError, match="0006.jpg: missing image"):
        load_otb(tmp_path / "e", None)
    with pytest.raises(ValueError, match="unknown version"):
        load_otb(tmp_path / "e", "OTB2099")


def test_grayscale_frames_come_back_rgb(tmp_path):
    _otb_seq(tmp_path, "Gray", 2)
    for p in (tmp_path / "Gray" / "img").iterdir():
        cv2.imwrite(str(p), np.full((5, 7), 77, np.uint8))
    seq = load_otb(tmp_path, None)[0]
    img = seq.image(0)
    assert img.shape == (5, 7, 3) and (img == 77).all()


# ---------------------------------------------------------------- VOT


def test_vot_polygons_color_dir_and_boxes(tmp_path):
    (tmp_path / "list.txt").write_text("poly\nrect\n")
    _images(tmp_path / "poly" / "color", range(1, 4), width=8, real=True)
    polys = [(10, 10, 30, 12, 28, 32, 8, 30), (11, 10, 31, 12, 29, 32, 9, 30), ("nan",) * 8]
    _gt(tmp_path / "poly" / "groundtruth.txt", polys)
    (tmp_path / "poly" / "occlusion.tag").write_text("0\n1\n")  # short: padded with zeros
    _images(tmp_path / "rect", range(1, 3), width=8)
    _gt(tmp_path / "rect" / "groundtruth.txt", [(5, 6, 7, 8), (5.5, 6.5, 7, 8)])
    seqs = load_vot(tmp_path, "VOT2016")
    poly, rect = seqs
    assert poly.name == "poly" and Path(poly.frames[0]).parent.name == "color"
    np.testing.assert_array_equal(poly.polygons[:2], np.asarray(polys[:2], float))
    np.testing.assert_allclose(poly.boxes[:2], polygon_to_xywh(np.asarray(polys[:2], float)))
    assert np.isnan(poly.boxes[2]).all()
    np.testing.assert_array_equal(poly.attributes["frame_tags"]["occlusion"], [False, True, False])
    assert poly.attributes["tags"] == ["occlusion"] and poly.attributes["benchmark"] == "VOT2016"
    assert poly.image(0).shape == (6, 8, 3)
    np.testing.assert_array_equal(rect.boxes, [[5, 6, 7, 8], [5.5, 6.5, 7, 8]])
    np.testing.assert_array_equal(rect.polygons[0], [5, 6, 12, 6, 12, 14, 5, 14])


def test_vot_bad_input(tmp_path):
    (tmp_path / "list.txt").write_text("s\n")
    _images(tmp_path / "s", range(1, 3), width=8)
    _gt(tmp_path / "s" / "groundtruth.txt", [(1,) * 8, (1,) * 7])
    with pytest.raises(AnnotationError, match=r"s/groundtruth\.txt:2: expected 8 or 4 values, got 7"):
        load_vot(tmp_path)
    _gt(tmp_path / "s" / "groundtruth.txt", [(1,) * 8, (1,) * 4])
    with pytest.raises(AnnotationError, match=r"groundtruth\.txt:2: 4 values where earlier lines have 8"):
        load_vot(tmp_path)
    (tmp_path / "list.txt").write_text("s\nghost\n")
    with pytest.raises(AnnotationError, match=r"list\.txt:2: sequence folder .*ghost not found"):
        load_vot(tmp_path)


# ---------------------------------------------------------------- GOT-10k


def _got_seq(split_dir: Path, name: str, n: int, gt_lines=None, labels=True):
    _images(split_dir / name, range(1, n + 1), width=8)
    rows = [(i, 2 * i, 10, 12) for i in range(gt_lines if gt_lines is not None else n)]
    _gt(split_dir / name / "groundtruth.txt", rows)
    if labels:
        (split_dir / name / "absence.label").write_text("".join(f"{int(i == 1)}\n" for i in range(n)))
        (split_dir / name / "cover.label").write_text("".join(f"{0 if i == 1 else 8}\n" for i in range(n)))
        (split_dir / name / "meta_info.ini").write_text("[METAINFO]\nobject_class: cat\nresolution: (8, 6)\n")


def test_got10k_train_and_test(tmp_path):
    _got_seq(tmp_path / "train", "GOT-10k_Train_000001", 4)
    _got_seq(tmp_path / "train", "GOT-10k_Train_000002", 3)
    (tmp_path / "train" / "list.txt").write_text("GOT-10k_Train_000001\nGOT-10k_Train_000002\n")
    seqs = load_got10k(tmp_path, "train")
    assert [len(s) for s in seqs] == [4, 3]
    s = seqs[0]
    np.testing.assert_array_equal(s.boxes[2], [2, 4, 10, 12])  # read as written
    np.testing.assert_array_equal(s.absent, [False, True, False, False])
    np.testing.assert_array_equal(s.cover, [8, 0, 8, 8])
    assert s.attributes["meta"]["object_class"] == "cat"
    # test split: only frame 1 annotated
    _got_seq(tmp_path / "test", "GOT-10k_Test_000001", 5, gt_lines=1, labels=False)
    (tmp_path / "test" / "list.txt").write_text("GOT-10k_Test_000001\n")
    (t,) = load_got10k(tmp_path, "test")
    assert np.isfinite(t.boxes[0]).all() and np.isnan(t.boxes[1:]).all() and t.absent is None


def test_got10k_bad_input(tmp_path):
    _got_seq(tmp_path / "train", "a", 4)
    (tmp_path / "train" / "list.txt").write_text("a\n")
    (tmp_path / "train" / "a" / "cover.label").write_text("8\n8\n")
    with pytest.raises(AnnotationError, match=r"cover\.label: 2 lines but the sequence has 4 frames"):
        load_got10k(tmp_path, "train")
    _got_seq(tmp_path / "train", "a", 4, gt_lines=3)
    with pytest.raises(AnnotationError, match=r"groundtruth\.txt: 3 annotation lines but 4 images"):
        load_got10k(tmp_path, "train")
    (tmp_path / "train" / "a" / "groundtruth.txt").write_text("1,2,3,4\n1,2,3,4\n\n1,2,3,4\n1,2,3,4\n")
    with pytest.raises(AnnotationError, match=r"groundtruth\.txt:3: blank line"):
        load_got10k(tmp_path, "train")
    with pytest.raises(AnnotationError, match=r"val/list\.txt: list\.txt not found"):
        load_got10k(tmp_path, "val")

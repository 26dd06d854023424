"""Bad dataset files and images: errors that name the file (and line), never a silently wrong result."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from sesiam_lib.core.sequence import ImageDecodeError, Sequence, read_rgb
from sesiam_lib.data import load_got10k, load_otb
from sesiam_lib.data._parse import AnnotationError, read_rows
from sesiam_lib.evaluation.results_io import (
    ResultFileError,
    read_got10k_result,
    read_otb_result,
    read_vot_groundtruth,
    read_vot_result,
)

BINARY = bytes(range(256)) * 4


def _jpeg(path: Path, size=64, seed=0) -> bytes:
    img = np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".jpg", img)
    assert ok
    path.write_bytes(data.tobytes())
    return data.tobytes()


def _got_split(root: Path, n=3) -> Path:
    split = root / "train"
    seq = split / "seq1"
    seq.mkdir(parents=True)
    for i in range(1, n + 1):
        _jpeg(seq / f"{i:08d}.jpg", seed=i)
    (seq / "groundtruth.txt").write_text("\n".join("10,12,20,22" for _ in range(n)) + "\n")
    (split / "list.txt").write_text("seq1\n")
    return split


# --- result / annotation lines with an empty field ---------------------------------------------------------
@pytest.mark.parametrize("reader", [read_otb_result, read_got10k_result])
def test_empty_field_in_result_line_names_file_and_line(tmp_path, reader):
    path = tmp_path / "Basketball.txt"
    path.write_text("64,112,47,50\n65,,113,47,50\n66,114,47,50\n")
    with pytest.raises(ResultFileError, match=r"Basketball\.txt: line 2: empty field in '65,,113,47,50'"):
        reader(path)


def test_empty_field_in_vot_files(tmp_path):
    run = tmp_path / "ball_001.txt"
    run.write_text("1\n10,,20,30,40\n")
    with pytest.raises(ResultFileError, match=r"ball_001\.txt: line 2: empty field"):
        read_vot_result(run)
    gt = tmp_path / "groundtruth.txt"
    gt.write_text("1,2,3,4,5,6,7,8\n,1,2,3,4,5,6,7,8\n")
    with pytest.raises(ResultFileError, match=r"groundtruth\.txt: line 2: empty field"):
        read_vot_groundtruth(gt)


def test_trailing_separator_is_still_accepted(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("1,2,3,4,\n5,6,7,8,,\n")
    np.testing.assert_array_equal(read_got10k_result(path), [[1, 2, 3, 4], [5, 6, 7, 8]])


def test_empty_field_in_groundtruth_names_file_and_line(tmp_path):
    path = tmp_path / "groundtruth.txt"
    path.write_text("64,112,47,50\n65,,113,47,50\n")
    with pytest.raises(AnnotationError, match=r"groundtruth\.txt:2: empty field in '65,,113,47,50'"):
        read_rows(path)


def test_wrong_width_names_the_line_not_the_box_index(tmp_path):
    path = tmp_path / "r.txt"
    path.write_text("\n1 2 3 4\n\n1 2 3\n")
    with pytest.raises(ResultFileError, match=r"r\.txt: line 4: box 2 has 3 values"):
        read_otb_result(path)


# --- binary annotation files ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["meta_info.ini", "absence.label", "cover.label", "groundtruth.txt"])
def test_got10k_binary_files_name_the_file(tmp_path, name):
    split = _got_split(tmp_path)
    (split / "seq1" / name).write_bytes(BINARY)
    with pytest.raises(AnnotationError, match=rf"{name}:\d+: .*not UTF-8 text"):
        load_got10k(tmp_path, "train")


def test_got10k_binary_list_names_the_file(tmp_path):
    split = _got_split(tmp_path)
    (split / "list.txt").write_bytes(BINARY)
    with pytest.raises(AnnotationError, match=r"list\.txt:\d+: sequence list is not UTF-8 text"):
        load_got10k(tmp_path, "train")


def test_otb_binary_attribute_file_names_the_file(tmp_path):
    seq = tmp_path / "Custom"
    (seq / "img").mkdir(parents=True)
    for i in range(1, 3):
        _jpeg(seq / "img" / f"{i:04d}.jpg", seed=i)
    (seq / "groundtruth_rect.txt").write_text("1,1,10,10\n1,1,10,10\n")
    (seq / "attrs.txt").write_bytes(BINARY)
    with pytest.raises(AnnotationError, match=r"attrs\.txt:\d+: attribute file is not UTF-8 text"):
        load_otb(tmp_path, None)


# --- images ---------------------------------------------------------------------------------------------
def test_truncated_jpeg_is_detected(tmp_path):
    path = tmp_path / "00000001.jpg"
    data = _jpeg(path, size=96)
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageDecodeError, match=r"00000001\.jpg is a truncated JPEG"):
        read_rgb(path)
    seq = Sequence("s", [str(path)], np.zeros((1, 4)))
    with pytest.raises(ImageDecodeError, match=r"00000001\.jpg"):
        seq.image(0)


def test_complete_jpeg_with_trailing_bytes_still_reads(tmp_path):
    path = tmp_path / "a.jpg"
    data = _jpeg(path)
    path.write_bytes(data + b"\x00" * 10)
    assert read_rgb(path).shape == (64, 64, 3)


def test_truncated_png_is_detected(tmp_path):
    path = tmp_path / "a.png"
    ok, data = cv2.imencode(".png", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    path.write_bytes(data.tobytes()[:-40])
    with pytest.raises(ImageDecodeError, match=r"a\.png is a truncated PNG"):
        read_rgb(path)


@pytest.mark.parametrize("content,match", [(b"", "the file is empty"), (BINARY, "not an image")])
def test_empty_or_random_bytes_image_cannot_be_decoded(tmp_path, content, match):
    path = tmp_path / "00000001.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageDecodeError, match=rf"cannot decode image file .*00000001\.jpg: {match}"):
        read_rgb(path)


def test_missing_image_is_still_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.jpg"):
        read_rgb(tmp_path / "nope.jpg")

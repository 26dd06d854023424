"""More bad input across the public API: each gets a clear error naming the argument / file."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from sesiam_lib.data import load_got10k
from sesiam_lib.data._parse import AnnotationError
from sesiam_lib.evaluation.otb import precision_curve, success_curve
from sesiam_lib.models import build_model, load_checkpoint
from sesiam_lib.models.checkpoint import CheckpointError
from sesiam_lib.pipeline.runner import load_preset
from sesiam_lib.training import ConfigError, load_config, train


def test_evaluation_rejects_boxes_of_another_width():
    gt = np.tile([1.0, 1.0, 10.0, 10.0], (3, 1))
    bad = np.arange(12.0).reshape(6, 2)  # 12 values: used to be reshaped silently into 3 "boxes"
    with pytest.raises(ValueError, match=r"pred: expected \(N, 4\) boxes .*shape \(6, 2\)"):
        success_curve(gt, bad)
    with pytest.raises(ValueError, match=r"gt: expected \(N, 4\) boxes"):
        precision_curve(gt[:, :3], gt)
    assert success_curve(gt[:1], gt[0]).shape  # one box (4,) still works


def test_load_checkpoint_on_a_folder_says_so(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    torch.save({}, tmp_path / "checkpoints" / "last.pth")
    with pytest.raises(CheckpointError,
                       match=r"is a folder, not a file; \.pth files in it: \['checkpoints/last\.pth'\]"):
        load_checkpoint(build_model("siamfc_tiny"), tmp_path)


def test_got10k_split_typo_lists_the_splits(tmp_path):
    for split in ("train", "val"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "list.txt").write_text("")
    with pytest.raises(AnnotationError, match=r"trian/list\.txt: list\.txt not found .*splits found under .*: "
                                              r"train, val"):
        load_got10k(tmp_path, "trian")


def test_training_config_folder_and_string_overrides(tmp_path):
    with pytest.raises(ConfigError, match=r"config file .* is a folder"):
        load_config(tmp_path)
    (tmp_path / "bin.yaml").write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match=r"bin\.yaml is not UTF-8 text"):
        load_config(tmp_path / "bin.yaml")
    with pytest.raises(ConfigError, match=r"overrides must be a list .* overrides=\['epochs=2'\]"):
        train(preset="smoke", overrides="epochs=2")
    assert load_config(preset="smoke", overrides=("epochs=3",)).epochs == 3


@pytest.mark.parametrize("text,match", [("steps: [\n  {notebook: a.ipynb\n", "not valid YAML"),
                                        ("- a\n- b\n", "a preset is a mapping")])
def test_malformed_pipeline_preset(tmp_path, text, match):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=rf"p\.yaml: {match}"):
        load_preset(str(path))


def test_tracker_box_given_as_text_names_the_argument():
    from sesiam_lib.tracking import SiamFCTracker

    t = SiamFCTracker(build_model("siamfc_tiny"), device="cpu", fast=False)
    with pytest.raises(ValueError, match=r"box: expected 4 numbers"):
        t.init(np.zeros((64, 64, 3), np.uint8), "10,10,20,20")


def test_yaml_nan_in_a_config_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"preset": "smoke", "optim": {"lr_end": float("nan")}}))
    with pytest.raises(ConfigError, match="optim.lr_end must be a finite number"):
        load_config(path).validate()

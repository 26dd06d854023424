"""Notebook 03's options in the package: the true-size tag, tracker_overrides, tuned / tuned_seed."""

from __future__ import annotations

import json

import pytest

from sesiam_lib.pipeline.experiment import (TRACKER_OVERRIDE_KEYS, RunPaths, check_tracker_overrides,
                                            figure_trackers, tracking_tag, tuned_file)
from sesiam_lib.tracking import SiamFCTracker


def test_tracking_tag():
    assert tracking_tag("", False) == "" and tracking_tag("onescale", False) == "onescale"
    assert tracking_tag("", True) == "truesize"
    assert tracking_tag("onescale", True, "T-MNIST") == "onescale-truesize"
    with pytest.raises(ValueError, match="one-pass"):
        tracking_tag("", True, "VOT2016")


def test_tracker_overrides():
    assert check_tracker_overrides({}) == {} and check_tracker_overrides(None) == {}
    assert check_tracker_overrides({"num_scales": 1}) == {"num_scales": 1}
    with pytest.raises(ValueError, match="'num_scale'"):
        check_tracker_overrides({"num_scale": 1})
    with pytest.raises(ValueError, match="dict"):
        check_tracker_overrides([("num_scales", 1)])
    import inspect

    accepted = inspect.signature(SiamFCTracker.__init__).parameters
    assert all(k in accepted for k in TRACKER_OVERRIDE_KEYS)  # every allowed key is a tracker keyword


def test_overrides_win_over_the_tuned_setting(tmp_path):
    from sesiam_lib.tracking import tracker_params

    best = tmp_path / "best_params.json"
    best.write_text(json.dumps({"scale_step": 1.05, "scale_lr": 0.3, "scale_penalty": 0.98, "w_influence": 0.2,
                                "num_scales": 5, "model": "siamfc_tiny", "model_family": "SiamFC+"}))
    params = tracker_params("siamfc_tiny", "OTB2015", tuned=str(best), **check_tracker_overrides({"num_scales": 1}))
    assert params["num_scales"] == 1 and params["scale_step"] == 1.05


def _best(paths, dataset, folder):
    path = paths.tuning_results(dataset) / folder / "best_params.json"
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    return str(path)


def test_tuned_file_auto_and_tuned_seed(tmp_path):
    paths = RunPaths("v2", tmp_path / "results", tmp_path / "runs")
    s0 = _best(paths, "S-MNIST", "se_siamfc_tiny_s0")
    # auto: the tracker's own seed; the tracking tag (onescale, truesize) is not part of notebook 05's name
    assert tuned_file(paths, "S-MNIST", "auto", name="se_siamfc_tiny-truesize_s0", model="se_siamfc_tiny",
                      seed=0) == s0
    with pytest.raises(FileNotFoundError, match="se_siamfc_tiny_s3/best_params.json"):
        tuned_file(paths, "S-MNIST", "auto", name="se_siamfc_tiny_s3", model="se_siamfc_tiny", seed=3)
    # tuned_seed: the seed-0 setting for every seed
    for seed in range(5):
        assert tuned_file(paths, "S-MNIST", "auto", name=f"se_siamfc_tiny_s{seed}", model="se_siamfc_tiny",
                          seed=seed, tuned_seed=0) == s0
    with pytest.raises(FileNotFoundError, match=r"tuned_seed=1.*siamfc_tiny_s1/best_params\.json"):
        tuned_file(paths, "S-MNIST", "auto", name="siamfc_tiny_s0", model="siamfc_tiny", seed=0, tuned_seed=1)
    # a checkpoints entry: its name
    released = _best(paths, "S-MNIST", "released")
    assert tuned_file(paths, "S-MNIST", "auto", name="released", model="se_siamfc_resnet22") == released
    # explicit files by name or models entry; tuned_seed needs auto
    assert tuned_file(paths, "S-MNIST", {"siamfc_tiny": "x.json"}, name="siamfc_tiny_s2", model="siamfc_tiny",
                      seed=2) == "x.json"
    assert tuned_file(paths, "S-MNIST", {}, name="a_s0", model="a", seed=0) is None
    # a checkpoints arm "<arm>_s<seed>" of a pool model read through another head: its arm's file, not the model's
    arms = {"se_siamfc_tiny": "pool.json", "se_siamfc_tiny-readout": "readout.json", "b_s1": "b1.json"}
    assert [tuned_file(paths, "S-MNIST", arms, name=f"se_siamfc_tiny-readout_s{s}", model="se_siamfc_tiny")
            for s in (0, 3)] == ["readout.json"] * 2
    assert tuned_file(paths, "S-MNIST", arms, name="se_siamfc_tiny_s3", model="se_siamfc_tiny") == "pool.json"
    assert tuned_file(paths, "S-MNIST", arms, name="b_s1", model="b") == "b1.json"
    with pytest.raises(ValueError, match="tuned_seed"):
        tuned_file(paths, "S-MNIST", {}, name="a_s0", model="a", seed=0, tuned_seed=0)


def test_checkpoint_entry_per_dataset_options_and_clear_errors():
    from sesiam_lib.pipeline.experiment import checkpoint_entry

    entry = {"model": "se_siamfc_tiny", "model_options": {"head": "scale"},
             "checkpoint": {"S-MNIST": "s.pth", "T-MNIST": "t.pth"}}
    assert checkpoint_entry("r_s0", entry, "T-MNIST") == {"model": "se_siamfc_tiny", "checkpoint": "t.pth",
                                                          "model_options": {"head": "scale"}}
    assert checkpoint_entry("x", {"model": "m", "checkpoint": "a.pth"}, "OTB2015")["model_options"] == {}
    with pytest.raises(ValueError, match=r"checkpoints\['r_s0'\]: no checkpoint for OTB2015"):
        checkpoint_entry("r_s0", entry, "OTB2015")
    with pytest.raises(ValueError, match=r"checkpoints\['x'\]: unknown keys \['options'\]"):
        checkpoint_entry("x", {"model": "m", "checkpoint": "a.pth", "options": {}}, "S-MNIST")
    with pytest.raises(ValueError, match=r"checkpoints\['x'\]: expected a dict with model and checkpoint"):
        checkpoint_entry("x", {"checkpoint": "a.pth"}, "S-MNIST")


def test_figure_trackers_one_per_family():
    names = ["se_siamfc_tiny-scalehead_s0", "se_siamfc_tiny-scalehead_s1", "siamfc_tiny_s2", "siamfc_tiny_s3",
             "se_siamfc_tiny-readout_s1", "SE-SiamFC", "x-truesize"]
    given = ["siamfc_tiny_s2", "siamfc_tiny_s3", "se_siamfc_tiny-readout_s1", "SE-SiamFC", "x-truesize"]
    assert figure_trackers(names, given, [0, 1]) == ["se_siamfc_tiny-scalehead_s0", "siamfc_tiny_s2",
                                                     "se_siamfc_tiny-readout_s1", "SE-SiamFC", "x-truesize"]
    # the released preset: no trained seeds, named checkpoints only
    assert figure_trackers(["SE-SiamFC", "SiamFC+"], ["SE-SiamFC", "SiamFC+"], []) == ["SE-SiamFC", "SiamFC+"]
    assert figure_trackers(["m_s1", "m_s0"], [], [1]) == ["m_s1"]

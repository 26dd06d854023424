"""The paper's own path, executed: ``--preset released`` and ``--preset paper`` end to end on CPU.

Fixture trees built here: an OTB tree with every OTB2015 folder (OTB2013's are a subset) and the loader's frame-range
quirks, VOT2016 / VOT2017 trees of two sequences each (VOT2017's list.txt also names a sequence that is not there),
a GOT-10k-layout tree from :func:`sesiam_lib.data.synthetic.generate_synthetic`, and checkpoint files of random
weights in the release's formats. The dry-run limits (``limit_sequences`` / ``limit_frames``) keep the runs short;
the test re-evaluates the result files the run wrote and checks that the paper's table holds those numbers.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
import yaml

from sesiam_lib.data.otb import OTB2013_FOLDERS, OTB2015_FOLDERS, OTB_FRAME_RANGES, otb_names
from sesiam_lib.evaluation import evaluate_otb
from sesiam_lib.evaluation.vot import EAO_RANGES, evaluate_vot
from sesiam_lib.pipeline.__main__ import main as pipeline_main
from sesiam_lib.data import AnnotationError
from sesiam_lib.pipeline.experiment import (MissingSequencesWarning, RunPaths, load_benchmark, truncate_sequence,
                                            write_dry_run_note)

LIMIT_SEQUENCES = 2
LIMIT_FRAMES = 4
DATASETS = ("OTB2013", "OTB2015", "VOT2016", "VOT2017")
VOT_SEQUENCES = {"VOT2016": ["bag", "ball1"], "VOT2017": ["ants1", "ball2"]}
VOT_ABSENT = {"VOT2017": ["zebrafish1"]}  # listed in list.txt, no folder: a dry run lists it in a warning


def _jpeg(index: int, size=(64, 48)) -> bytes:
    """A tiny frame: grey background, a bright square drifting right."""
    w, h = size
    image = np.full((h, w, 3), 90, np.uint8)
    x = 16 + (index % 8)
    image[14:30, x:x + 16] = (40, 200, 230)
    ok, data = cv2.imencode(".jpg", image)
    assert ok
    return data.tobytes()


_FRAMES = [_jpeg(i) for i in range(8)]


def _write_frames(folder: Path, numbers, width: int = 4) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / f"{n:0{width}d}.jpg").write_bytes(_FRAMES[n % len(_FRAMES)])


def _otb_lines(count: int, sep: str = ",") -> str:
    # 1-based x, y, w, h (the square above, shifted by one pixel per frame)
    return "".join(f"{17 + i % 8}{sep}15{sep}16{sep}16\n" for i in range(count))


def make_otb_tree(root: Path) -> Path:
    """Every OTB2015 folder, a few frames each, with the loader's quirks (see sesiam_lib/data/otb.py)."""
    for folder in OTB2015_FOLDERS:
        seq = root / folder
        quirk = OTB_FRAME_RANGES.get(folder)
        if folder == "Tiger1":  # official start frame 6; the annotation file covers frames 1..
            _write_frames(seq / "img", range(1, 11))
            (seq / "groundtruth_rect.txt").write_text(_otb_lines(10))
        elif quirk is not None:  # David 300-770, BlurCar1 247-988, Football1 1-74 (+ extra images) ...
            first, last, _ = quirk
            extra = 2 if first == 1 else 0  # the folder holds more images than the official range
            _write_frames(seq / "img", range(first, last + 1 + extra))
            (seq / "groundtruth_rect.txt").write_text(_otb_lines(last - first + 1, "\t"))
        elif folder == "Board":  # 5-digit names
            _write_frames(seq / "img", range(1, 6), width=5)
            (seq / "groundtruth_rect.txt").write_text(_otb_lines(5, " "))
        elif folder in ("Jogging", "Skating2"):  # two targets
            _write_frames(seq / "img", range(1, 6))
            (seq / "groundtruth_rect.1.txt").write_text(_otb_lines(5))
            (seq / "groundtruth_rect.2.txt").write_text(_otb_lines(5, "\t"))
        elif folder == "Human4":  # only target 2 counts; the .1 file is empty
            _write_frames(seq / "img", range(1, 6))
            (seq / "groundtruth_rect.1.txt").write_text("")
            (seq / "groundtruth_rect.2.txt").write_text(_otb_lines(5))
        else:
            _write_frames(seq / "img", range(1, 6))
            (seq / "groundtruth_rect.txt").write_text(_otb_lines(5))
    return root


def make_vot_tree(root: Path, names, absent=(), color: bool = False, frames: int = 10) -> Path:
    """VOT layout: list.txt, <seq>/groundtruth.txt (8-value polygons), images in <seq>/ or <seq>/color/."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "list.txt").write_text("".join(f"{n}\n" for n in [*names, *absent]))
    for name in names:
        seq = root / name
        _write_frames(seq / "color" if color else seq, range(1, frames + 1), width=8)
        lines = []
        for i in range(frames):  # a slightly rotated square around the drifting target
            cx, cy = 24.5 + i % 8, 22.0
            lines.append(",".join(f"{v:.2f}" for v in (cx - 8, cy - 7, cx + 7, cy - 8, cx + 8, cy + 7, cx - 7, cy + 8)))
        (seq / "groundtruth.txt").write_text("\n".join(lines) + "\n")
        (seq / "occlusion.tag").write_text("0\n1\n" * (frames // 2))
    return root


def make_released_checkpoints(folder: Path) -> dict:
    """Random weights in the release's formats: SE-SiamFC training snapshots with ``module.`` keys (one for OTB,
    one for VOT), a bare SiamFC+ state dict."""
    from sesiam_lib.models import build_model

    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, name in enumerate(("checkpoint_otb.pth", "checkpoint_vot.pth")):
        torch.manual_seed(index)
        state = build_model("se_siamfc_resnet22").state_dict()
        snapshot = {"epoch": 50, "arch": "SESiamFCResNet22",
                    "state_dict": {f"module.{k}": v for k, v in state.items()},
                    "optimizer": {"state": {}, "param_groups": [{"lr": 1e-5, "momentum": 0.9, "params": [0, 1]}]}}
        torch.save(snapshot, folder / name)
        paths[name] = folder / name
    torch.manual_seed(2)
    torch.save(build_model("siamfc_resnet22").state_dict(), folder / "CIResNet22.pth")
    paths["CIResNet22.pth"] = folder / "CIResNet22.pth"
    return paths


def make_benchmark_trees(root: Path) -> dict:
    otb = make_otb_tree(root / "OTB")
    return {"OTB2013": str(otb), "OTB2015": str(otb),
            "VOT2016": str(make_vot_tree(root / "VOT2016", VOT_SEQUENCES["VOT2016"])),
            "VOT2017": str(make_vot_tree(root / "VOT2017", VOT_SEQUENCES["VOT2017"], VOT_ABSENT["VOT2017"],
                                         color=True))}


def run_cli(preset: str, tmp_path: Path, params: dict) -> Path:
    argv = ["--preset", preset, "--results-root", str(tmp_path / "results"), "--work-root", str(tmp_path / "runs")]
    for key, value in {**params, "device": "cpu", "limit_sequences": LIMIT_SEQUENCES,
                       "limit_frames": LIMIT_FRAMES}.items():
        argv += ["-p", f"{key}={json.dumps(value)}"]  # JSON is YAML: what a user types on the command line
    assert pipeline_main(argv) == 0
    return tmp_path / "results" / preset


def check_run(run_dir: Path, roots: dict, trackers: dict) -> None:
    """The run's paper table equals the evaluation of the result files it wrote; the README says DRY RUN."""
    # which sequences a dry run takes: the first N present, their first M frames
    expected_names = {"OTB2013": otb_names("OTB2013")[:LIMIT_SEQUENCES],
                      "OTB2015": otb_names("OTB2015")[:LIMIT_SEQUENCES],
                      "VOT2016": VOT_SEQUENCES["VOT2016"], "VOT2017": VOT_SEQUENCES["VOT2017"]}
    assert OTB2013_FOLDERS[:2] == ("Basketball", "Bolt") and expected_names["OTB2015"] == ["Bird2", "BlurCar1"]
    values = json.loads((run_dir / "benchmark" / "paper_table.json").read_text())
    state = json.loads((run_dir / "pipeline_state.json").read_text())
    vot_options = {"overlap": state["steps"]["04_benchmark"]["parameters"]["vot_overlap"]} \
        if "vot_overlap" in state["steps"]["04_benchmark"]["parameters"] else {}  # the preset's VOT overlap, if set
    table_md = (run_dir / "benchmark" / "paper_table.md").read_text()
    header = table_md.splitlines()[0]
    assert header == "| Tracker | OTB2013 AUC | OTB2015 AUC | VOT2016 EAO | VOT2017 EAO |", header
    rows = {line.split("|")[1].strip(): [c.strip().strip("*") for c in line.split("|")[2:-1]]
            for line in table_md.splitlines()[2:]}
    assert list(rows) == list(trackers), rows
    for dataset in DATASETS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", MissingSequencesWarning)  # VOT2017's absent sequence: expected
            sequences = load_benchmark(dataset, None, roots[dataset], limit_sequences=LIMIT_SEQUENCES,
                                       limit_frames=LIMIT_FRAMES)
        assert [s.name for s in sequences] == expected_names[dataset]
        assert all(len(s) == LIMIT_FRAMES for s in sequences)
        results = run_dir / "tracking" / dataset
        for column, (label, folder) in enumerate(trackers.items()):
            if dataset.startswith("OTB"):
                for seq in sequences:
                    assert len((results / folder / f"{seq.name}.txt").read_text().splitlines()) == LIMIT_FRAMES
                score = evaluate_otb(results, sequences, [folder])[folder].success_auc
                key = f"{dataset} AUC"
            else:
                for seq in sequences:
                    lines = (results / folder / "baseline" / seq.name / f"{seq.name}_001.txt").read_text().splitlines()
                    assert len(lines) == LIMIT_FRAMES and lines[0] == "1"
                low, high = EAO_RANGES[dataset]
                score = evaluate_vot(results / folder, sequences, dataset,
                                     eao_range=(min(low, LIMIT_FRAMES), min(high, LIMIT_FRAMES)), **vot_options)["eao"]
                key = f"{dataset} EAO"
            assert np.isfinite(score)
            assert values[label][key] == pytest.approx(score, abs=1e-12), (label, key)
            assert rows[label][DATASETS.index(dataset)] == f"{score:.3f}", (label, key)
    readme = (run_dir / "README.md").read_text()
    assert "**Status: complete**" in readme
    head = "\n".join(readme.splitlines()[:6])
    assert "DRY RUN" in head and "NOT the benchmarks' numbers" in head, head
    assert "| Tracker | OTB2013 AUC | OTB2015 AUC | VOT2016 EAO | VOT2017 EAO |" in readme
    missing = (run_dir / "tracking" / "VOT2017" / "missing_sequences.md").read_text()
    assert "zebrafish1" in missing


@pytest.mark.slow
def test_released_preset_end_to_end(tmp_path):
    roots = make_benchmark_trees(tmp_path / "data")
    files = make_released_checkpoints(tmp_path / "snapshot")
    se_file = {"OTB2013": str(files["checkpoint_otb.pth"]), "OTB2015": str(files["checkpoint_otb.pth"]),
               "VOT2016": str(files["checkpoint_vot.pth"]), "VOT2017": str(files["checkpoint_vot.pth"])}
    checkpoints = {"SE-SiamFC": {"model": "se_siamfc_resnet22", "checkpoint": se_file},
                   "SiamFC+": {"model": "siamfc_resnet22", "checkpoint": str(files["CIResNet22.pth"])}}
    run_dir = run_cli("released", tmp_path, {"dataset_roots": roots, "checkpoints": checkpoints})
    check_run(run_dir, roots, {"SiamFC+": "SiamFC+", "SE-SiamFC": "SE-SiamFC"})


def make_got10k_tree(root: Path) -> Path:
    from sesiam_lib.data.synthetic import generate_synthetic

    generate_synthetic(root, kind="S-MNIST", split="train", num_sequences=3, num_frames=12, frame_size=96,
                       size_range=(12.0, 36.0), progress=False)
    return root


def make_imagenet_ciresnet22(path: Path) -> Path:
    """A CIResNet-22 state dict as the ImageNet-pretrained file holds it: the trunk's keys (conv1, bn1, layer1,
    layer2), without the model's ``features.features.`` prefix."""
    from sesiam_lib.models import build_model

    torch.manual_seed(3)
    prefix = "features.features."
    state = {k[len(prefix):]: v for k, v in build_model("siamfc_resnet22").state_dict().items() if k.startswith(prefix)}
    assert state and "conv1.weight" in state
    torch.save(state, path)
    return path


TRAIN_OVERRIDES = ["epochs=1", "data.pairs_per_epoch=2", "batch_size=2", "data.num_workers=0",
                   "checkpoint.every_steps=0"]


@pytest.mark.slow
@pytest.mark.parametrize("pretrained", [True, False], ids=["pretrained", "from_scratch"])
def test_paper_preset_end_to_end(tmp_path, pretrained):
    roots = make_benchmark_trees(tmp_path / "data")
    roots["GOT-10k"] = str(make_got10k_tree(tmp_path / "data" / "GOT-10k"))
    overrides = list(TRAIN_OVERRIDES)
    if pretrained:
        overrides.append(f"pretrained={make_imagenet_ciresnet22(tmp_path / 'CIResNet22_PRETRAIN.pth')}")
    run_dir = run_cli("paper", tmp_path, {"dataset_roots": roots, "train_overrides": overrides})
    for model in ("siamfc_resnet22", "se_siamfc_resnet22"):
        checkpoints = tmp_path / "runs" / "paper" / "train" / "GOT-10k" / f"{model}_s0" / "checkpoints"
        assert (checkpoints / "final.pth").is_file() or (checkpoints / "best.pth").is_file()
        config = yaml.safe_load((checkpoints.parent / "config.yaml").read_text())
        assert bool(config["pretrained"]) == pretrained and config["data"]["pairs_per_epoch"] == 2
    check_run(run_dir, roots, {"SiamFC+": "siamfc_resnet22_s0", "SE-SiamFC": "se_siamfc_resnet22_s0"})


# ---------------------------------------------------------------- the dry-run contract, fast


def test_dry_run_limits_skip_missing_sequences_with_a_warning(tmp_path):
    otb = tmp_path / "OTB"
    for folder in ("Basketball", "David", "Bolt2"):  # David: frames 300-770 of a longer folder
        first, last = (300, 772) if folder == "David" else (1, 5)
        _write_frames(otb / folder / "img", range(first, last + 1))
        (otb / folder / "groundtruth_rect.txt").write_text(_otb_lines(471 if folder == "David" else 5))
    with pytest.raises(AnnotationError, match="missing"):
        load_benchmark("OTB2013", None, otb)  # no limit: the whole benchmark is required, as before
    missing = []
    with pytest.warns(MissingSequencesWarning, match="Bolt, Boy"):
        sequences = load_benchmark("OTB2013", None, otb, limit_sequences=5, limit_frames=3, missing=missing)
    assert [s.name for s in sequences] == ["Basketball", "David"]  # the first N *present*, in the official order
    assert [len(s) for s in sequences] == [3, 3] and sequences[1].frames[0].endswith("0300.jpg")
    assert len(missing) == 51 - 2
    with pytest.warns(MissingSequencesWarning):
        assert [s.name for s in load_benchmark("OTB2015", None, otb, limit_frames=2)] == ["Bolt2", "Basketball", "David"]

    vot = make_vot_tree(tmp_path / "VOT", ["bag", "ball1"], absent=["zebrafish1"], frames=8)
    with pytest.raises(AnnotationError, match="zebrafish1"):
        load_benchmark("VOT2016", None, vot)
    with pytest.warns(MissingSequencesWarning, match="zebrafish1"):
        (first, second) = load_benchmark("VOT2016", None, vot, limit_frames=5)
    assert len(first) == 5 and first.polygons.shape == (5, 8)
    assert len(first.attributes["frame_tags"]["occlusion"]) == 5 and first.attributes["truncated_from"] == 8
    assert truncate_sequence(first, 10) is first


def test_dry_run_note_says_so_and_goes_away_without_limits(tmp_path):
    paths = RunPaths("r", tmp_path)
    assert write_dry_run_note(paths, None, None) is None and not (paths.results / "DRY_RUN.md").exists()
    note = write_dry_run_note(paths, 2, 4)
    assert "DRY RUN" in note.read_text() and "NOT the benchmarks' numbers" in note.read_text()
    assert write_dry_run_note(paths, None, None) is None and not note.exists()

"""Bad input: missing / empty data, no valid pairs, wrong-model checkpoints, a full disk, a diverging loss."""

import errno
from pathlib import Path

import numpy as np
import pytest
import torch

from sesiam_lib.training import (
    CheckpointError,
    CheckpointWriteError,
    ConfigError,
    TrainingDataError,
    TrainingDivergedError,
    load_training_checkpoint,
    read_csv_log,
    train,
)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from sesiam_lib.data import generate_synthetic

    root = tmp_path_factory.mktemp("smnist")
    generate_synthetic(root, kind="T-MNIST", split="train", num_sequences=2, num_frames=16, progress=False)
    return root


def tiny_config(data_root, run_dir, **extra):
    # one thread: on a shared 2-core machine two OpenMP threads slow down badly when another process competes
    cfg = {"model": "siamfc_tiny", "epochs": 2, "batch_size": 2, "seed": 0, "device": "cpu", "progress": False,
           "num_threads": 1, "run_dir": str(run_dir), "data": {"root": str(data_root), "pairs_per_epoch": 4}}
    cfg.update(extra)
    return cfg


def test_missing_dataset(tmp_path):
    with pytest.raises(TrainingDataError, match="does not exist"):
        train(tiny_config(tmp_path / "nowhere", tmp_path / "run"))
    (tmp_path / "noval").mkdir()
    with pytest.raises(TrainingDataError, match="has no 'train' split"):
        train(tiny_config(tmp_path / "noval", tmp_path / "run"))
    with pytest.raises(ConfigError, match="data.root is required"):
        train({**tiny_config(None, tmp_path / "run"), "data": {"root": None}})


def test_empty_dataset(tmp_path):
    split = tmp_path / "empty" / "train"
    split.mkdir(parents=True)
    (split / "list.txt").write_text("")
    with pytest.raises(TrainingDataError, match="list"):
        train(tiny_config(tmp_path / "empty", tmp_path / "run"))
    (tmp_path / "nolist" / "train").mkdir(parents=True)
    with pytest.raises(TrainingDataError, match="list.txt"):
        train(tiny_config(tmp_path / "nolist", tmp_path / "run"))


def test_dataset_without_valid_pairs(data_root, tmp_path):
    import shutil

    root = tmp_path / "invalid"
    shutil.copytree(data_root, root)
    for seq in (root / "train").iterdir():
        if seq.is_dir():
            gt = seq / "groundtruth.txt"
            n = len(gt.read_text().splitlines())
            gt.write_text("".join("nan,nan,nan,nan\n" for _ in range(n)))
    with pytest.raises(TrainingDataError, match="no training pair"):
        train(tiny_config(root, tmp_path / "run"))


def test_wrong_model_checkpoints(data_root, tmp_path):
    plain = train(tiny_config(data_root, tmp_path / "plain", epochs=1))
    # resume with another model
    with pytest.raises(CheckpointError, match="written for model 'siamfc_tiny'"):
        train(tiny_config(data_root, tmp_path / "se", model="se_siamfc_tiny", resume=str(plain.last_checkpoint)))
    # pretrained weights of another model
    se = train(tiny_config(data_root, tmp_path / "se2", model="se_siamfc_tiny", epochs=1))
    with pytest.raises(CheckpointError, match="se_siamfc_tiny"):
        train(tiny_config(data_root, tmp_path / "p", pretrained=str(se.final_checkpoint)))
    # a raw state dict of another architecture
    from sesiam_lib.models import build_model

    other = build_model("siamfc_tiny", exemplar_size=63, instance_size=127).state_dict()
    other = {k: v for k, v in other.items() if "layer2" not in k}
    raw = tmp_path / "raw.pth"
    torch.save(other, raw)
    with pytest.raises(CheckpointError, match="missing keys"):
        train(tiny_config(data_root, tmp_path / "q", pretrained=str(raw)))
    # extra keys (e.g. an ImageNet classifier) are left out with a warning when every model key is there
    with_head = dict(torch.load(plain.final_checkpoint, weights_only=True)["model"])
    with_head["fc.weight"] = torch.zeros(10, 128)
    head_file = tmp_path / "with_head.pth"
    torch.save(with_head, head_file)
    extra = train(tiny_config(data_root, tmp_path / "h", pretrained=str(head_file), epochs=1))
    assert "not used by siamfc_tiny" in (extra.run_dir / "train.log").read_text()
    # the model's own weights load (and training starts from them)
    ok = train(tiny_config(data_root, tmp_path / "r", pretrained=str(plain.final_checkpoint), epochs=1))
    assert ok.global_step == 2
    # SE twin from the plain twin's weights: transferred onto the basis (how the release initialised SE-SiamFC)
    se_from_plain = train(tiny_config(data_root, tmp_path / "tr", model="se_siamfc_tiny", epochs=1,
                                      pretrained=str(plain.final_checkpoint)))
    assert "transferred" in (se_from_plain.run_dir / "train.log").read_text()
    # garbage
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="could not read"):
        train(tiny_config(data_root, tmp_path / "s", pretrained=str(junk)))
    with pytest.raises(CheckpointError):
        train(tiny_config(data_root, tmp_path / "t", resume=str(junk)))
    # a weights-only file is not resumable
    with pytest.raises(CheckpointError, match="not a resumable"):
        train(tiny_config(data_root, tmp_path / "u", resume=str(plain.final_checkpoint)))


def test_disk_full_never_overwrites_the_last_good_checkpoint(data_root, tmp_path, monkeypatch):
    cfg = tiny_config(data_root, tmp_path / "run", checkpoint={"every_steps": 1})
    real_save = torch.save
    calls = {"n": 0}
    snapshot = {}

    def flaky_save(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:  # the second checkpoint: write half of it, then the disk is full
            snapshot["last"] = (tmp_path / "run" / "checkpoints" / "last.pth").read_bytes()
            f.write(b"\x00" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", flaky_save)
    with pytest.raises(CheckpointWriteError, match="disk is full.*intact") as err:
        train(cfg)
    assert err.value.errno == errno.ENOSPC
    ckpt_dir = tmp_path / "run" / "checkpoints"
    assert (ckpt_dir / "last.pth").read_bytes() == snapshot["last"]
    assert sorted(p.name for p in ckpt_dir.iterdir()) == ["last.pth"]  # no temporary leftovers
    assert load_training_checkpoint(ckpt_dir / "last.pth")["global_step"] == 1
    monkeypatch.setattr(torch, "save", real_save)
    # space freed: resume from the last good checkpoint and finish
    res = train({**cfg, "resume": True})
    assert res.global_step == 4 and res.resumed_from is not None
    assert [int(r["global_step"]) for r in read_csv_log(res.log_steps)] == [1, 2, 3, 4]


def test_nonfinite_steps_are_skipped_and_counted(data_root, tmp_path, monkeypatch):
    from sesiam_lib.models.siamfc import SiamFC

    real_loss = SiamFC.loss
    calls = {"n": 0}

    def sometimes_nan(self, scores, labels):
        calls["n"] += 1
        loss = real_loss(self, scores, labels)
        return loss * float("nan") if calls["n"] in (2, 3) else loss

    monkeypatch.setattr(SiamFC, "loss", sometimes_nan)
    res = train(tiny_config(data_root, tmp_path / "run", epochs=2))
    assert res.skipped_steps == 2 and res.global_step == 4
    rows = read_csv_log(res.log_steps)
    assert [int(r["skipped"]) for r in rows] == [0, 1, 1, 0]
    epochs = read_csv_log(res.log_epochs)
    assert [int(r["skipped_steps"]) for r in epochs] == [1, 1]
    assert all(np.isfinite(float(r["mean_loss"])) for r in epochs)
    state = torch.load(res.final_checkpoint, weights_only=True)["model"]
    assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point())


def test_divergence_stops_with_a_clear_message(data_root, tmp_path, monkeypatch):
    from sesiam_lib.models.siamfc import SiamFC

    monkeypatch.setattr(SiamFC, "loss", lambda self, s, l: (s * float("inf")).mean())
    cfg = tiny_config(data_root, tmp_path / "run", epochs=3, optim={"max_nonfinite_steps": 3})
    with pytest.raises(TrainingDivergedError, match="3 consecutive steps with a non-finite loss"):
        train(cfg)
    ckpts = Path(cfg["run_dir"]) / "checkpoints"
    # 2 steps per epoch: it stops at global step 3, after the end-of-epoch-1 checkpoint
    assert (ckpts / "epoch_001.pth").exists() and not (ckpts / "final.pth").exists()


def test_unknown_model_and_bad_model_options(data_root, tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'se_siamfc_tinyy'.*'se_siamfc_tiny'"):
        train(tiny_config(data_root, tmp_path / "a", model="se_siamfc_tinyy"))
    with pytest.raises(ConfigError, match="model_kwargs"):
        train(tiny_config(data_root, tmp_path / "b", model_kwargs={"no_such_option": 1}))


def test_load_pretrained_loads_or_transfers(tmp_path):
    from sesiam_lib.models import build_model
    from sesiam_lib.training import load_pretrained

    torch.manual_seed(1)
    plain = build_model("siamfc_tiny")
    path = tmp_path / "plain.pth"
    torch.save({"model": plain.state_dict()}, path)
    target = build_model("siamfc_tiny")
    assert load_pretrained(target, path, "siamfc_tiny") == "loaded"
    for k, v in plain.state_dict().items():
        assert torch.equal(v, target.state_dict()[k]), k
    se = build_model("se_siamfc_tiny")
    assert load_pretrained(se, path, "se_siamfc_tiny") == "transferred"
    key = "features.features.layer1.0.bn1.running_mean"
    assert torch.equal(se.state_dict()[key], plain.state_dict()[key])
    with pytest.raises(FileNotFoundError):
        load_pretrained(target, tmp_path / "missing.pth", "siamfc_tiny")

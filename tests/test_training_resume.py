"""Reproducibility, checkpoints and resuming after a SIGKILL (bitwise equal weights on the CPU)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from sesiam_lib.pipeline.cost import log_segments
from sesiam_lib.training import ConfigError, load_training_checkpoint, plot_training_log, read_csv_log, train


def tiny_config(data_root, run_dir, **extra):
    cfg = {
        "model": "siamfc_tiny", "epochs": 2, "batch_size": 2, "seed": 7, "device": "cpu", "progress": False,
        "num_threads": 1,  # two OpenMP threads slow down badly when another process competes for the 2 cores
        "run_dir": str(run_dir), "data": {"root": str(data_root), "pairs_per_epoch": 6},
    }
    for key, value in extra.items():
        node = cfg
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return cfg


def weights(path):
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def losses(run_dir):
    return [row["loss"] for row in read_csv_log(Path(run_dir) / "log_steps.csv")]


def test_same_seed_same_curve_and_weights(data_root, tmp_path):
    r1 = train(tiny_config(data_root, tmp_path / "a"))
    r2 = train(tiny_config(data_root, tmp_path / "b"))
    assert r1.global_step == r2.global_step == 6 and r1.epochs_completed == 2
    assert losses(r1.run_dir) == losses(r2.run_dir) and len(losses(r1.run_dir)) == 6
    assert_same_weights(weights(r1.final_checkpoint), weights(r2.final_checkpoint))
    r3 = train(tiny_config(data_root, tmp_path / "c", seed=8))
    assert losses(r3.run_dir) != losses(r1.run_dir)

    # run folder layout, checkpoint contents, logs, plot
    ckpt = load_training_checkpoint(r1.last_checkpoint, "siamfc_tiny")
    assert (ckpt["epoch"], ckpt["step"], ckpt["global_step"], ckpt["epoch_complete"]) == (2, 0, 6, True)
    for key in ("model", "optimizer", "rng", "config", "counters"):
        assert key in ckpt
    assert set(ckpt["rng"]) >= {"python", "numpy", "torch"}
    assert ckpt["config"]["seed"] == 7
    assert sorted(p.name for p in (r1.run_dir / "checkpoints").iterdir()) == [
        "epoch_001.pth", "epoch_002.pth", "final.pth", "last.pth"]
    assert (r1.run_dir / "config.yaml").is_file()
    rows = read_csv_log(r1.log_epochs)
    assert [int(r["epoch"]) for r in rows] == [1, 2] and r1.history == rows
    assert float(rows[1]["lr"]) == pytest.approx(1e-5) and float(rows[0]["lr"]) == pytest.approx(1e-2)
    # the models helper's loader reads the weights of a training checkpoint
    from sesiam_lib.models import build_model

    model = build_model("siamfc_tiny")
    model.load_state_dict(weights(r1.final_checkpoint))
    fig = plot_training_log(r1.run_dir)
    assert len(fig.axes) >= 2
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_existing_run_folder_needs_resume_or_overwrite(data_root, tmp_path):
    cfg = tiny_config(data_root, tmp_path / "run", epochs=1, **{"data.pairs_per_epoch": 2})
    train(cfg)
    with pytest.raises(ConfigError, match="already holds checkpoints"):
        train(cfg)
    again = train({**cfg, "resume": True})  # complete: nothing to do, same result
    assert again.epochs_completed == 1 and again.global_step == 1 and again.resumed_from is not None
    # other settings are another run: resuming it is refused, naming what differs, and nothing is written
    final = (tmp_path / "run" / "checkpoints" / "final.pth").read_bytes()
    config_yaml = (tmp_path / "run" / "config.yaml").read_text()
    for change, field in (({"epochs": 2}, "config.epochs"), ({"optim": {"lr_start": 0.5}}, "config.optim.lr_start")):
        for resume in (True, "auto"):
            with pytest.raises(ConfigError, match=rf"differing: {field}.*overwrite=true"):
                train({**cfg, "resume": resume, **change})
    assert (tmp_path / "run" / "checkpoints" / "final.pth").read_bytes() == final
    assert (tmp_path / "run" / "config.yaml").read_text() == config_yaml
    # where and how visibly it runs is not a setting of the run
    same = train({**cfg, "resume": "auto", "progress": False, "checkpoint": {"keep_last": 5}})
    assert same.global_step == 1 and same.resumed_from is not None
    fresh = train({**cfg, "overwrite": True})
    assert fresh.global_step == 1 and fresh.resumed_from is None
    with pytest.raises(FileNotFoundError, match="holds no training checkpoint"):
        train({**cfg, "run_dir": str(tmp_path / "empty"), "resume": True})


def test_restart_changed_trains_a_changed_run_afresh_and_only_that(data_root, tmp_path):
    from sesiam_lib.training.provenance import ChangedRunError

    cfg = {**tiny_config(data_root, tmp_path / "run", epochs=1, **{"data.pairs_per_epoch": 2}), "resume": "auto"}
    train(cfg)
    changed = {**cfg, "optim": {"lr_start": 0.5}}
    with pytest.raises(ChangedRunError, match="differing: config.optim.lr_start"):
        train(changed)  # the default still refuses to mix two runs
    restarted = train(changed, restart_changed=True)
    assert restarted.resumed_from is None and restarted.global_step == 1
    fresh = train({**changed, "run_dir": str(tmp_path / "fresh")})
    assert_same_weights(weights(restarted.final_checkpoint), weights(fresh.final_checkpoint))
    # the same settings again: resumed (nothing to do), not restarted
    again = train(changed, restart_changed=True)
    assert again.resumed_from is not None
    # any other configuration error still stops
    with pytest.raises(ConfigError, match="batch_size"):
        train({**changed, "batch_size": 0}, restart_changed=True)


def test_keep_last_rotates_epoch_files(data_root, tmp_path):
    r = train(tiny_config(data_root, tmp_path / "run", epochs=3, **{"checkpoint.keep_last": 1,
                                                                    "data.pairs_per_epoch": 2}))
    names = sorted(p.name for p in (r.run_dir / "checkpoints").iterdir())
    assert names == ["epoch_003.pth", "final.pth", "last.pth"]


def _run_cli(args, env):
    return subprocess.Popen([sys.executable, "-m", "sesiam_lib.training", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_sigkill_then_resume_gives_bitwise_equal_weights(data_root, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    common = ["model=se_siamfc_tiny", f"data.root={data_root}", "epochs=3", "batch_size=2",
              "data.pairs_per_epoch=8", "seed=3", "device=cpu", "progress=false", "checkpoint.every_steps=3",
              "num_threads=1"]
    # reference: uninterrupted
    ref = _run_cli(common + [f"run_dir={tmp_path / 'ref'}"], env)
    out, _ = ref.communicate(timeout=300)
    assert ref.returncode == 0, out

    # interrupted: SIGKILL right after the first mid-epoch checkpoint (global step 3) appears
    run_dir = tmp_path / "killed"
    proc = _run_cli(common + [f"run_dir={run_dir}"], env)
    last = run_dir / "checkpoints" / "last.pth"
    deadline = time.time() + 240
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=60)
    assert last.exists(), out
    assert not (run_dir / "checkpoints" / "final.pth").exists(), "the run finished before it could be killed"
    killed_at = load_training_checkpoint(last)["global_step"]
    assert 3 <= killed_at < 12

    resumed = _run_cli(common + [f"run_dir={run_dir}", "resume=true"], env)
    out, _ = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, out
    assert "resumed from" in (run_dir / "train.log").read_text()
    # the cost report counts each process's time apart (sesiam_lib.pipeline.cost reads the trainer's start line)
    assert len(log_segments(run_dir / "train.log")) == 3  # the killed process; the resuming one opens two

    assert_same_weights(weights(tmp_path / "ref" / "checkpoints" / "final.pth"),
                        weights(run_dir / "checkpoints" / "final.pth"))
    ref_last = load_training_checkpoint(tmp_path / "ref" / "checkpoints" / "last.pth")
    new_last = load_training_checkpoint(run_dir / "checkpoints" / "last.pth")
    for key, value in ref_last["optimizer"]["state"].items():
        assert torch.equal(value["momentum_buffer"], new_last["optimizer"]["state"][key]["momentum_buffer"])
    # the logs read like the uninterrupted run's
    assert losses(tmp_path / "ref") == losses(run_dir)
    assert [r["mean_loss"] for r in read_csv_log(tmp_path / "ref" / "log_epochs.csv")] == [
        r["mean_loss"] for r in read_csv_log(run_dir / "log_epochs.csv")]


def train_until_crash(cfg, crash_at_call, monkeypatch):
    """Run ``train(cfg)`` with a KeyboardInterrupt raised at the ``crash_at_call``-th training step."""
    from sesiam_lib.training import trainer as trainer_mod

    real_step = trainer_mod.Trainer._train_step
    calls = {"n": 0}

    def crashing_step(self, batch):
        calls["n"] += 1
        if calls["n"] == crash_at_call:
            raise KeyboardInterrupt
        return real_step(self, batch)

    with monkeypatch.context() as patch:
        patch.setattr(trainer_mod.Trainer, "_train_step", crashing_step)
        with pytest.raises(KeyboardInterrupt):
            train(cfg)


def test_in_process_resume_from_mid_epoch_checkpoint(data_root, tmp_path, monkeypatch):
    """Resuming from a mid-epoch checkpoint of a run stopped by an exception gives the same weights."""
    ref = train(tiny_config(data_root, tmp_path / "ref", **{"checkpoint.every_steps": 2}))
    cfg = tiny_config(data_root, tmp_path / "run", **{"checkpoint.every_steps": 2})
    train_until_crash(cfg, 5, monkeypatch)  # step 5: after the checkpoint at global step 4 (mid epoch 2)
    ck = load_training_checkpoint(tmp_path / "run" / "checkpoints" / "last.pth")
    assert (ck["epoch"], ck["step"], ck["global_step"]) == (1, 1, 4)
    res = train({**cfg, "resume": "auto"})
    assert res.resumed_from is not None and res.global_step == 6
    assert_same_weights(weights(ref.final_checkpoint), weights(res.final_checkpoint))
    assert losses(ref.run_dir) == losses(res.run_dir)


def test_gradual_unfreeze_run_and_resume_across_a_stage_change(data_root, tmp_path, monkeypatch):
    """Gradual unfreezing (tiny twin): stages per epoch, momentum reset at a stage change, also after resume."""
    extra = {"unfreeze.mode": "gradual", "epochs": 3, "data.pairs_per_epoch": 4}
    ref = train(tiny_config(data_root, tmp_path / "ref", **extra))
    rows = read_csv_log(ref.log_epochs)
    assert [int(r["unfreeze_stage"]) for r in rows] == [3, 5, 6]
    trainable = [int(r["trainable_params"]) for r in rows]
    assert trainable[0] < trainable[1] <= trainable[2]

    cfg = tiny_config(data_root, tmp_path / "run", **extra)
    train_until_crash(cfg, 3, monkeypatch)  # step 3: first of epoch 2, right after the end-of-epoch-1 checkpoint
    res = train({**cfg, "resume": True})
    assert res.resumed_from is not None
    assert_same_weights(weights(ref.final_checkpoint), weights(res.final_checkpoint))


def test_validation_records_the_best_epoch(data_root, tmp_path):
    cfg = tiny_config(data_root, tmp_path / "run", **{
        "validation.enabled": True, "validation.max_sequences": 1, "validation.max_frames": 6,
        "data.pairs_per_epoch": 2})
    res = train(cfg)
    rows = read_csv_log(res.log_epochs)
    aucs = [float(r["val_auc"]) for r in rows]
    assert len(aucs) == 2 and all(0.0 <= a <= 1.0 for a in aucs)
    assert res.best_epoch == 1 + aucs.index(max(aucs)) and res.best_metric == pytest.approx(max(aucs))
    assert res.best_checkpoint is not None and res.best_checkpoint.is_file()
    best = load_training_checkpoint(res.best_checkpoint)
    assert best["epoch"] == res.best_epoch  # position after the best epoch
    fig = plot_training_log(res.run_dir)
    assert len(fig.axes) == 3  # loss, lr, validation AUC
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_bf16_autocast_on_cpu(data_root, tmp_path):
    res = train(tiny_config(data_root, tmp_path / "run", amp="bf16", epochs=1, **{"data.pairs_per_epoch": 4}))
    rows = read_csv_log(res.log_steps)
    assert len(rows) == 2 and all(float(r["loss"]) > 0 for r in rows) and res.skipped_steps == 0


def test_dataloader_workers_give_the_same_run(data_root, tmp_path):
    a = train(tiny_config(data_root, tmp_path / "a", epochs=1, **{"data.pairs_per_epoch": 4}))
    b = train(tiny_config(data_root, tmp_path / "b", epochs=1, **{"data.pairs_per_epoch": 4,
                                                                  "data.num_workers": 2}))
    assert losses(a.run_dir) == losses(b.run_dir)
    assert_same_weights(weights(a.final_checkpoint), weights(b.final_checkpoint))


def test_paper_recipe_on_the_tiny_twins(data_root, tmp_path):
    """The paper preset's code path (GOT-10k layout, transferred pretrained weights, gradual unfreezing, circular
    padding for SE) on the tiny twins and the synthetic data, which uses the GOT-10k layout."""
    plain = train(tiny_config(data_root, tmp_path / "plain", epochs=1, **{"data.pairs_per_epoch": 2}))
    overrides = [f"data.root={data_root}", f"run_dir={tmp_path / 'se'}", "device=cpu", "progress=false",
                 "num_threads=1", "epochs=2", "batch_size=2", "data.pairs_per_epoch=4", "data.num_workers=0",
                 "checkpoint.every_steps=0", "model=se_siamfc_tiny", f"pretrained={plain.final_checkpoint}"]
    res = train(preset="paper", overrides=overrides)
    assert res.global_step == 4
    log_text = (res.run_dir / "train.log").read_text()
    assert "transferred" in log_text
    assert [int(r["unfreeze_stage"]) for r in read_csv_log(res.log_epochs)] == [4, 6]
    # SiamFC+ with the same preset: padding_mode (an SE option) is ignored, the plain weights load directly
    overrides[1] = f"run_dir={tmp_path / 'plus'}"
    overrides[-2:] = ["model=siamfc_tiny", f"pretrained={plain.final_checkpoint}"]
    res = train(preset="paper", overrides=overrides)
    assert res.global_step == 4 and "initial weights loaded" in (res.run_dir / "train.log").read_text()

"""Several processes through torchrun (DistributedDataParallel, gloo on the CPU): the multi-GPU code path."""

import os
import subprocess
import sys

import pytest
import torch

from sesiam_lib.training import load_training_checkpoint, read_csv_log


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from sesiam_lib.data import generate_synthetic

    root = tmp_path_factory.mktemp("ddp_data")
    generate_synthetic(root, kind="T-MNIST", split="train", num_sequences=2, num_frames=16, progress=False)
    return root


def torchrun(args, timeout=240):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "sesiam_lib.training", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_torchrun_two_processes_gloo(data_root, tmp_path):
    run_dir = tmp_path / "ddp"
    common = ["model=siamfc_tiny", f"data.root={data_root}", "batch_size=2", "data.pairs_per_epoch=8",
              "device=cpu", "progress=false", f"run_dir={run_dir}", "checkpoint.every_steps=1",
              "unfreeze.mode=gradual"]  # stage changes rebuild the DDP wrapper
    out = torchrun(common + ["epochs=3"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    # 8 pairs per epoch over 2 processes x 2 pairs per step -> 2 steps per epoch; only rank 0 logs
    rows = read_csv_log(run_dir / "log_steps.csv")
    assert [int(r["global_step"]) for r in rows] == [1, 2, 3, 4, 5, 6]
    assert [int(r["unfreeze_stage"]) for r in read_csv_log(run_dir / "log_epochs.csv")] == [3, 5, 6]
    ckpt = load_training_checkpoint(run_dir / "checkpoints" / "epoch_002.pth", "siamfc_tiny")
    assert ckpt["world_size"] == 2 and ckpt["global_step"] == 4 and ckpt["epoch"] == 2
    assert not any(k.startswith("module.") for k in ckpt["model"])  # the unwrapped model's keys
    assert "2 processes" in (run_dir / "train.log").read_text()

    # every process resumes from the epoch-2 checkpoint of the same run and the run goes on
    out = torchrun(common + ["epochs=3", f"resume={run_dir / 'checkpoints' / 'epoch_002.pth'}"])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    final = torch.load(run_dir / "checkpoints" / "final.pth", weights_only=True)
    assert final["global_step"] == 6
    assert all(torch.isfinite(v).all() for v in final["model"].values() if v.is_floating_point())
    assert [int(r["epoch"]) for r in read_csv_log(run_dir / "log_epochs.csv")] == [1, 2, 3]

"""Training throughput (pairs/s) of the tiny and full models, on this CPU and on CUDA when available.

Two measurements per model and device:

- ``step``: the optimisation step alone (forward, balanced BCE, backward, clipping, SGD) on random crops of the
  model's sizes -- what the network costs;
- ``train``: :func:`sesiam_lib.training.train` end to end on a small synthetic S-MNIST set generated into a
  temporary folder (pair sampling, crops, augmentation, DataLoader with ``--workers`` workers, logging) -- what a
  training run gets. Computed from ``log_steps.csv`` after the warm-up steps.

Usage::

    python benchmarks/bench_training.py                       # tiny + full models, CPU (+ CUDA if present)
    python benchmarks/bench_training.py --models siamfc_tiny --steps 20 --batch 16
    python benchmarks/bench_training.py --device cuda --amp bf16

Full models on the CPU use batch 2 and 2 timed steps so that the script ends in a few minutes on a 2-core CPU
(one full-model step takes seconds there). The machine this was written on is shared: run it when it is quiet,
and compare ``OMP_NUM_THREADS=1`` with 2 (two threads collapse when another process competes for the cores).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from sesiam_lib.models import build_model
from sesiam_lib.training import read_csv_log, train

TINY = ("siamfc_tiny", "se_siamfc_tiny")
FULL = ("siamfc_resnet22", "se_siamfc_resnet22")


def bench_step(name: str, device: str, batch: int, steps: int, warmup: int, amp: str) -> float:
    """Pairs/s of the bare optimisation step on random inputs."""
    torch.manual_seed(0)
    model = build_model(name).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    e, i, s = model.exemplar_size, model.instance_size, model.score_size
    z = torch.rand(batch, 3, e, e, device=device) * 255
    x = torch.rand(batch, 3, i, i, device=device) * 255
    label = (torch.rand(batch, 1, s, s, device=device) > 0.9).float()
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=torch.device(device).type, dtype=dtype, enabled=dtype is not None):
            scores = model(z, x)
        loss = model.loss(scores.float(), label)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        opt.step()

    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def bench_train(name: str, device: str, batch: int, steps: int, warmup: int, amp: str, workers: int,
                data_root: Path, work: Path) -> float:
    """Pairs/s of :func:`train` end to end (data included), from its step log after ``warmup`` steps."""
    run_dir = work / f"{name}_{device.replace(':', '')}_{amp}"
    result = train({
        "model": name, "epochs": 1, "batch_size": batch, "seed": 0, "device": device, "amp": amp,
        "progress": False, "run_dir": str(run_dir), "overwrite": True,
        "data": {"root": str(data_root), "pairs_per_epoch": batch * (steps + warmup), "num_workers": workers},
    })
    rows = read_csv_log(result.log_steps)
    times = [float(r["time_s"]) for r in rows]
    timed = len(times) - warmup
    return batch * timed / (times[-1] - times[warmup - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=list(TINY + FULL))
    parser.add_argument("--device", nargs="*", default=None, help="cpu and/or cuda (default: cpu, + cuda if present)")
    parser.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"])
    parser.add_argument("--batch", type=int, default=None, help="default: 8 (tiny), 2 (full, CPU), 24 (full, CUDA)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (default: 10; full models on CPU: 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed steps first (default: 2; full on CPU: 1)")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the end-to-end run")
    parser.add_argument("--skip-train", action="store_true", help="only the bare step")
    args = parser.parse_args()
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", CUDA {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data_root = work / "smnist"
        if not args.skip_train:
            from sesiam_lib.data import generate_synthetic

            generate_synthetic(data_root, kind="S-MNIST", split="train", num_sequences=4, num_frames=60,
                               progress=False)
        header = (f"{'model':<20} {'device':<6} {'amp':<5} {'batch':>5} {'steps':>5} {'step pairs/s':>13} "
                  f"{'train pairs/s':>14}")
        print(header)
        print("-" * len(header))
        for device in devices:
            for name in args.models:
                full_cpu = name in FULL and not device.startswith("cuda")
                batch = args.batch or (8 if name not in FULL else (2 if full_cpu else 24))
                steps = args.steps or (2 if full_cpu else 10)
                warmup = args.warmup if args.warmup is not None else (1 if full_cpu else 2)
                step_rate = bench_step(name, device, batch, steps, warmup, args.amp)
                train_rate = float("nan")
                if not args.skip_train:
                    train_rate = bench_train(name, device, batch, steps, max(warmup, 1), args.amp, args.workers,
                                             data_root, work)
                print(f"{name:<20} {device:<6} {args.amp:<5} {batch:>5} {steps:>5} {step_rate:>13.1f} "
                      f"{train_rate:>14.1f}", flush=True)


if __name__ == "__main__":
    main()

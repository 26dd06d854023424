"""Training throughput of SiamFC+ and SE-SiamFC (reference and fast scale layers), measured side by side.

Default run (one process, CPU, + CUDA when present): the bare optimisation step -- forward, balanced BCE, backward,
gradient clipping, SGD -- on random crops of each model's sizes, for

- ``siamfc_tiny``, ``se_siamfc_tiny`` with ``sesn_impl='reference'`` and with ``sesn_impl='fast'``;
- the full models ``siamfc_resnet22``, ``se_siamfc_resnet22`` (reference and fast), with fewer repeats.

The variants of one group run **interleaved** (one step of each in turn, ``--repeats`` rounds after a warm-up), so
that a shared, noisy machine slows them alike; the table gives the median step time and pairs/s, then the ratios
that matter: SE-fast / SE-reference speed-up and the SE-fast / SiamFC+ step-time ratio. Medians of interleaved
rounds are what to compare; absolute times vary with the load.

Every row also gives the step's convolution/matmul work (``GFLOP``, counted by
:class:`torch.utils.flop_counter.FlopCounterMode` over forward + backward) and the rate it ran at (``GFLOP/s``), and
each group ends with the FLOP ratios beside the time ratios: the fast layers only drop the exact-zero taps of the
small scales, so the reference / fast FLOP ratio is what per-layer rewriting can give at equal efficiency.
``--breakdown`` splits each tiny model's step time by kind of operator (convolutions forward and backward,
batch norm, element-wise, pooling, other) -- where the time that is not convolution goes.

Options: ``--profile`` adds a :mod:`torch.profiler` summary (top operators by self time) of the fast SE tiny step;
``--compile`` adds ``torch.compile``-d twins of the tiny models (compile time excluded; on the CPU here they were
slower than eager);
``--end-to-end`` adds :func:`sesiam_lib.training.train` on a small synthetic S-MNIST set (pair sampling, crops,
augmentation, DataLoader, logging), pairs/s from its step log after the warm-up steps.

Usage::

    python benchmarks/bench_training.py                         # tiny (batch 16) + full (batch 2 on CPU)
    python benchmarks/bench_training.py --groups tiny --repeats 10 --profile
    python benchmarks/bench_training.py --device cuda --amp bf16 --batch-full 24
    OMP_NUM_THREADS=1 python benchmarks/bench_training.py       # two threads collapse when the cores are shared
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from sesiam_lib.models import build_model

TINY = ("siamfc_tiny", "se_siamfc_tiny")
FULL = ("siamfc_resnet22", "se_siamfc_resnet22")
GROUPS = {
    "tiny": [("siamfc_tiny", None), ("se_siamfc_tiny", "reference"), ("se_siamfc_tiny", "fast")],
    "full": [("siamfc_resnet22", None), ("se_siamfc_resnet22", "reference"), ("se_siamfc_resnet22", "fast")],
}


def label(name: str, impl: str | None) -> str:
    return name if impl is None else f"{name}[{impl}]"


def make_step(name: str, impl: str | None, device: str, batch: int, amp: str, seed: int = 0,
              compiled: bool = False):
    """A closure running one optimisation step of ``name`` on fixed random inputs (and the model); with
    ``compiled`` the forward runs through ``torch.compile`` (compiled on the first call)."""
    torch.manual_seed(seed)
    options = {} if impl is None else {"sesn_impl": impl}
    model = build_model(name, **options).to(device).train()
    forward = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    e, i, s = model.exemplar_size, model.instance_size, model.score_size
    g = torch.Generator().manual_seed(seed)
    z = (torch.rand(batch, 3, e, e, generator=g) * 255).to(device)
    x = (torch.rand(batch, 3, i, i, generator=g) * 255).to(device)
    labels = (torch.rand(batch, 1, s, s, generator=g) > 0.9).float().to(device)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
    dev_type = torch.device(device).type
    scaler = torch.amp.GradScaler(dev_type) if amp == "fp16" and dev_type == "cuda" else None

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=dev_type, dtype=dtype, enabled=dtype is not None):
            scores = forward(z, x)
        loss = model.loss(scores.float(), labels)
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(opt)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
            opt.step()
        return float(loss.detach())

    return step, model


def step_gflop(step) -> float:
    """Convolution and matmul GFLOP of one call of ``step`` (forward and backward; element-wise ops not counted)."""
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops() / 1e9


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def interleaved(steps: dict, device: str, repeats: int, warmup: int) -> dict[str, list[float]]:
    """Seconds per step of each closure, measured in ``repeats`` rounds of one step each, in turn."""
    for _ in range(warmup):
        for fn in steps.values():
            fn()
    _sync(device)
    times: dict[str, list[float]] = {k: [] for k in steps}
    for r in range(repeats):
        order = list(steps) if r % 2 == 0 else list(steps)[::-1]  # alternate the order: no position bias
        for key in order:
            _sync(device)
            t0 = time.perf_counter()
            steps[key]()
            _sync(device)
            times[key].append(time.perf_counter() - t0)
    return times


def run_group(group: str, device: str, batch: int, repeats: int, warmup: int, amp: str,
              compiled: bool = False) -> dict:
    variants = [(name, impl, False) for name, impl in GROUPS[group]]
    if compiled:
        variants += [(name, impl, True) for name, impl in GROUPS[group] if impl != "reference"]
    steps, gflop = {}, {}
    for name, impl, comp in variants:
        key = label(name, impl) + ("+compile" if comp else "")
        steps[key] = make_step(name, impl, device, batch, amp, compiled=comp)[0]
        gflop[key] = step_gflop(steps[key])  # also the compiled twins' (long) first call, outside the timing
    times = interleaved(steps, device, repeats, warmup)
    med = {k: statistics.median(v) for k, v in times.items()}
    plain, se_ref, se_fast = (label(*v) for v in GROUPS[group])
    for key in steps:
        print(f"{key:34s} {device:6s} {amp:5s} {batch:5d} {repeats:7d} {1000 * med[key]:11.1f} "
              f"{1000 * min(times[key]):9.1f} {batch / med[key]:10.1f} {gflop[key]:7.2f} "
              f"{gflop[key] / med[key]:8.1f}", flush=True)
    ratios = {
        "se_fast_speedup_vs_reference": med[se_ref] / med[se_fast],
        "se_fast_over_plain": med[se_fast] / med[plain],
        "se_reference_over_plain": med[se_ref] / med[plain],
        "flop_reference_over_fast": gflop[se_ref] / gflop[se_fast],
        "flop_se_fast_over_plain": gflop[se_fast] / gflop[plain],
    }
    print(f"  -> {group}: SE fast / SE reference speed-up {ratios['se_fast_speedup_vs_reference']:.2f}x "
          f"(FLOP ratio {ratios['flop_reference_over_fast']:.2f}); step-time ratio SE-fast / SiamFC+ "
          f"{ratios['se_fast_over_plain']:.2f} (FLOP ratio {ratios['flop_se_fast_over_plain']:.2f}; "
          f"SE-reference / SiamFC+ {ratios['se_reference_over_plain']:.2f})", flush=True)
    return {"median_s": med, "times_s": times, "gflop": gflop, "ratios": ratios}


def profile_step(name: str, impl: str | None, device: str, batch: int, amp: str, steps: int = 3,
                 row_limit: int = 20) -> str:
    """A torch.profiler table (self time per operator) of ``steps`` optimisation steps."""
    from torch.profiler import ProfilerActivity, profile

    step, _ = make_step(name, impl, device, batch, amp)
    step()
    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.startswith("cuda") else [])
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
        _sync(device)
    sort = "self_cuda_time_total" if device.startswith("cuda") else "self_cpu_time_total"
    return prof.key_averages().table(sort_by=sort, row_limit=row_limit)


OPERATOR_KINDS = (  # (kind, substrings of aten operator names), first match wins
    ("convolution backward", ("convolution_backward",)),
    ("convolution forward", ("convolution", "conv2d", "conv3d", "mkldnn_conv")),
    ("batch norm", ("batch_norm",)),
    ("pooling (spatial, scale max)", ("max_pool", "aten::max", "scatter")),
    ("element-wise (relu, add, fill, copy)", ("threshold", "relu", "clamp", "add", "mul", "fill_", "copy_",
                                             "zero_", "cat", "where")),
)


def time_breakdown(name: str, impl: str | None, device: str, batch: int, amp: str, steps: int = 3) -> dict:
    """Milliseconds per step by kind of operator (:data:`OPERATOR_KINDS`, profiler self time; 'other' the rest)."""
    from torch.profiler import ProfilerActivity, profile

    step, _ = make_step(name, impl, device, batch, amp)
    step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    kinds = {kind: 0.0 for kind, _ in OPERATOR_KINDS} | {"other": 0.0}
    for event in prof.key_averages():
        kind = next((k for k, keys in OPERATOR_KINDS if any(p in event.key for p in keys)), "other")
        kinds[kind] += event.self_cpu_time_total / 1000 / steps
    return kinds


def print_breakdown(device: str, batch: int, amp: str) -> None:
    rows = {label(n, i): time_breakdown(n, i, device, batch, amp) for n, i in GROUPS["tiny"]}
    names = list(rows)
    print(f"\nwhere the step time goes (ms per step, profiler self time, {device}, batch {batch}; "
          "SE-fast / SiamFC+ per kind):")
    print(f"{'kind':38s}" + "".join(f"{n:>28s}" for n in names) + f"{'SE-fast/plain':>15s}")
    for kind in rows[names[0]]:
        values = [rows[n][kind] for n in names]
        ratio = values[2] / values[0] if values[0] else float("nan")
        print(f"{kind:38s}" + "".join(f"{v:28.1f}" for v in values) + f"{ratio:15.2f}")
    totals = [sum(rows[n].values()) for n in names]
    print(f"{'total':38s}" + "".join(f"{v:28.1f}" for v in totals) + f"{totals[2] / totals[0]:15.2f}")


def bench_train(name: str, device: str, batch: int, steps: int, warmup: int, amp: str, workers: int,
                data_root: Path, work: Path, impl: str | None = None) -> float:
    """Pairs/s of :func:`train` end to end (data included), from its step log after ``warmup`` steps."""
    from sesiam_lib.training import read_csv_log, train

    run_dir = work / f"{label(name, impl)}_{device.replace(':', '')}_{amp}"
    result = train({
        "model": name, "model_kwargs": {} if impl is None else {"sesn_impl": impl}, "epochs": 1,
        "batch_size": batch, "seed": 0, "device": device, "amp": amp, "progress": False, "run_dir": str(run_dir),
        "overwrite": True,
        "data": {"root": str(data_root), "pairs_per_epoch": batch * (steps + warmup), "num_workers": workers},
    })
    rows = read_csv_log(result.log_steps)
    times = [float(r["time_s"]) for r in rows]
    timed = len(times) - warmup
    return batch * timed / (times[-1] - times[warmup - 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="*", default=["tiny", "full"], choices=sorted(GROUPS))
    parser.add_argument("--device", nargs="*", default=None, help="cpu and/or cuda (default: cpu, + cuda if present)")
    parser.add_argument("--amp", default="none", choices=["none", "bf16", "fp16"])
    parser.add_argument("--batch-tiny", type=int, default=16)
    parser.add_argument("--batch-full", type=int, default=None, help="default: 2 on the CPU, 24 on CUDA")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default: tiny 8, full 2 on CPU)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    parser.add_argument("--profile", action="store_true", help="profile the fast SE tiny step (top operators)")
    parser.add_argument("--breakdown", action="store_true", help="step time by kind of operator, tiny models")
    parser.add_argument("--compile", action="store_true", help="add torch.compile-d tiny models (plain, SE fast)")
    parser.add_argument("--end-to-end", action="store_true", help="also time train() end to end, tiny models")
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the end-to-end run")
    parser.add_argument("--skip-train", action="store_true", help=argparse.SUPPRESS)  # old flag: now the default
    args = parser.parse_args()
    devices = args.device or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
          + (f", CUDA {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""))
    header = (f"{'model[sesn_impl]':34s} {'device':6s} {'amp':5s} {'batch':>5s} {'repeats':>7s} "
              f"{'median ms':>11s} {'min ms':>9s} {'pairs/s':>10s} {'GFLOP':>7s} {'GFLOP/s':>8s}")
    print(header)
    print("-" * len(header))
    results = {}
    for device in devices:
        cuda = device.startswith("cuda")
        for group in args.groups:
            full = group == "full"
            batch = (args.batch_full or (24 if cuda else 2)) if full else args.batch_tiny
            repeats = args.repeats or (2 if full and not cuda else 8)
            results[(device, group)] = run_group(group, device, batch, repeats, args.warmup, args.amp,
                                                 compiled=args.compile and not full)

    if args.breakdown:
        for device in devices:
            print_breakdown(device, args.batch_tiny, args.amp)

    if args.profile:
        for device in devices:
            print(f"\nprofile: se_siamfc_tiny[fast], {device}, batch {args.batch_tiny}, 3 steps")
            print(profile_step("se_siamfc_tiny", "fast", device, args.batch_tiny, args.amp))

    if args.end_to_end:
        from sesiam_lib.data import generate_synthetic

        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            data_root = work / "smnist"
            generate_synthetic(data_root, kind="S-MNIST", split="train", num_sequences=4, num_frames=60,
                               progress=False)
            print("\nend to end (train(), synthetic S-MNIST, batch 8, 10 steps after 2): pairs/s")
            for device in devices:
                for name, impl in GROUPS["tiny"]:
                    rate = bench_train(name, device, 8, 10, 2, args.amp, args.workers, data_root, work, impl)
                    print(f"{label(name, impl):34s} {device:6s} {rate:10.1f}", flush=True)


if __name__ == "__main__":
    main()

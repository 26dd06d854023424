"""Tracking-forward speed and peak memory of SiamFC+ and SE-SiamFC: reference vs fast path.

One "frame" is the tracker's per-frame network call: ``track(x)`` with 3 search crops (the 3-scale pyramid)
against a cached template. The reference path is the model as built (straightforward SESN layers, eval mode);
the fast path is :func:`sesiam_lib.models.optimize_for_inference`. Runs are interleaved (reference, fast,
reference, ...) so that a shared, noisy machine affects both alike; the table reports the median and the
best wall time per frame, frames/s from the median, the process CPU time per frame, the fast/reference
speed-up and the SE-SiamFC / SiamFC+ time ratio of each path.

Peak memory of one tracking forward is measured in a fresh subprocess per (model, path), after the template
and one warm-up forward: on CPU the peak resident set size during the forward minus the resident size before
it, with glibc told to mmap (and unmap on free) every allocation of 64 KiB or more so that the resident size
follows the live tensors (Linux: the peak ``VmHWM`` is reset through ``/proc/self/clear_refs``; elsewhere the growth of
``resource.getrusage(...).ru_maxrss``, which misses peaks below earlier ones), on CUDA
``torch.cuda.max_memory_allocated`` during the forward minus the memory allocated before it.

Usage::

    python benchmarks/bench_models.py                      # CPU, 2 threads, full + tiny models
    python benchmarks/bench_models.py --models se_siamfc_tiny siamfc_tiny --repeats 50
    python benchmarks/bench_models.py --device cuda        # when a GPU is present (CUDA is added by default)
    python benchmarks/bench_models.py --json results/bench_models.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch

from sesiam_lib.models import build_model, optimize_for_inference

PAIRS = [("siamfc_resnet22", "se_siamfc_resnet22"), ("siamfc_tiny", "se_siamfc_tiny")]
NUM_CROPS = 3


def _inputs(model, device):
    g = torch.Generator().manual_seed(0)
    z = torch.rand(1, 3, model.exemplar_size, model.exemplar_size, generator=g) * 255
    x = torch.rand(NUM_CROPS, 3, model.instance_size, model.instance_size, generator=g) * 255
    return z.to(device), x.to(device)


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_models(name: str, device: torch.device, repeats: int, warmup: int = 2) -> dict:
    """Interleaved timing of the reference and fast path of one model."""
    ref = build_model(name).to(device).eval()
    fast = optimize_for_inference(ref)
    z, x = _inputs(ref, device)
    paths = {"reference": ref, "fast": fast}
    wall = {k: [] for k in paths}
    cpu = {k: [] for k in paths}
    with torch.no_grad():
        for m in paths.values():
            m.template(z)
            for _ in range(warmup):
                m.track(x)
        _sync(device)
        for _ in range(repeats):
            for key, m in paths.items():
                c0, t0 = time.process_time(), time.perf_counter()
                m.track(x)
                _sync(device)
                wall[key].append(time.perf_counter() - t0)
                cpu[key].append(time.process_time() - c0)
    out = {}
    for key in paths:
        med = statistics.median(wall[key])
        out[key] = {"median_s": med, "min_s": min(wall[key]), "fps": 1.0 / med,
                    "cpu_s": statistics.median(cpu[key])}
    return out


def time_train_step(name: str, device: torch.device, batch: int, repeats: int) -> dict:
    """Median / best wall time of one training step (forward, balanced loss, backward, SGD) at ``batch``."""
    torch.manual_seed(0)
    model = build_model(name).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    g = torch.Generator().manual_seed(0)
    z = (torch.rand(batch, 3, model.exemplar_size, model.exemplar_size, generator=g) * 255).to(device)
    x = (torch.rand(batch, 3, model.instance_size, model.instance_size, generator=g) * 255).to(device)
    labels = torch.zeros(batch, 1, model.score_size, model.score_size, device=device)
    c = model.score_size // 2
    labels[:, :, c - 1:c + 2, c - 1:c + 2] = 1
    times = []
    for i in range(repeats + 1):
        t0 = time.perf_counter()
        loss = model.loss(model(z, x), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        _sync(device)
        if i:  # the first step warms up
            times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times)}


def _proc_status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        _proc_status_kib("VmHWM")
        return True
    except OSError:
        return False
    except KeyError:
        return False


def _memory_child(name: str, path: str, device: str, threads: int) -> None:
    torch.set_num_threads(threads)
    dev = torch.device(device)
    model = build_model(name).to(dev).eval()
    if path == "fast":
        model = optimize_for_inference(model)
    z, x = _inputs(model, dev)
    with torch.no_grad():
        model.template(z)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
            torch.cuda.reset_peak_memory_stats(dev)
            base = torch.cuda.memory_allocated(dev)
            model.track(x)
            torch.cuda.synchronize(dev)
            peak = torch.cuda.max_memory_allocated(dev) - base
        else:
            model.track(x)  # warm-up: first-call allocations (oneDNN primitives, caches) are not activations
            if _reset_peak_rss():
                before = _proc_status_kib("VmRSS")
                model.track(x)
                peak = (_proc_status_kib("VmHWM") - before) * 1024
            else:
                before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                model.track(x)
                peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024  # KiB on Linux
    print(json.dumps({"peak_bytes": int(peak)}))


def measure_memory(name: str, path: str, device: str, threads: int) -> float | None:
    """Peak extra memory (MiB) of one tracking forward, in a fresh subprocess."""
    cmd = [sys.executable, __file__, "--memory-child", name, path, device, str(threads)]
    # glibc: serve every allocation >= 64 KiB by mmap and give it back on free, so that the resident size follows
    # the live tensors (the default dynamic threshold keeps freed buffers resident and hides the next peak)
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", MALLOC_TRIM_THRESHOLD_="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if proc.returncode != 0:
        print(proc.stderr[-2000:], file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])["peak_bytes"] / 2**20


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timed runs per path")
    parser.add_argument("--models", nargs="*", default=None, help="subset of model names")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cpu, plus cuda when present)")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory subprocesses")
    parser.add_argument("--train-batch", type=int, default=16, help="batch of the tiny models' training-step timing")
    parser.add_argument("--no-train", action="store_true", help="skip the tiny models' training-step timing")
    parser.add_argument("--json", default=None, help="write the results to this JSON file")
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        name, path, device, threads = args.memory_child
        _memory_child(name, path, device, int(threads))
        return {}
    torch.set_num_threads(args.threads)
    devices = [args.device] if args.device else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    names = args.models or [n for pair in PAIRS for n in pair]
    results: dict = {"threads": args.threads, "num_crops": NUM_CROPS, "torch": torch.__version__, "runs": {}}
    for device in devices:
        dev = torch.device(device)
        print(f"\n== device {device}" + (f", {args.threads} threads" if device == "cpu" else "")
              + f", {NUM_CROPS} search crops per frame, {args.repeats} interleaved runs")
        print(f"{'model':20s} {'path':10s} {'median ms':>10s} {'best ms':>9s} {'cpu ms':>8s} {'frames/s':>9s} "
              f"{'speed-up':>9s} {'peak MiB':>9s}")
        runs = {}
        for name in names:
            r = time_models(name, dev, args.repeats)
            for path in ("reference", "fast"):
                if not args.no_memory:
                    r[path]["peak_mib"] = measure_memory(name, path, device, args.threads)
            speedup = r["reference"]["median_s"] / r["fast"]["median_s"]
            r["speedup"] = speedup
            runs[name] = r
            for path in ("reference", "fast"):
                v = r[path]
                mem = v.get("peak_mib")
                print(f"{name:20s} {path:10s} {1e3 * v['median_s']:10.1f} {1e3 * v['min_s']:9.1f} "
                      f"{1e3 * v['cpu_s']:8.1f} {v['fps']:9.2f} "
                      f"{(f'{speedup:8.2f}x' if path == 'fast' else ''):>9s} "
                      f"{(f'{mem:9.1f}' if mem is not None else '        -')}")
        for plain, se in PAIRS:
            if plain in runs and se in runs:
                for path in ("reference", "fast"):
                    ratio = runs[se][path]["median_s"] / runs[plain][path]["median_s"]
                    runs.setdefault("ratios", {})[f"{se}/{plain}/{path}"] = ratio
                    print(f"time ratio {se} / {plain} ({path}): {ratio:.2f}")
                ratio = runs[se]["reference"]["median_s"] / runs[plain]["fast"]["median_s"]
                print(f"time ratio {se} reference / {plain} fast: {ratio:.2f}")
        results["runs"][device] = runs
        if not args.no_train:
            tiny = [n for n in names if n.endswith("_tiny")]
            if tiny:
                print(f"training step (forward + loss + backward + SGD), batch {args.train_batch}, reference layers:")
            for name in tiny:
                t = time_train_step(name, dev, args.train_batch, repeats=5)
                runs.setdefault("train_step", {})[name] = t
                print(f"  {name:18s} median {1e3 * t['median_s']:7.1f} ms   best {1e3 * t['min_s']:7.1f} ms")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2, sort_keys=True)
    return results


if __name__ == "__main__":
    main()

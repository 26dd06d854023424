"""GPU check: everything that needs a CUDA device, in one run of a few minutes, with a JSON report.

On a machine with a CUDA GPU (``make gpu-check`` runs ``.venv/bin/python benchmarks/gpu_check.py``):

1. ``tests``: the CUDA-marked tests (``pytest -k cuda``: the tests that skip themselves without CUDA).
2. ``fast_vs_reference``: the fast scale layers (``sesn_impl='fast'``) against the reference layers on the GPU --
   every layer type (Z2H, HH with 1 and 2 interscale taps, 1x1 with 1 and 2 taps, BatchNorm, max-pool, scale
   pooling), both padding modes, strides 1 and 2: outputs and gradients (inputs and weights) at 1e-5 relative with
   TF32 off; the whole tiny model (forward, loss, backward) in float64; the full SE model's scores (float32, eval),
   the GPU against the CPU, and ``optimize_for_inference`` against the model it was built from.
3. ``training``: training steps of both full models (SE-SiamFC with fast and reference layers), batch 24, in
   float32, bf16 and fp16 autocast (fp16 with a gradient scaler): step time, pairs/s, finite losses.
4. ``torchrun``: ``python -m torch.distributed.run --standalone --nproc_per_node 1 -m sesiam_lib.training`` of both
   full models on a small generated synthetic set (bf16 for SE-SiamFC, fp16 for SiamFC+), 2 epochs of 2 steps.
5. ``tracker``: frames/s of the tracker (``benchmarks/bench_tracker.py``) for the four models, fast path.

Prints the measured figures and writes ``--out`` (default ``runs/gpu_check/report.json``). Each section records
``ok`` and its errors instead of stopping the run; the exit code is 1 when a section failed. Without CUDA it says
so and exits 0 (``--device cpu --quick`` runs the same code on the CPU with small sizes, to check the script).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

RTOL = 1e-5
NO_CUDA_MESSAGE = "no CUDA device available: GPU check skipped"


def rel(a, b) -> float:
    a, b = a.detach(), b.detach()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


class Section:
    """Collects results of one section; exceptions are recorded, not raised."""

    def __init__(self, report: dict, name: str) -> None:
        self.name = name
        self.data = report.setdefault(name, {"ok": True, "errors": []})
        self.t0 = time.perf_counter()

    def __enter__(self) -> "Section":
        print(f"\n== {self.name}", flush=True)
        return self

    def fail(self, message: str) -> None:
        self.data["ok"] = False
        self.data["errors"].append(message)
        print(f"   FAIL {message}", flush=True)

    def check(self, condition: bool, message: str) -> None:
        if not condition:
            self.fail(message)

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc is not None:
            self.fail(f"{exc_type.__name__}: {exc}\n{''.join(traceback.format_tb(tb))}")
        self.data["seconds"] = round(time.perf_counter() - self.t0, 2)
        print(f"   {'ok' if self.data['ok'] else 'FAILED'} ({self.data['seconds']} s)", flush=True)
        return True  # keep going


# ----------------------------------------------------------------------------------------------------------
# 1. CUDA-marked tests


def run_cuda_tests(sec: Section, timeout: int) -> None:
    cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-k", "cuda", "-p", "no:cacheprovider", "tests"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-15:]
    sec.data.update(command=" ".join(cmd[1:]), returncode=proc.returncode, output_tail=tail)
    print("   " + "\n   ".join(tail[-5:]))
    # 5 = no test collected: not a failure of the GPU
    sec.check(proc.returncode in (0, 5), f"pytest -k cuda exited {proc.returncode}")


# ----------------------------------------------------------------------------------------------------------
# 2. fast layers vs reference on the device


def _layer_pairs(torch, nn):
    from sesiam_lib.sesn import SESConvHH, SESConvHH1x1, SESConvZ2H, se_scales
    from sesiam_lib.sesn.fast_layers import FastBatchNorm3d, FastMaxPool3d, FastSESConvHH, FastSESConvHH1x1, \
        FastSESConvZ2H

    scales = se_scales()
    for mode in ("constant", "circular"):
        for stride in (1, 2):
            yield (f"Z2H K9 {mode} s{stride}",
                   lambda mode=mode, stride=stride: SESConvZ2H(3, 8, 9, 7, scales, stride, 4, padding_mode=mode),
                   FastSESConvZ2H, (2, 3, 29, 27))
            for taps in (1, 2):
                yield (f"HH L{taps} K5 {mode} s{stride}",
                       lambda mode=mode, stride=stride, taps=taps: SESConvHH(6, 8, taps, 5, 3, scales, stride, 2,
                                                                             padding_mode=mode),
                       FastSESConvHH, (2, 6, 3, 15, 14))
    for taps in (1, 2):
        for stride in (1, 2):
            yield (f"1x1 L{taps} s{stride}", lambda taps=taps, stride=stride: SESConvHH1x1(6, 8, taps, stride),
                   FastSESConvHH1x1, (2, 6, 3, 11, 10))
    yield "BatchNorm3d", lambda: nn.BatchNorm3d(6), FastBatchNorm3d, (4, 6, 3, 9, 9)
    yield "MaxPool3d(1,2,2)", lambda: nn.MaxPool3d((1, 2, 2), (1, 2, 2)), FastMaxPool3d, (2, 6, 3, 10, 9)


def _compare_layer(torch, ref, fast, x):
    xr, xf = x.clone().requires_grad_(), x.clone().requires_grad_()
    yr, yf = ref(xr), fast(xf)
    grad = torch.randn_like(yr)
    yr.backward(grad)
    yf.backward(grad)
    errs = {"out": rel(yf, yr), "grad_in": rel(xf.grad, xr.grad)}
    for (n, pr), pf in zip(ref.named_parameters(), fast.parameters()):
        errs[f"grad_{n}"] = rel(pf.grad, pr.grad)
    return errs


def check_fast_vs_reference(sec: Section, device: str, quick: bool) -> None:
    import torch
    from torch import nn

    from sesiam_lib.models import build_model, optimize_for_inference
    from sesiam_lib.sesn.fast_layers import fast_scale_pool
    from sesiam_lib.sesn import scale_pool

    tf32 = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    layers = sec.data.setdefault("layers", {})
    try:
        for name, make, fast_cls, shape in _layer_pairs(torch, nn):
            torch.manual_seed(0)
            ref = make().to(device)
            fast = make().to(device)
            fast.__class__ = fast_cls  # same parameters and buffers, fast forward
            fast.load_state_dict(ref.state_dict())
            for training in (True, False):
                ref.train(training)
                fast.train(training)
                errs = _compare_layer(torch, ref, fast, torch.randn(*shape, device=device))
                worst = max(errs.values())
                layers[f"{name} {'train' if training else 'eval'}"] = worst
                sec.check(worst < RTOL, f"{name} ({'train' if training else 'eval'}): {errs}")
        x = torch.randn(2, 6, 3, 8, 9, device=device)
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = scale_pool(a), fast_scale_pool(b)
        g = torch.randn_like(ya)
        ya.backward(g)
        yb.backward(g)
        layers["scale pool"] = max(rel(yb, ya), rel(b.grad, a.grad))
        sec.check(layers["scale pool"] < RTOL, f"scale pool: {layers['scale pool']}")
        print(f"   layers: worst relative error {max(layers.values()):.2e} over {len(layers)} cases")

        # whole tiny model, float64, train mode: scores, loss, every gradient
        opts = dict(exemplar_size=63, instance_size=111)
        for mode in ("constant", "circular"):
            torch.manual_seed(0)
            ref = build_model("se_siamfc_tiny", sesn_impl="reference", padding_mode=mode, **opts)
            fast = build_model("se_siamfc_tiny", sesn_impl="fast", padding_mode=mode, **opts)
            fast.load_state_dict(ref.state_dict())
            ref, fast = ref.to(device).double().train(), fast.to(device).double().train()
            g = torch.Generator().manual_seed(0)
            z = (torch.rand(2, 3, 63, 63, generator=g) * 255).double().to(device)
            x = (torch.rand(2, 3, 111, 111, generator=g) * 255).double().to(device)
            labels = (torch.rand(2, 1, ref.score_size, ref.score_size, generator=g) > 0.8).double().to(device)
            out = []
            for model in (ref, fast):
                scores = model(z, x)
                model.loss(scores, labels).backward()
                out.append((scores.detach(), {n: p.grad for n, p in model.named_parameters()}))
            worst = max([rel(out[1][0], out[0][0])] + [rel(out[1][1][n], out[0][1][n]) for n in out[0][1]])
            sec.data[f"tiny_model_float64_{mode}"] = worst
            print(f"   se_siamfc_tiny float64 {mode}: scores + all gradients, worst relative error {worst:.2e}")
            sec.check(worst < RTOL, f"tiny model float64 {mode}: {worst}")

        # full SE model, float32, eval: device vs CPU (reference layers), fast vs reference, optimized
        if not quick:
            torch.manual_seed(0)
            cpu_ref = build_model("se_siamfc_resnet22", sesn_impl="reference").eval()
            dev_fast = build_model("se_siamfc_resnet22", sesn_impl="fast").eval()
            dev_fast.load_state_dict(cpu_ref.state_dict())
            dev_fast.to(device)
            g = torch.Generator().manual_seed(1)
            z = torch.rand(1, 3, 127, 127, generator=g) * 255
            x = torch.rand(3, 3, 255, 255, generator=g) * 255
            with torch.no_grad():
                cpu_ref.template(z)
                expected = cpu_ref.track(x)
                dev_fast.template(z.to(device))
                got = dev_fast.track(x.to(device)).cpu()
                opt = optimize_for_inference(dev_fast)
                opt.template(z.to(device))
                got_opt = opt.track(x.to(device)).cpu()
            sec.data["full_se_fast_device_vs_cpu_reference"] = rel(got, expected)
            sec.data["full_se_optimized_device_vs_cpu_reference"] = rel(got_opt, expected)
            print(f"   se_siamfc_resnet22 scores, {device} fast vs CPU reference: {rel(got, expected):.2e}; "
                  f"optimize_for_inference: {rel(got_opt, expected):.2e}")
            sec.check(rel(got, expected) < 1e-4, "full SE model on the device differs from the CPU")
            sec.check(rel(got_opt, expected) < 1e-4, "optimize_for_inference on the device differs from the CPU")
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32


# ----------------------------------------------------------------------------------------------------------
# 3. training steps with AMP


def check_training(sec: Section, device: str, quick: bool) -> None:
    import statistics

    import torch
    from bench_training import make_step

    batch = 2 if quick else 24
    steps, warmup = (1, 1) if quick else (5, 3)
    amps = ["none", "bf16"] + (["fp16"] if device.startswith("cuda") else [])
    names = [("siamfc_resnet22", None), ("se_siamfc_resnet22", "fast"), ("se_siamfc_resnet22", "reference")]
    if quick:
        names = [("siamfc_tiny", None), ("se_siamfc_tiny", "fast")]
    rows = sec.data.setdefault("steps", {})
    for amp in amps:
        for name, impl in names:
            key = f"{name}[{impl}] {amp}" if impl else f"{name} {amp}"
            step, _ = make_step(name, impl, device, batch, amp)
            losses = [step() for _ in range(warmup)]
            times = []
            for _ in range(steps):
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                losses.append(step())
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
            med = statistics.median(times)
            finite = all(math.isfinite(v) for v in losses)
            rows[key] = {"batch": batch, "step_ms": round(1e3 * med, 2), "pairs_per_s": round(batch / med, 1),
                         "losses": [round(v, 5) for v in losses], "finite": finite}
            print(f"   {key:40s} batch {batch:3d}  {1e3 * med:8.1f} ms/step  {batch / med:8.1f} pairs/s  "
                  f"loss {losses[-1]:.4f}", flush=True)
            sec.check(finite, f"{key}: non-finite loss {losses}")
            del step
            if device.startswith("cuda"):
                torch.cuda.empty_cache()
    for amp in amps:
        fast = rows.get(f"se_siamfc_resnet22[fast] {amp}")
        ref = rows.get(f"se_siamfc_resnet22[reference] {amp}")
        plain = rows.get(f"siamfc_resnet22 {amp}")
        if fast and ref and plain:
            ratios = {"se_fast_speedup_vs_reference": round(ref["step_ms"] / fast["step_ms"], 3),
                      "se_fast_over_plain": round(fast["step_ms"] / plain["step_ms"], 3)}
            sec.data[f"ratios_{amp}"] = ratios
            print(f"   {amp}: SE fast / reference speed-up {ratios['se_fast_speedup_vs_reference']:.2f}x, "
                  f"SE-fast / SiamFC+ step time {ratios['se_fast_over_plain']:.2f}")


# ----------------------------------------------------------------------------------------------------------
# 4. torchrun


def check_torchrun(sec: Section, device: str, quick: bool, timeout: int) -> None:
    runs = [("se_siamfc_resnet22", "bf16"), ("siamfc_resnet22", "fp16" if device.startswith("cuda") else "bf16")]
    if quick:
        runs = [("se_siamfc_tiny", "bf16")]
    batch = 2 if quick else 8
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for model, amp in runs:
            run_dir = Path(tmp) / f"run_{model}"
            cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
                   "-m", "sesiam_lib.training", "--preset", "smoke", f"model={model}", f"device={device}",
                   f"amp={amp}", f"batch_size={batch}", "epochs=2", f"data.pairs_per_epoch={2 * batch}",
                   f"data.root={Path(tmp) / 'data'}", f"run_dir={run_dir}", "validation.enabled=false",
                   "num_threads=null", "progress=false"]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "4")})
            seconds = time.perf_counter() - t0
            out = (proc.stdout + proc.stderr).strip().splitlines()
            entry = {"command": " ".join(cmd[1:]), "returncode": proc.returncode, "seconds": round(seconds, 1),
                     "output_tail": out[-12:]}
            final = run_dir / "checkpoints" / "final.pth"
            entry["final_checkpoint"] = final.is_file()
            cfg = run_dir / "config.yaml"
            if cfg.is_file():
                import yaml

                entry["model_kwargs"] = (yaml.safe_load(cfg.read_text()) or {}).get("model_kwargs")
            sec.data[f"{model} {amp}"] = entry
            print(f"   torchrun {model} amp={amp}: exit {proc.returncode} in {seconds:.1f} s, final checkpoint "
                  f"{'written' if entry['final_checkpoint'] else 'MISSING'}; model_kwargs {entry.get('model_kwargs')}",
                  flush=True)
            sec.check(proc.returncode == 0 and entry["final_checkpoint"],
                      f"torchrun {model} {amp} failed:\n" + "\n".join(out[-12:]))


# ----------------------------------------------------------------------------------------------------------
# 5. tracker speed


def check_tracker(sec: Section, device: str, quick: bool) -> None:
    from bench_tracker import MODELS, bench, make_scene

    n = 4 if quick else 30
    frames, boxes = make_scene(n + 1)
    models = ["siamfc_tiny", "se_siamfc_tiny"] if quick else list(MODELS)
    upsample = "torch" if device.startswith("cuda") else "cv2"
    for name in models:
        r = bench(name, device, frames, boxes, True, upsample)
        sec.data[name] = {"fps": round(r["fps"], 1), "ms": {k: round(v, 3) for k, v in r["ms"].items()},
                          "note": r["note"]}
        print(f"   {name:20s} {r['fps']:8.1f} frames/s  (network {r['ms']['network']:.2f} ms, crop "
              f"{r['ms']['crop']:.2f} ms, post {r['ms']['post']:.2f} ms) {r['note']}", flush=True)
        sec.check(r["fps"] > 0, f"{name}: no frames tracked")


# ----------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/gpu_check/report.json", help="JSON report path")
    parser.add_argument("--device", default="cuda", help="cuda (default) or cuda:N; cpu only with --quick")
    parser.add_argument("--quick", action="store_true", help="small sizes (to check this script, e.g. on the CPU)")
    parser.add_argument("--skip", nargs="*", default=[], choices=["tests", "fast", "training", "torchrun", "tracker"])
    args = parser.parse_args(argv)

    import torch

    report: dict = {"device": args.device, "quick": args.quick, "torch": torch.__version__,
                    "python": platform.python_version(), "time": time.strftime("%Y-%m-%d %H:%M:%S")}
    out = Path(args.out)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(NO_CUDA_MESSAGE)
        report.update(cuda=False, skipped=True, message=NO_CUDA_MESSAGE)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2))
        return 0
    if args.device == "cpu" and not args.quick:
        parser.error("--device cpu needs --quick (the full check is sized for a GPU)")
    if args.device.startswith("cuda"):
        if torch.device(args.device).index is not None:
            torch.cuda.set_device(torch.device(args.device))
        report.update(cuda=True, gpu=torch.cuda.get_device_name(), cuda_version=torch.version.cuda,
                      cudnn=torch.backends.cudnn.version(), bf16_supported=torch.cuda.is_bf16_supported())
        print(f"GPU: {report['gpu']}, CUDA {report['cuda_version']}, cuDNN {report['cudnn']}, torch {torch.__version__}")
    t0 = time.perf_counter()
    if "tests" not in args.skip:
        with Section(report, "tests") as sec:
            run_cuda_tests(sec, timeout=150)
    if "fast" not in args.skip:
        with Section(report, "fast_vs_reference") as sec:
            check_fast_vs_reference(sec, args.device, args.quick)
    if "training" not in args.skip:
        with Section(report, "training") as sec:
            check_training(sec, args.device, args.quick)
    if "torchrun" not in args.skip:
        with Section(report, "torchrun") as sec:
            check_torchrun(sec, args.device, args.quick, timeout=150)
    if "tracker" not in args.skip:
        with Section(report, "tracker") as sec:
            check_tracker(sec, args.device, args.quick)
    report["seconds"] = round(time.perf_counter() - t0, 1)
    sections = [k for k, v in report.items() if isinstance(v, dict) and "ok" in v]
    report["ok"] = all(report[k]["ok"] for k in sections)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\n{'all sections ok' if report['ok'] else 'FAILED: ' + ', '.join(k for k in sections if not report[k]['ok'])}"
          f" in {report['seconds']} s; report: {out}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

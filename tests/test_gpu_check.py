"""``benchmarks/gpu_check.py`` (the ``make gpu-check`` target): without CUDA it says so and exits 0."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present: the check would run for real")
def test_gpu_check_without_cuda_says_so_and_exits_0(tmp_path):
    out = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "no CUDA device available: GPU check skipped" in proc.stdout
    report = json.loads(out.read_text())
    assert report["cuda"] is False and report["skipped"] is True

"""No orphans: worker processes exit within seconds when their parent dies by SIGKILL (sesiam_lib.core.workers).

Each test starts a parent process as a script, waits until its workers are up and busy, records the workers
(the parent's children in /proc), SIGKILLs the parent and measures how long the workers outlive it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="needs Linux /proc")

REPO = Path(__file__).resolve().parents[1]
EXIT_WITHIN_S = 5.0  # the workers must be gone this long after the parent's SIGKILL


def _env():
    path = os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def alive(pid: int) -> bool:
    """Running (a zombie -- dead, waiting to be reaped by whoever adopted it -- counts as gone)."""
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def workers_of(pid: int) -> list[int]:
    """The live children of ``pid`` but multiprocessing's resource tracker."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == pid and alive(int(entry)) \
                    and "resource_tracker" not in cmdline(int(entry)):
                found.append(int(entry))
    return sorted(found)


def start(script: str, folder: Path, *args) -> subprocess.Popen:
    """Run ``script`` from a file (spawned workers re-import the parent's main module) with ``args``."""
    path = folder / "parent.py"
    path.write_text(script)
    return subprocess.Popen([sys.executable, str(path), *map(str, args)], env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_until(condition, proc, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the parent exited ({proc.returncode}) before {what}:\n{proc.stdout.read()[-3000:]}")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"timed out waiting for {what}:\n{proc.communicate(timeout=30)[0][-3000:]}")


def kill_parent_and_time_workers(proc, workers: list[int]) -> float:
    """SIGKILL ``proc``; seconds until every one of ``workers`` is gone (``inf`` if one outlives the limit)."""
    try:
        proc.send_signal(signal.SIGKILL)
        t0 = time.monotonic()
        while time.monotonic() - t0 < EXIT_WITHIN_S:
            if not any(alive(w) for w in workers):
                return time.monotonic() - t0
            time.sleep(0.02)
        return float("inf")
    finally:
        for w in workers:  # never leave the orphans of a failing run behind
            try:
                os.kill(w, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.communicate(timeout=30)  # (the workers share its output pipe)


# --------------------------------------------------------------------------------------------------------------
# the helper on its own
# --------------------------------------------------------------------------------------------------------------
HELPER_PARENT = textwrap.dedent("""
    import multiprocessing as mp, os, sys, time

    def child(use_pdeathsig):
        from sesiam_lib.core import workers
        if not use_pdeathsig:  # as on a platform without prctl: the watchdog thread alone
            workers._set_pdeathsig = lambda signum: False
        workers.exit_with_parent()
        print(f"worker {os.getpid()}", flush=True)
        time.sleep(60)

    if __name__ == "__main__":
        procs = [mp.get_context("spawn").Process(target=child, args=(sys.argv[1] == "1",)) for _ in range(2)]
        for p in procs:
            p.start()
        deadline = time.time() + 120
        while time.time() < deadline and any(p.is_alive() for p in procs):
            time.sleep(0.1)
""")


@pytest.mark.parametrize("use_pdeathsig", [True, False], ids=["prctl", "watchdog-only"])
def test_exit_with_parent(use_pdeathsig, tmp_path):
    proc = start(HELPER_PARENT, tmp_path, int(use_pdeathsig))
    ready = []

    def both_ready():
        ready.append(proc.stdout.readline())
        return sum(line.startswith("worker") for line in ready) == 2

    wait_until(both_ready, proc, 60, "the workers to start")
    workers = [int(line.split()[1]) for line in ready if line.startswith("worker")]
    assert sorted(workers) == workers_of(proc.pid)
    seconds = kill_parent_and_time_workers(proc, workers)
    print(f"exit_with_parent ({'prctl' if use_pdeathsig else 'watchdog only'}): workers gone {seconds:.2f} s "
          "after the parent's SIGKILL")
    # prctl: the kernel kills them at once; the watchdog thread alone polls every 0.5 s
    assert seconds < (2.0 if use_pdeathsig else 4.0), f"workers alive {seconds:.2f} s after the parent's SIGKILL"


# --------------------------------------------------------------------------------------------------------------
# tracking runners: ProcessPoolExecutor (spawn) workers
# --------------------------------------------------------------------------------------------------------------
TRACKING_PARENT = textwrap.dedent("""
    import sys
    from sesiam_lib.data import generate_synthetic
    from sesiam_lib.tracking import TrackerFactory, run_otb

    if __name__ == "__main__":
        data_root, checkpoint, out = sys.argv[1:4]
        sequences = generate_synthetic(data_root, kind="S-MNIST", split="test", num_sequences=10, num_frames=40,
                                       frame_size=96, progress=False)
        factory = TrackerFactory("siamfc_tiny", checkpoint=checkpoint, device="cpu")
        run_otb(factory, sequences, out, "tiny", workers=2, progress=False)
        print("finished", flush=True)
""")


@pytest.fixture(scope="module")
def tracking_inputs(tmp_path_factory):
    import torch

    from sesiam_lib.data import generate_synthetic
    from sesiam_lib.models import build_model

    root = tmp_path_factory.mktemp("orphans")
    generate_synthetic(root / "data", kind="S-MNIST", split="test", num_sequences=10, num_frames=40,
                       frame_size=96, progress=False)
    checkpoint = root / "tiny.pth"  # fixed weights: every worker builds the same tracker
    torch.save(build_model("siamfc_tiny").state_dict(), checkpoint)
    return root / "data", checkpoint


def test_sigkill_of_a_tracking_run_leaves_no_worker(tracking_inputs, tmp_path):
    data_root, checkpoint = tracking_inputs
    out = tmp_path / "res"
    proc = start(TRACKING_PARENT, tmp_path, data_root, checkpoint, out)
    # kill once the workers are tracking: the first result file is written, most sequences are still to do
    first = wait_until(lambda: [p for p in (out / "tiny").glob("*.txt") if not p.name.endswith("_time.txt")],
                       proc, 120, "the first result file")
    workers = workers_of(proc.pid)
    assert len(workers) == 2, [cmdline(w) for w in workers]
    done_at_kill = len(first)
    seconds = kill_parent_and_time_workers(proc, workers)
    print(f"tracking run (workers=2): workers gone {seconds:.2f} s after the parent's SIGKILL "
          f"({done_at_kill} of 10 sequences done at the kill)")
    assert done_at_kill < 10
    assert seconds < EXIT_WITHIN_S, f"tracking workers still alive {EXIT_WITHIN_S} s after the parent's SIGKILL"


# --------------------------------------------------------------------------------------------------------------
# training: DataLoader workers (num_workers=2)
# --------------------------------------------------------------------------------------------------------------
TRAINING_PARENT = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from sesiam_lib.data import PairDataset
    from sesiam_lib.training import train

    def busy_getitem(self, index):  # a worker stuck in a long load (a slow disk, a network file system)
        Path(sys.argv[3], f"busy_{os.getpid()}").touch()
        time.sleep(60)

    if __name__ == "__main__":
        PairDataset.__getitem__ = busy_getitem
        data_root, run_dir = sys.argv[1:3]
        train({"model": "siamfc_tiny", "epochs": 1, "batch_size": 2, "seed": 1, "device": "cpu", "progress": False,
               "num_threads": 1, "run_dir": run_dir,
               "data": {"root": data_root, "split": "test", "pairs_per_epoch": 8, "num_workers": 2}})
""")


def test_sigkill_of_a_training_leaves_no_dataloader_worker(tracking_inputs, tmp_path):
    data_root, _ = tracking_inputs
    markers = tmp_path / "markers"
    markers.mkdir()
    proc = start(TRAINING_PARENT, tmp_path, data_root, tmp_path / "run", markers)
    wait_until(lambda: len(list(markers.iterdir())) >= 2, proc, 120, "both data loader workers to load data")
    workers = workers_of(proc.pid)
    assert sorted(int(p.name.split("_")[1]) for p in markers.iterdir()) == workers
    seconds = kill_parent_and_time_workers(proc, workers)
    print(f"training (data.num_workers=2): workers gone {seconds:.2f} s after the parent's SIGKILL")
    assert seconds < EXIT_WITHIN_S, f"data loader workers still alive {EXIT_WITHIN_S} s after the parent's SIGKILL"

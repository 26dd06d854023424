"""One run per folder: training, tracking runs and pipeline runs lock their folder (sesiam_lib.core.runlock)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sesiam_lib.core import HOLDER_FILE, LOCK_FILE, RunLockedError, read_lock_holder, run_folder_lock

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX flock")

REPO = Path(__file__).resolve().parents[1]
HOST = socket.gethostname()

# a process that takes the lock of argv[1] (as argv[2]), says so, and keeps it until killed (or argv[3] appears)
HOLDER = textwrap.dedent("""
    import os, sys, time
    from sesiam_lib.core.runlock import run_folder_lock, RunLockedError
    release = sys.argv[3] if len(sys.argv) > 3 else None
    try:
        with run_folder_lock(sys.argv[1], sys.argv[2]):
            print("locked", flush=True)
            if os.environ.get("FORK_CHILD"):
                child = os.fork()
                if child == 0:  # let go of the test's pipes: only the inherited lock descriptor matters
                    null = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(null, fd)
                    time.sleep(120)
                    os._exit(0)
                print(f"child {child}", flush=True)
            deadline = time.time() + 120
            while time.time() < deadline and not (release and os.path.exists(release)):
                time.sleep(0.05)
    except RunLockedError:
        print("refused", flush=True)
""")


def _env(**extra):
    path = os.pathsep.join(p for p in [str(REPO), os.environ.get("PYTHONPATH", "")] if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def start_holder(folder, what="training", release=None, **env):
    args = [sys.executable, "-c", HOLDER, str(folder), what] + ([str(release)] if release else [])
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(**env))


def wait_locked(proc):
    line = proc.stdout.readline()  # the holder prints "locked" once it holds the folder (or dies)
    assert line.strip() == "locked", f"holder did not take the lock: {line!r} {proc.stderr.read()[-2000:]}"


@pytest.fixture
def holder():
    procs = []

    def _start(folder, what="training", **env):
        proc = start_holder(folder, what, **env)
        procs.append(proc)
        wait_locked(proc)
        return proc

    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def assert_names_holder(error: RunLockedError, proc, folder, what="training"):
    text = str(error)
    assert f"PID {proc.pid}" in text and f"host {HOST}" in text, text
    assert str(folder) in text and what in text, text
    assert error.pid == proc.pid and error.host == HOST


def kill_and_reap(proc):
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


# --------------------------------------------------------------------------------------------------------------
# the lock itself
# --------------------------------------------------------------------------------------------------------------
def test_lock_is_exclusive_reentrant_in_its_thread_and_cleaned_up(tmp_path):
    folder = tmp_path / "run"
    with run_folder_lock(folder, "training") as info:
        assert info["pid"] == os.getpid() and info["host"] == HOST and info["what"] == "training"
        assert read_lock_holder(folder)["pid"] == os.getpid()
        with run_folder_lock(folder, "training"):  # nested code of the same thread: passes through
            pass
        assert (folder / LOCK_FILE).exists()  # still held after the nested block
        errors = []

        def other_thread():
            try:
                with run_folder_lock(folder, "tracking"):
                    pass
            except RunLockedError as exc:
                errors.append(exc)

        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(30)
        assert len(errors) == 1 and errors[0].pid == os.getpid() and "cannot start tracking" in str(errors[0])
        with run_folder_lock(folder, "ddp rank 1", enabled=False):  # the non-main DDP ranks take no lock
            pass
    assert not (folder / LOCK_FILE).exists() and not (folder / HOLDER_FILE).exists()
    with run_folder_lock(folder):  # free again
        pass


def test_another_process_is_refused_at_once_and_named(tmp_path, holder):
    folder = tmp_path / "run"
    proc = holder(folder, "training")
    t0 = time.perf_counter()
    with pytest.raises(RunLockedError) as info:
        with run_folder_lock(folder, "tracking"):
            pass
    assert time.perf_counter() - t0 < 2.0
    assert_names_holder(info.value, proc, folder)
    assert "cannot start tracking" in str(info.value) and "command:" in str(info.value)


def test_lock_of_a_sigkilled_holder_is_taken_over_and_its_stale_record_ignored(tmp_path, holder):
    folder = tmp_path / "run"
    proc = holder(folder, "training")
    kill_and_reap(proc)
    assert read_lock_holder(folder)["pid"] == proc.pid  # the dead holder's record is left behind ...
    with run_folder_lock(folder, "training") as info:  # ... and does not block
        assert info["pid"] == os.getpid() and read_lock_holder(folder)["pid"] == os.getpid()


def test_made_up_leftovers_never_block(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / LOCK_FILE).write_text("garbage")
    (folder / HOLDER_FILE).write_text(json.dumps({"pid": 1, "host": HOST, "what": "training"}))
    with run_folder_lock(folder, "training") as info:
        assert info["pid"] == os.getpid()
    (folder / HOLDER_FILE).write_text("{not json")
    with run_folder_lock(folder, "training"):
        pass


def test_a_forked_child_does_not_keep_the_lock_of_its_dead_parent(tmp_path, holder):
    """DataLoader workers are forked: they must not keep the training's lock alive when the training dies."""
    folder = tmp_path / "run"
    proc = holder(folder, "training", FORK_CHILD="1")
    child = int(proc.stdout.readline().split()[1])
    try:
        with pytest.raises(RunLockedError):
            with run_folder_lock(folder):
                pass
        kill_and_reap(proc)
        assert os.path.exists(f"/proc/{child}") or sys.platform != "linux"  # the child still runs ...
        with run_folder_lock(folder, "training"):  # ... yet the folder is free
            pass
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_runs_started_together_exactly_one_wins(tmp_path):
    folder, release = tmp_path / "run", tmp_path / "release"
    procs = [start_holder(folder, "training", release=release) for _ in range(4)]
    try:
        firsts = [p.stdout.readline().strip() for p in procs]
        assert sorted(firsts) == ["locked", "refused", "refused", "refused"], firsts
    finally:
        release.touch()
        for p in procs:
            p.communicate(timeout=60)
    assert not (folder / LOCK_FILE).exists()


# --------------------------------------------------------------------------------------------------------------
# training, tracking runs, pipeline runs
# --------------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    from sesiam_lib.data import generate_synthetic

    root = tmp_path_factory.mktemp("lockdata")
    generate_synthetic(root, kind="S-MNIST", split="train", num_sequences=2, num_frames=12, frame_size=96,
                       progress=False)
    return root


def tiny_training(data_root, run_dir):
    return {"model": "siamfc_tiny", "epochs": 1, "batch_size": 2, "seed": 1, "device": "cpu", "progress": False,
            "num_threads": 1, "run_dir": str(run_dir), "data": {"root": str(data_root), "pairs_per_epoch": 2}}


def test_second_training_on_a_locked_run_folder_fails_at_once(data_root, tmp_path, holder):
    from sesiam_lib.training import train

    run_dir = tmp_path / "run"
    proc = holder(run_dir, "training")
    t0 = time.perf_counter()
    with pytest.raises(RunLockedError) as info:
        train(tiny_training(data_root, run_dir))
    assert time.perf_counter() - t0 < 10.0
    assert_names_holder(info.value, proc, run_dir)
    assert "cannot start training" in str(info.value)
    assert not (run_dir / "train.log").exists() and not (run_dir / "log_steps.csv").exists()

    # the holder dies by SIGKILL: the next training takes the folder over and runs to the end
    kill_and_reap(proc)
    result = train(tiny_training(data_root, run_dir))
    assert result.global_step == 1 and (run_dir / "checkpoints" / "final.pth").is_file()
    assert not (run_dir / LOCK_FILE).exists() and not (run_dir / HOLDER_FILE).exists()


class _Tracker:
    name = "locktest"

    def init(self, image, box):
        self.box = np.asarray(box, dtype=float)

    def update(self, image):
        return self.box

    def provenance(self):
        return {"tracker": "constant"}


def _sequences(data_root):
    from sesiam_lib.data import generate_synthetic

    return generate_synthetic(data_root, kind="S-MNIST", split="train", num_sequences=2, num_frames=12,
                              frame_size=96, progress=False)


def test_second_tracking_run_on_a_locked_folder_fails_at_once(data_root, tmp_path, holder):
    from sesiam_lib.evaluation.results_io import load_otb_results
    from sesiam_lib.tracking import run_otb, run_vot

    seqs = _sequences(data_root)
    out = tmp_path / "res"
    proc = holder(out / "locktest", "tracking")
    for runner in (run_otb, run_vot):
        with pytest.raises(RunLockedError) as info:
            runner(_Tracker(), seqs, out, progress=False)
        assert_names_holder(info.value, proc, out / "locktest", what="tracking")
    assert sorted(p.name for p in (out / "locktest").iterdir()) == [LOCK_FILE, HOLDER_FILE]  # nothing written

    kill_and_reap(proc)
    run_otb(_Tracker(), seqs, out, progress=False)  # taken over
    assert not (out / "locktest" / LOCK_FILE).exists()
    # the lock files are harmless to the result readers, also while a run holds the folder
    with run_folder_lock(out / "locktest", "tracking"):
        res = load_otb_results(out, seqs)
    assert list(res) == ["locktest"] and sorted(res["locktest"]) == sorted(s.name for s in seqs)


def test_second_pipeline_run_on_a_locked_folder_fails_at_once(tmp_path, holder, monkeypatch):
    import nbformat
    import papermill

    from sesiam_lib.pipeline.runner import STATE_FILE, run_pipeline

    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), tmp_path / "step.ipynb")
    preset = tmp_path / "tiny.yaml"
    preset.write_text("steps:\n  - notebook: step.ipynb\n")
    executed = []

    def fake_execute(source, output, **kwargs):  # no kernel: this test is about the folder lock
        executed.append(output)
        Path(output).write_text(Path(source).read_text())

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    results = tmp_path / "results"

    def run():
        return run_pipeline(str(preset), results_root=results, work_root=tmp_path / "work", run_name="RUN",
                            notebooks_dir=tmp_path)

    proc = holder(results / "RUN", "pipeline")
    with pytest.raises(RunLockedError) as info:
        run()
    assert_names_holder(info.value, proc, results / "RUN", what="pipeline")
    assert executed == [] and sorted(p.name for p in (results / "RUN").iterdir()) == [LOCK_FILE, HOLDER_FILE]

    kill_and_reap(proc)  # taken over: the run goes through
    assert run() == results / "RUN" and len(executed) == 1
    assert (results / "RUN" / STATE_FILE).exists() and not (results / "RUN" / LOCK_FILE).exists()

"""Tracker hyper-parameter search (sesiam_lib.tuning): objective, resumable study, workers, storage, CLI, and the
tuned file used by the tracker factory. Tiny random-init model (torch seed 0), 3 synthetic sequences of 20 frames."""

import contextlib
import csv
import glob
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="the tuning extra (optuna) is not installed")

from sesiam_lib.tracking import TRACKER_PARAMS, TrackerFactory, run_otb, tracker_params  # noqa: E402
from sesiam_lib.tuning import SEARCH_SPACE, ChangedStudyError, TuningError, load_validation_set, tune  # noqa: E402

MODEL = "siamfc_tiny"
BAD = {"scale_step": 1.2, "scale_lr": 0.7, "scale_penalty": 1.0, "w_influence": 0.05}  # size runs away
CONTRACT = ("scale_step", "scale_lr", "scale_penalty", "w_influence", "value", "baseline_value", "trials",
            "checkpoint_sha256", "data", "metric")


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models: one torch thread is fastest, and never thrashes beside other jobs on a small CPU."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def val_set(tmp_path_factory):
    from sesiam_lib.data.synthetic import generate_synthetic

    root = tmp_path_factory.mktemp("smnist")
    generate_synthetic(root, kind="S-MNIST", split="val", num_sequences=3, num_frames=20, progress=False)
    return root / "val"


def _cli(*args, timeout=300, **kwargs):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, "-m", "sesiam_lib.tuning", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _run_cli(*args, timeout=300):
    proc = _cli(*args)
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def _trials_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


# ----------------------------------------------------------------------------------------------------------------
# fast checks
# ----------------------------------------------------------------------------------------------------------------
def test_search_space_covers_every_released_setting():
    for family in TRACKER_PARAMS.values():
        for setting in family.values():
            for key, value in setting.items():
                low, high, _ = SEARCH_SPACE[key]
                assert low <= value <= high, (key, value)


def test_validation_set_from_split_folder_or_root(val_set):
    a = load_validation_set(val_set)  # the split folder itself
    b = load_validation_set(val_set.parent, split="val")  # the dataset root and a split
    assert [s.name for s in a] == [s.name for s in b] and len(a) == 3
    c = load_validation_set(val_set, sequences=2, max_frames=5)
    assert len(c) == 2 and all(len(s) == 5 for s in c)


def test_objective_metrics_and_pyramid_size(val_set):
    from sesiam_lib.tuning import TrackingObjective

    seqs = load_validation_set(val_set, sequences=1, max_frames=8)
    setting = tracker_params(MODEL)
    for metric in ("auc", "ao", "eao"):
        value = TrackingObjective(MODEL, seqs, metric).score(setting)
        assert 0.0 <= value <= 1.0, metric
    objective = TrackingObjective(MODEL, seqs, "auc", tune_num_scales=True)
    assert objective.tracker({**setting, "num_scales": 5}).num_scales == 5
    assert 0.0 <= objective.score({**setting, "num_scales": 5}) <= 1.0


def test_clear_errors(val_set, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TuningError, match="empty"):
        tune(MODEL, empty, out=tmp_path / "o1", trials=1, progress=False)
    with pytest.raises(TuningError, match="no such folder"):
        tune(MODEL, tmp_path / "nope", out=tmp_path / "o1", trials=1, progress=False)
    with pytest.raises(TuningError, match="unknown model"):
        tune("siamfc_huge", val_set, out=tmp_path / "o2", trials=1, progress=False)
    import torch

    from sesiam_lib.models import build_model

    wrong = tmp_path / "se.pth"
    torch.save(build_model("se_siamfc_tiny").state_dict(), wrong)
    with pytest.raises(TuningError, match="does not fit"):
        tune(MODEL, val_set, checkpoint=wrong, out=tmp_path / "o3", trials=1, progress=False)
    for url in ("nosuchdialect://x/y", "postgresql://u:secret@127.0.0.1:1/db", "sqlite:////no/such/dir/s.db"):
        with pytest.raises(TuningError, match="--storage") as info:
            tune(MODEL, val_set, out=tmp_path / "o4", trials=1, storage=url, progress=False, sequences=1,
                 max_frames=3)
        assert "secret" not in str(info.value)
    code, _, err = _run_cli("--model", MODEL, "--data", empty, "--trials", 1, "--out", tmp_path / "o5", timeout=120)
    assert code == 2 and "error:" in err and "empty" in err


def test_tuned_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="best_params.json"):
        tracker_params(MODEL, tuned=tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"scale_step": 1.1}))
    with pytest.raises(ValueError, match="scale_lr"):
        tracker_params(MODEL, tuned=bad)
    other = tmp_path / "se.json"
    other.write_text(json.dumps({**BAD, "model": "se_siamfc_tiny", "model_family": "SE-SiamFC"}))
    with pytest.raises(ValueError, match="SE-SiamFC"):
        tracker_params(MODEL, tuned=other)


def test_tuned_file_in_tracker_factory_and_run_record(val_set, tmp_path):
    tuned = tmp_path / "best_params.json"
    setting = {"scale_step": 1.0123, "scale_lr": 0.4567, "scale_penalty": 0.9876, "w_influence": 0.1234}
    tuned.write_text(json.dumps({**setting, "value": 0.6, "baseline_value": 0.5, "trials": 7, "metric": "auc",
                                 "model": MODEL, "model_family": "SiamFC+", "study": "s"}))
    assert tracker_params(MODEL, tuned=tuned) == setting
    assert tracker_params(MODEL, tuned=tuned, scale_lr=0.3)["scale_lr"] == 0.3  # explicit overrides win
    factory = TrackerFactory(MODEL, device="cpu", tuned=str(tuned), name="tuned")
    tracker = factory()
    assert {k: tracker.params()[k] for k in setting} == setting
    seqs = load_validation_set(val_set, sequences=1, max_frames=4)
    record = run_otb(factory, seqs, tmp_path / "res", progress=False)
    saved = json.loads(Path(record["record_path"]).read_text())
    assert {k: saved["hyper_parameters"][k] for k in setting} == setting
    assert saved["hyper_parameters_from"] == f"tuned:{tuned}"
    assert saved["provenance"]["tuned"]["study"] == "s" and saved["provenance"]["tuned"]["metric"] == "auc"
    untuned = TrackerFactory(MODEL, device="cpu")()
    assert "tuned" not in untuned.provenance()  # untuned runs keep their keys


# ----------------------------------------------------------------------------------------------------------------
# studies
# ----------------------------------------------------------------------------------------------------------------
def test_study_beats_a_bad_setting_and_resumes(val_set, tmp_path):
    out = tmp_path / "run"
    first = tune(MODEL, val_set, out=out, trials=5, seed=0, metric="auc", enqueue=[BAD], threads=1,
                 progress=False, n_startup=3)
    rows = _trials_csv(out / "trials.csv")
    bad = [r for r in rows if r["role"] == "enqueued"]
    assert len(bad) == 1 and float(bad[0]["scale_step"]) == BAD["scale_step"]
    assert first["trials"] == 5 and first["value"] > float(bad[0]["value"]) + 0.02
    assert first["value"] >= first["baseline_value"]  # the default setting is trial 0
    assert rows[0]["role"] == "baseline" and float(rows[0]["scale_step"]) == tracker_params(MODEL)["scale_step"]
    # resume: the same study (same storage, same name) gets more trials; numbers continue
    second = tune(MODEL, val_set, out=out, trials=7, seed=0, metric="auc", threads=1, progress=False, n_startup=3)
    rows = _trials_csv(out / "trials.csv")
    assert second["trials"] == 7 and [int(r["number"]) for r in rows] == list(range(7))
    assert second["value"] >= first["value"] and second["baseline_value"] == first["baseline_value"]
    # a finished study is not run again
    again = tune(MODEL, val_set, out=out, trials=7, seed=0, metric="auc", threads=1, progress=False)
    assert again["trials"] == 7
    # the same study name for another objective is refused
    with pytest.raises(ChangedStudyError, match="another objective"):
        tune(MODEL, val_set, out=out, trials=8, metric="auc", max_frames=10, progress=False)
    # ... unless restart_changed: exactly that study is deleted and started afresh (trial numbers from 0)
    fresh = tune(MODEL, val_set, out=out, trials=2, seed=0, metric="auc", max_frames=10, threads=1, progress=False,
                 restart_changed=True)
    rows = _trials_csv(out / "trials.csv")
    assert fresh["trials"] == 2 and [int(r["number"]) for r in rows] == [0, 1]


@pytest.mark.slow
def test_two_local_workers_run_distinct_trials(val_set, tmp_path):
    out = tmp_path / "run"
    record = tune(MODEL, val_set, out=out, trials=6, workers=2, threads=1, metric="ao", max_frames=12,
                  progress=False, n_startup=3)
    rows = [r for r in _trials_csv(out / "trials.csv") if r["state"] == "COMPLETE"]
    assert record["trials"] == len(rows) and 6 <= len(rows) <= 7
    assert len({r["number"] for r in rows}) == len(rows)
    assert len({r["worker"] for r in rows}) == 2  # both processes worked
    settings = {tuple(r[k] for k in SEARCH_SPACE) for r in rows}
    assert len(settings) == len(rows)  # no setting tried twice


@pytest.mark.slow
def test_cli_writes_the_contract(val_set, tmp_path):
    out = tmp_path / "cli"
    code, stdout, err = _run_cli("--model", MODEL, "--data", val_set, "--trials", 3, "--out", out, "--seed", 1,
                                 "--metric", "auc", "--sequences", 2, "--max-frames", 10, "--threads", 1,
                                 "--study", "cli-study")
    assert code == 0, err[-2000:]
    best = json.loads((out / "best_params.json").read_text())
    for key in CONTRACT:
        assert key in best, key
    assert best["trials"] == 3 and best["metric"] == "auc" and best["study"] == "cli-study"
    assert best["data"]["num_sequences"] == 2 and best["data"]["max_frames"] == 10
    assert (out / "trials.csv").is_file() and (out / "study.db").is_file()
    for name in ("optimization_history.png", "slice.png"):
        assert (out / name).stat().st_size > 1000
    assert not glob.glob(str(out / ".*.tmp"))
    assert "trial" in err  # the tqdm bar
    assert tracker_params(MODEL, tuned=out / "best_params.json")["scale_step"] == best["scale_step"]


def _complete_trials_read_only(db: Path) -> int:
    """Completed trials in a SQLite study, read without touching the schema.

    ``optuna.load_study`` would create the tables itself when it looks while the tuning process is still creating
    them, and the two creators collide (``UNIQUE constraint failed: alembic_version``): an observer must only read.
    """
    if not db.is_file():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as con:
            return con.execute("SELECT COUNT(*) FROM trials WHERE state = 'COMPLETE'").fetchone()[0]
    except sqlite3.Error:  # tables not there yet, or locked by the writer: look again later
        return 0


@pytest.mark.slow
def test_killed_run_loses_only_its_running_trials(val_set, tmp_path):
    out = tmp_path / "kill"
    args = ("--model", MODEL, "--data", val_set, "--trials", 6, "--out", out, "--metric", "auc", "--threads", 1,
            "--heartbeat", 1, "--no-progress")
    proc = _cli(*args, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:  # kill it in the middle of the study
        if _complete_trials_read_only(out / "study.db") >= 2:
            break
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    time.sleep(2.5)  # past the grace period (2 heartbeats): the running trial is stale
    code, _, err = _run_cli(*args)
    assert code == 0, err[-2000:]
    rows = _trials_csv(out / "trials.csv")
    complete = [r for r in rows if r["state"] == "COMPLETE"]
    failed = [r for r in rows if r["state"] == "FAIL"]
    assert len(complete) == 6 and len(failed) <= 1  # at most the one trial it was running
    assert len({r["worker"] for r in complete}) == 2


# ----------------------------------------------------------------------------------------------------------------
# PostgreSQL: two processes (as on two machines) share one study
# ----------------------------------------------------------------------------------------------------------------
def _pg_bin(name):
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or ([shutil.which(name)] if shutil.which(name)
                                                                       else [])
    return found[-1] if found else None


@pytest.fixture
def postgres_url():
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install postgresql")
    user = None
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the postgres (or nobody) user
        import pwd

        for name in ("postgres", "nobody"):
            try:
                user = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        if user is None:
            pytest.skip("running as root and neither a 'postgres' nor a 'nobody' user exists to run the server")
    base = Path(tempfile.mkdtemp(prefix="sesiam-pg-"))
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)
    run_as = {"user": user.pw_uid, "group": user.pw_gid} if user is not None else {}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = base / "data"
    try:
        subprocess.run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"], check=True,
                       capture_output=True, cwd=base, **run_as)
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {base} -c fsync=off"
        subprocess.run([pg_ctl, "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, cwd=base, **run_as)
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run([pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True, cwd=base,
                           **run_as)
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.slow
def test_postgresql_two_processes_share_a_study(val_set, tmp_path, postgres_url):
    common = ("--model", MODEL, "--data", val_set, "--storage", postgres_url, "--study", "shared", "--metric", "auc",
              "--max-frames", 12, "--threads", 1, "--no-progress")
    code, _, err = _run_cli(*common, "--trials", 2, "--out", tmp_path / "first")  # creates the study
    assert code == 0, err[-2000:]
    procs = [_cli(*common, "--trials", 6, "--out", tmp_path / f"m{i}", "--seed", i) for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
    study = optuna.load_study(study_name="shared", storage=postgres_url)
    complete = study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert 6 <= len(complete) <= 7
    workers = {t.user_attrs["worker"] for t in complete[2:]}
    assert len(workers) == 2  # both processes ran trials of the one study
    assert len({t.number for t in complete}) == len(complete)
    assert len({tuple(sorted(t.params.items())) for t in complete}) == len(complete)
    best = json.loads((tmp_path / "m0" / "best_params.json").read_text())
    assert best["storage"].startswith("postgresql://") and best["trials"] >= 6


# ----------------------------------------------------------------------------------------------------------------
# notebook 05 (the pipeline's tuning step) and notebook 03's tuned="auto"
# ----------------------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_notebook_05_writes_the_file_notebook_03_reads(val_set, tmp_path):
    papermill = pytest.importorskip("papermill")
    import torch

    from sesiam_lib.models import build_model
    from sesiam_lib.pipeline.experiment import RunPaths
    from sesiam_lib.pipeline.runner import repo_root

    checkpoint = tmp_path / "tiny.pth"
    torch.manual_seed(0)
    torch.save(build_model(MODEL).state_dict(), checkpoint)
    notebooks = repo_root() / "notebooks"
    papermill.execute_notebook(
        str(notebooks / "05_tuning.ipynb"), str(tmp_path / "05.ipynb"), cwd=str(notebooks), progress_bar=False,
        parameters={"run_name": "r", "results_root": str(tmp_path / "results"), "work_root": str(tmp_path / "work"),
                    "models": [], "checkpoints": {"tiny": {"model": MODEL, "checkpoint": str(checkpoint)}},
                    "tune_data": str(val_set), "trials": 2, "tune_frames": 8, "tune_sequences": 2})
    paths = RunPaths("r", tmp_path / "results", tmp_path / "work")
    best = json.loads((paths.tuning_results("S-MNIST") / "tiny" / "best_params.json").read_text())
    assert best["trials"] == 2 and best["checkpoint_sha256"]
    assert (paths.work / "tuning" / "S-MNIST" / "tiny" / "study.db").is_file()  # the study stays out of results
    assert (paths.tuning_results("S-MNIST") / "tuning_S-MNIST.md").read_text().count("|") > 6

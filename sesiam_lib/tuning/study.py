"""A resumable, shareable Optuna study over the tracker's hyper-parameters, and its outputs.

Storage: ``storage=None`` keeps the study in SQLite at ``<out>/study.db``; any SQLAlchemy URL works too
(``postgresql://user:pw@host/db``, ``mysql+pymysql://...``, ``sqlite:////abs/path.db``; a plain file path is taken
as a SQLite file). The storage is an Optuna :class:`~optuna.storages.RDBStorage` with a heartbeat: a process that
dies (killed, machine lost) stops beating, its RUNNING trials are marked FAIL after ``grace_period`` seconds by
whichever worker looks next, and each is queued once more (:class:`~optuna.storages.RetryFailedTrialCallback`):
a killed run loses at most the trials it was running.

Budget: ``trials=N`` is the study's target of **completed** trials, not "N more": every worker (a process of
this machine or of another one, on the same storage and study name) runs trials until the study holds N
completed ones, then returns; re-running the same command resumes a killed run and does nothing more on a
finished one; a larger N extends the study. Trial numbers come from the storage, so workers never share a trial;
each worker's TPE sampler has its own seed (derived from ``seed``, the worker index and the trials already in the
study) and uses the constant liar for the trials running elsewhere, so workers do not propose the same points.
Workers that start their last trial at the same moment can overshoot N by at most ``workers - 1``.

The first trial of a study is the model family's default setting (``tracker_params(model, "OTB2015")``, every
released value lies inside the search space): its score is the ``baseline_value`` of ``best_params.json``, and the
best trial can never be worse than the default.

A study remembers what it optimises (model, checkpoint SHA-256, data fingerprint, metric, frame/sequence limits,
search space) in its user attributes; resuming it with a different objective raises :class:`TuningError`
(give another ``study`` name).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import socket
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .objective import (NUM_SCALES_CHOICES, SEARCH_SPACE, ChangedStudyError, TrackingObjective, TuningError,
                        data_fingerprint, default_metric, load_validation_set)

log = logging.getLogger("sesiam_lib.tuning")

__all__ = ["tune", "storage_url", "open_storage", "open_study", "mask_url", "write_outputs", "study_summary",
           "BEST_PARAMS", "TRIALS_CSV", "FIGURES", "DEFAULT_HEARTBEAT", "TUNED_FORMAT"]

BEST_PARAMS = "best_params.json"
TRIALS_CSV = "trials.csv"
FIGURES = ("optimization_history.png", "param_importances.png", "slice.png")
DEFAULT_HEARTBEAT = 60
TUNED_FORMAT = "sesiam-tuned-tracker/1"
_BASELINE = "baseline"


# ---------------------------------------------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------------------------------------------
def storage_url(storage: str | os.PathLike | None, out: str | os.PathLike) -> str:
    """The SQLAlchemy URL: ``None`` -> ``sqlite:///<out>/study.db``; a plain path -> a SQLite file; a URL as is."""
    if storage is None:
        return f"sqlite:///{(Path(out) / 'study.db').resolve()}"
    text = str(storage)
    if "://" not in text:
        return f"sqlite:///{Path(text).resolve()}"
    return text


def mask_url(url: str) -> str:
    """The URL with its password hidden (for messages and records)."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL at all: nothing to hide
        return str(url)


def open_storage(url: str, *, heartbeat_interval: int = DEFAULT_HEARTBEAT, grace_period: int | None = None,
                 retries: int = 3):
    """An :class:`optuna.storages.RDBStorage` on ``url`` with a heartbeat and one retry of stale trials.

    Raises:
        TuningError: the URL is malformed, names a driver that is not installed, or the database cannot be reached
            (the message names the URL without its password).
    """
    import optuna
    from optuna.exceptions import ExperimentalWarning

    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception as exc:
        raise TuningError(f"--storage {url!r}: not a database URL ({exc}); use e.g. sqlite:///study.db or "
                          "postgresql://user:password@host/db") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise TuningError(f"--storage {mask_url(url)}: folder {folder} does not exist")
    if parsed.drivername == "postgresql":  # no driver named: the one installed (SQLAlchemy 2.1 assumes psycopg 3)
        import importlib.util

        for module, driver in (("psycopg", "postgresql+psycopg"), ("psycopg2", "postgresql+psycopg2")):
            if importlib.util.find_spec(module) is not None:
                url = parsed.set(drivername=driver).render_as_string(hide_password=False)
                break
    engine_kwargs = {"connect_args": {"timeout": 60}} if parsed.get_backend_name() == "sqlite" else {}
    last = None
    for attempt in range(max(1, retries)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                if hasattr(optuna.storages, "RetryHeartbeatStaleTrialCallback"):  # optuna >= 4.9
                    retry = {"heartbeat_stale_trial_callback":
                             optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=1)}
                else:
                    retry = {"failed_trial_callback": optuna.storages.RetryFailedTrialCallback(max_retry=1)}
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=engine_kwargs, heartbeat_interval=int(heartbeat_interval),
                    grace_period=grace_period, **retry)
        except ImportError as exc:
            raise TuningError(f"--storage {mask_url(url)}: the database driver is not installed ({exc}); for "
                              "PostgreSQL install psycopg[binary] (the 'postgres' extra) or psycopg2-binary") from None
        except Exception as exc:  # sqlalchemy's errors (bad dialect, refused connection, auth ...)
            last = exc
            if type(exc).__name__ not in ("IntegrityError", "ProgrammingError", "InternalError"):
                break  # bad dialect, refused connection, authentication ...: no point retrying
            time.sleep(1.0 + attempt)  # two processes creating the tables at once: the loser retries
    raise TuningError(f"--storage {mask_url(url)}: cannot open the study database: {type(last).__name__}: "
                      f"{str(last).splitlines()[0] if str(last) else ''}") from None


def _sampler(seed: int, worker: int, existing: int, n_startup: int):
    import optuna

    derived = int(np.random.SeedSequence([int(seed), int(worker), int(existing)]).generate_state(1)[0])
    return optuna.samplers.TPESampler(seed=derived, n_startup_trials=n_startup, constant_liar=True)


def open_study(storage, name: str, *, seed: int = 0, worker: int = 0, identity: dict | None = None,
               n_startup: int = 10):
    """Create or load study ``name`` (maximised) with a seeded TPE sampler; check/record its ``identity``."""
    import optuna

    study = optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True)
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise TuningError(f"study {name!r} exists and is minimised: not a tracker tuning study; use another name")
    if identity is not None:
        stored = study.user_attrs.get("identity")
        if stored is None:
            study.set_user_attr("identity", identity)
        elif stored != json.loads(json.dumps(identity)):
            from ..core.provenance import differing_fields

            changed = ", ".join(differing_fields(stored, identity)) or "?"
            raise ChangedStudyError(f"study {name!r} in this storage was made for another objective ({changed} "
                                    "differ); give a new --study name (or the same inputs) to continue it")
    existing = len(study.get_trials(deepcopy=False))
    study.sampler = _sampler(seed, worker, existing, n_startup)
    return study


def _counts(study) -> tuple[int, int]:
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.RUNNING))
    done = sum(t.state == TrialState.COMPLETE for t in trials)
    return done, len(trials) - done


# ---------------------------------------------------------------------------------------------------------------
# workers
# ---------------------------------------------------------------------------------------------------------------
def _run_worker(config: dict, worker: int, on_trial=None) -> int:
    """Run trials until the study holds ``config["trials"]`` completed ones; returns how many this worker ran."""
    import optuna
    from optuna.storages import fail_stale_trials

    storage = open_storage(config["url"], heartbeat_interval=config["heartbeat"], grace_period=config["grace"])
    study = open_study(storage, config["study"], seed=config["seed"], worker=worker, n_startup=config["n_startup"])
    objective: TrackingObjective = config["objective"]
    tag = f"{socket.gethostname()}:{os.getpid()}"

    def run_trial(trial):
        trial.set_user_attr("worker", tag)  # which process ran it (trials.csv)
        return objective(trial)

    target = int(config["trials"])
    ran = 0
    callbacks = [on_trial] if on_trial is not None else []
    while True:
        done, running = _counts(study)
        if done >= target:
            return ran
        if done + running >= target:  # the rest is running elsewhere: wait for it, or for it to go stale
            fail_stale_trials(study)
            time.sleep(config.get("poll", 1.0))
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(run_trial, n_trials=1, callbacks=callbacks, catch=())
        ran += 1


def _worker_main(config: dict, worker: int) -> int:
    from ..core.workers import exit_with_parent

    exit_with_parent()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    _set_threads(config["threads"])
    return _run_worker(config, worker)


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, int(threads)))
    try:
        import cv2

        cv2.setNumThreads(1)
    except ImportError:  # pragma: no cover
        pass


# ---------------------------------------------------------------------------------------------------------------
# the whole search
# ---------------------------------------------------------------------------------------------------------------
def tune(model: str, data, *, out, checkpoint=None, dataset: str = "got10k", split: str = "val", trials: int = 20,
         study: str | None = None, storage=None, seed: int = 0, metric: str | None = None, workers: int = 1,
         sequences: int | None = None, max_frames: int | None = None, tune_num_scales: bool = False,
         device: str | None = "cpu", model_options: dict | None = None, progress: bool = True,
         heartbeat_interval: int = DEFAULT_HEARTBEAT, grace_period: int | None = None, n_startup: int = 10,
         enqueue: list[dict] | None = None, threads: int | None = None,
         mp_context: str = "spawn", restart_changed: bool = False) -> dict[str, Any]:
    """Tune ``model``'s tracker hyper-parameters on a validation set; returns (and writes) ``best_params.json``.

    Args:
        model: a :func:`sesiam_lib.models.build_model` name.
        data: the validation set (see :func:`~sesiam_lib.tuning.objective.load_validation_set`).
        out: the run folder: ``best_params.json``, ``trials.csv``, figures (and ``study.db`` by default).
        checkpoint: weights (``None``: random init).
        dataset: ``got10k`` (default; also the synthetic sets' layout) | ``otb`` | ``vot``.
        split: GOT-10k-layout split when ``data`` is a dataset root.
        trials: the study's target of completed trials (module docstring).
        study: study name (default ``<model>-<dataset>-<metric>``).
        storage: ``None`` (SQLite in ``out``), a SQLAlchemy URL or a SQLite file path.
        seed: sampler seed.
        metric: ``auc`` | ``ao`` | ``eao`` (default: ``ao`` for got10k, ``auc`` for otb, ``eao`` for vot).
        workers: local worker processes sharing the study.
        sequences, max_frames: tune on the first N sequences / F frames.
        tune_num_scales: also search the pyramid size (3 or 5).
        device: ``"cpu"``, ``"cuda"``, ``None`` (CUDA when available).
        heartbeat_interval, grace_period: seconds (stale-trial detection, module docstring).
        n_startup: random trials before TPE models the results (Optuna's default 10).
        enqueue: settings to try first (after the baseline), e.g. a known-good or known-bad setting.
        restart_changed: a study of this name made for another objective (:class:`ChangedStudyError`: other
            weights, data, metric or search space) is deleted and started afresh instead of stopping the run.
        threads: torch threads per worker (default: CPU cores / workers; 1 is fastest for the tiny models on a
            busy machine).

    Raises:
        TuningError: bad data folder, unknown model, a checkpoint that does not fit, a bad storage URL, a study of
            another objective.
    """
    import optuna

    from ..tracking.params import model_family, tracker_params

    metric = metric or default_metric(dataset)
    if int(trials) < 1:
        raise TuningError(f"--trials must be >= 1, got {trials}")
    workers = max(1, int(workers))
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TuningError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    seqs = load_validation_set(data, dataset, split, sequences=sequences, max_frames=max_frames)
    objective = TrackingObjective(model, seqs, metric, checkpoint=None if checkpoint is None else str(checkpoint),
                                  device=device, model_options=dict(model_options or {}),
                                  tune_num_scales=tune_num_scales)
    objective.model()  # unknown model / checkpoint that does not fit: fail before any storage is touched
    family = model_family(model)
    baseline = tracker_params(model, "OTB2015")
    if tune_num_scales:
        baseline["num_scales"] = 3

    from ..core.io import file_sha256

    ckpt_sha = file_sha256(checkpoint) if checkpoint is not None else None
    from ..core.provenance import state_dict_sha256

    identity = {"model": model, "model_options": dict(model_options or {}), "checkpoint_sha256": ckpt_sha,
                "weights_sha256": state_dict_sha256(objective.model().state_dict()),
                "data_fingerprint": data_fingerprint(seqs), "metric": metric, "dataset": dataset,
                "sequences": [s.name for s in seqs], "max_frames": max_frames,
                "search_space": {k: list(v) for k, v in SEARCH_SPACE.items()},
                "num_scales": list(NUM_SCALES_CHOICES) if tune_num_scales else None}
    url = storage_url(storage, out)
    name = study or f"{model}-{dataset}-{metric}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = open_storage(url, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
    try:
        the_study = open_study(store, name, seed=seed, identity=identity, n_startup=n_startup)
    except ChangedStudyError:
        if not restart_changed:
            raise
        log.warning("study %r was made for another objective: restart_changed, deleting it and starting afresh", name)
        optuna.delete_study(study_name=name, storage=store)
        the_study = open_study(store, name, seed=seed, identity=identity, n_startup=n_startup)
    the_study.enqueue_trial(baseline, user_attrs={"role": _BASELINE}, skip_if_exists=True)
    for params in enqueue or []:
        the_study.enqueue_trial(dict(params), user_attrs={"role": "enqueued"}, skip_if_exists=True)

    config = {"url": url, "study": name, "seed": int(seed), "objective": objective, "trials": int(trials),
              "heartbeat": int(heartbeat_interval), "grace": grace_period, "n_startup": int(n_startup),
              "threads": int(threads) if threads else max(1, (os.cpu_count() or 1) // workers)}
    start = time.time()
    done0, _ = _counts(the_study)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=int(trials), initial=min(done0, int(trials)), unit="trial", desc=f"tuning {model}")
    import torch

    threads_before = torch.get_num_threads()
    try:
        if workers == 1:
            _set_threads(config["threads"])

            def on_trial(st, trial):
                if bar is not None and trial.state == optuna.trial.TrialState.COMPLETE:
                    bar.update(1)
                    bar.set_postfix(best=f"{st.best_value:.4f}", last=f"{trial.value:.4f}")

            _run_worker(config, 0, on_trial)
        else:
            _run_pool(config, workers, the_study, bar, mp_context)
    finally:
        torch.set_num_threads(threads_before)  # this process's setting is the caller's
        if bar is not None:
            bar.close()
    elapsed = time.time() - start
    the_study = optuna.load_study(study_name=name, storage=store)
    record = study_summary(the_study, objective, baseline)
    record.update({
        "model": model, "model_family": family, "model_options": dict(model_options or {}),
        "checkpoint": None if checkpoint is None else str(checkpoint), "checkpoint_sha256": ckpt_sha,
        "metric": metric,
        "data": {"path": str(data), "dataset": dataset, "split": split,
                 "sequences": [s.name for s in seqs], "num_sequences": len(seqs), "max_frames": max_frames,
                 "frames": int(sum(len(s) for s in seqs)), "fingerprint": identity["data_fingerprint"]},
        "study": name, "storage": mask_url(url), "seed": int(seed), "workers": workers,
        "search_space": identity["search_space"], "tune_num_scales": bool(tune_num_scales),
        "this_call_seconds": round(elapsed, 3),
    })
    write_outputs(the_study, out, record)
    return record


def _run_pool(config: dict, workers: int, study, bar, mp_context: str) -> None:
    import multiprocessing as mp
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    seen = _counts(study)[0]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context(mp_context)) as pool:
        futures = [pool.submit(_worker_main, config, i) for i in range(workers)]
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, timeout=1.0, return_when=FIRST_EXCEPTION)
            for fut in finished:
                if fut.exception() is not None:
                    for other in pending:
                        other.cancel()
                    raise fut.exception()
            if bar is not None:
                done = _counts(study)[0]
                if done > seen:
                    bar.update(min(done, bar.total) - min(seen, bar.total))
                    seen = done
                    try:
                        bar.set_postfix(best=f"{study.best_value:.4f}")
                    except ValueError:
                        pass


def study_summary(study, objective: TrackingObjective | None = None, baseline: dict | None = None) -> dict:
    """``best_params.json``'s study part: the best setting and value, the baseline's value, the trial count."""
    from optuna.trial import TrialState

    from ..core.provenance import package_version

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        raise TuningError(f"study {study.study_name!r} has no completed trial")
    best = study.best_trial
    base = [t for t in complete if t.user_attrs.get("role") == _BASELINE]
    if base:
        baseline_value = float(base[0].value)
        baseline = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in base[0].params.items()}
    elif objective is not None and baseline is not None:  # its trial failed or is still running: score it here
        baseline_value = float(objective.score(baseline))
    else:
        baseline_value = None
    durations = [(t.datetime_complete - t.datetime_start).total_seconds() for t in complete
                 if t.datetime_complete and t.datetime_start]
    import optuna

    record = {k: round(float(best.params[k]), 6) for k in SEARCH_SPACE}
    if "num_scales" in best.params:
        record["num_scales"] = int(best.params["num_scales"])
    record.update({
        "format": TUNED_FORMAT,
        "value": float(best.value),
        "baseline_value": baseline_value,
        "baseline_params": baseline,
        "improvement": None if baseline_value is None else float(best.value) - baseline_value,
        "best_trial": int(best.number),
        "trials": len(complete),
        "trials_failed": len(study.get_trials(deepcopy=False, states=(TrialState.FAIL,))),
        "seconds_per_trial": float(np.mean(durations)) if durations else None,
        "library_version": package_version(),
        "optuna_version": optuna.__version__,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    })
    return record


def write_outputs(study, out, record: dict) -> None:
    """``best_params.json``, ``trials.csv`` and the figures (every file written atomically)."""
    from ..core.io import atomic_write_csv, atomic_write_json

    out = Path(out)
    atomic_write_json(out / BEST_PARAMS, record)
    rows = []
    names = list(SEARCH_SPACE) + (["num_scales"] if record.get("tune_num_scales") else [])
    for t in study.get_trials(deepcopy=False):
        row = {"number": t.number, "state": t.state.name, "value": t.value, "role": t.user_attrs.get("role", ""),
               "worker": t.user_attrs.get("worker", "")}
        row.update({k: (round(t.params[k], 6) if isinstance(t.params.get(k), float) else t.params.get(k))
                    for k in names})
        row["datetime_start"] = t.datetime_start.isoformat() if t.datetime_start else ""
        row["seconds"] = ((t.datetime_complete - t.datetime_start).total_seconds()
                          if t.datetime_complete and t.datetime_start else "")
        rows.append(row)
    atomic_write_csv(out / TRIALS_CSV, rows, ["number", "state", "value", "role", "worker", *names, "datetime_start",
                                              "seconds"])
    _write_figures(study, out)


def _write_figures(study, out: Path) -> None:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg")
        except Exception:  # a GUI backend already running: keep it
            pass
    import matplotlib.pyplot as plt
    import optuna.visualization.matplotlib as ovm
    from optuna.exceptions import ExperimentalWarning

    from ..evaluation.plots import save_figure

    plots = {"optimization_history.png": ovm.plot_optimization_history,
             "param_importances.png": ovm.plot_param_importances,
             "slice.png": ovm.plot_slice}
    for filename, plot in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                warnings.simplefilter("ignore", UserWarning)
                axes = plot(study)
            fig = np.ravel(axes)[0].figure
            save_figure(fig, out / filename, dpi=100)
            plt.close(fig)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:  # too few trials for importances ...
            warnings.warn(f"tuning figure {filename} skipped: {exc}", RuntimeWarning, stacklevel=2)

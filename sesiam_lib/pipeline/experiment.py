"""Where a pipeline run keeps things, so that notebooks 02-04 agree without passing paths around.

``<work_root>/<run>/`` holds what must not go into git (generated data, checkpoints); ``<results_root>/<run>/``
holds the small reviewable outputs (executed notebooks, logs, tracking result files, tables, figures)::

    <work_root>/<run>/data/<dataset>/{train,val,test}/...            generated synthetic benchmark
    <work_root>/<run>/train/<dataset>/<model>_s<seed>/checkpoints/   training run
    <results_root>/<run>/training/<dataset>/<model>_s<seed>/         training logs and curves
    <results_root>/<run>/tracking/<dataset>/<model>_s<seed>/<seq>.txt  OTB-format tracking results
    <results_root>/<run>/tuning/<dataset>/<model>_s<seed>/best_params.json  tuned tracker setting (notebook 05)
    <work_root>/<run>/tuning/<dataset>/<model>_s<seed>/study.db       its Optuna study (resumable)
    <results_root>/<run>/benchmark/                                   tables and plots
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunPaths", "display_name", "tracker_name", "load_benchmark", "benchmark_protocol", "truncate_sequence",
           "is_dry_run", "dry_run_eao_range", "write_dry_run_note", "MissingSequencesWarning", "DRY_RUN_NOTE",
           "SYNTHETIC", "OTB", "VOT", "TRUE_SIZE_TAG", "tracking_tag", "TRACKER_OVERRIDE_KEYS",
           "check_tracker_overrides", "checkpoint_entry", "tuned_file", "figure_trackers"]

_DISPLAY = {
    "siamfc_tiny": "SiamFC+ tiny",
    "se_siamfc_tiny": "SE-SiamFC tiny",
    "se_siamfc_tiny_sesn": "SE-SiamFC tiny (SESN-style)",
    "siamfc_resnet22": "SiamFC+",
    "se_siamfc_resnet22": "SE-SiamFC",
}


def display_name(model: str) -> str:
    """Human label of a model name for plots and tables (``se_siamfc_tiny`` -> ``SE-SiamFC tiny``); a tagged
    variant ``<model>-<tag>`` (notebook 02's ``tag``) -> ``SE-SiamFC tiny (tag)``."""
    base, _, tag = model.partition("-")
    if base in _DISPLAY:
        return f"{_DISPLAY[base]} ({tag})" if tag else _DISPLAY[base]
    return model


def tracker_name(model: str, seed: int) -> str:
    """Result folder name of one trained model: ``<model>_s<seed>`` (the seed suffix is what tables average over)."""
    return f"{model}_s{int(seed)}"


def figure_trackers(names, given, seeds) -> list[str]:
    """The trackers notebook 03 draws per-tracker figures for (response maps, responses over shifts), in order.

    One figure per family, not per seed: the notebook's own models at the first tracked seed (``seeds[0]``), and of
    the ``given`` (``checkpoints``) trackers those without a seed suffix plus, of each ``<base>_s<k>`` family, the
    smallest k. Thirty seeded checkpoints would otherwise embed thirty figures in every executed notebook.
    """
    from ..evaluation.aggregate import split_seed

    given = set(given)
    first_given: dict[str, int] = {}
    for name in names:
        base, seed = split_seed(name)
        if name in given and seed is not None:
            first_given[base] = min(seed, first_given.get(base, seed))
    out = []
    for name in names:
        base, seed = split_seed(name)
        if name in given:
            keep = seed is None or seed == first_given[base]
        else:
            keep = bool(seeds) and seed == int(seeds[0])
        if keep:
            out.append(name)
    return out


@dataclass(frozen=True)
class RunPaths:
    """Paths of one pipeline run (see the module docstring)."""

    run_name: str
    results_root: str | Path = "results"
    work_root: str | Path = "runs"

    @property
    def results(self) -> Path:
        return Path(self.results_root) / self.run_name

    @property
    def work(self) -> Path:
        return Path(self.work_root) / self.run_name

    def data_root(self, dataset: str) -> Path:
        return self.work / "data" / dataset

    def train_dir(self, dataset: str, model: str, seed: int) -> Path:
        return self.work / "train" / dataset / tracker_name(model, seed)

    def training_results(self, dataset: str, model: str, seed: int) -> Path:
        return self.results / "training" / dataset / tracker_name(model, seed)

    def checkpoint(self, dataset: str, model: str, seed: int) -> Path:
        """The weights to track with: ``best.pth`` (best validation epoch) if it exists, else ``final.pth``."""
        checkpoints = self.train_dir(dataset, model, seed) / "checkpoints"
        for name in ("best.pth", "final.pth"):
            if (checkpoints / name).is_file():
                return checkpoints / name
        raise FileNotFoundError(f"no trained checkpoint for {model} (seed {seed}) on {dataset} in {checkpoints}; "
                                "run notebook 02 (or the pipeline's training steps) first")

    def tracking_results(self, dataset: str) -> Path:
        return self.results / "tracking" / dataset

    def tuning_results(self, dataset: str) -> Path:
        """Notebook 05's tuned settings: ``<results>/<run>/tuning/<dataset>/<tracker>/best_params.json`` (its
        Optuna studies live in ``<work>/<run>/tuning/<dataset>/<tracker>/study.db``)."""
        return self.results / "tuning" / dataset

    def benchmark(self) -> Path:
        return self.results / "benchmark"


SYNTHETIC = ("T-MNIST", "S-MNIST")
OTB = ("OTB2013", "OTB2015")
VOT = ("VOT2016", "VOT2017")


def benchmark_protocol(dataset: str) -> str:
    """``"vot"`` (supervised runs with restarts) for VOT2016/2017, ``"otb"`` (one pass) for everything else."""
    return "vot" if dataset in VOT else "otb"


class MissingSequencesWarning(UserWarning):
    """A dry run (``limit_sequences`` / ``limit_frames`` given) skipped sequences missing from a benchmark's tree."""


DRY_RUN_NOTE = "DRY_RUN.md"


def is_dry_run(limit_sequences: int | None = None, limit_frames: int | None = None) -> bool:
    """Whether the dry-run limits (notebooks 02-04's ``limit_sequences`` / ``limit_frames``) are set."""
    return bool(limit_sequences) or bool(limit_frames)


def truncate_sequence(sequence, max_frames: int):
    """A copy of ``sequence`` holding only its first ``max_frames`` frames (boxes, polygons, labels and per-frame
    tags cut alike); the sequence itself when it is not longer."""
    import dataclasses

    import numpy as np

    n = int(max_frames)
    if n < 1:
        raise ValueError(f"limit_frames must be >= 1, got {max_frames!r}")
    if len(sequence) <= n:
        return sequence
    attributes = dict(sequence.attributes)
    attributes["truncated_from"] = len(sequence)
    for key, value in list(attributes.items()):
        if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == len(sequence):
            attributes[key] = value[:n]  # per-frame arrays (e.g. GOT-10k cut_by_image)
    if isinstance(attributes.get("frame_tags"), dict):  # VOT per-frame tags
        tags = {k: np.asarray(v)[:n] for k, v in attributes["frame_tags"].items()}
        attributes["frame_tags"] = tags
        if "tags" in attributes:
            attributes["tags"] = sorted(k for k, v in tags.items() if np.asarray(v).any())

    def cut(array):
        return None if array is None else array[:n]

    return dataclasses.replace(sequence, frames=list(sequence.frames[:n]), boxes=sequence.boxes[:n],
                               polygons=cut(sequence.polygons), absent=cut(sequence.absent),
                               cover=cut(sequence.cover), attributes=attributes)


def dry_run_eao_range(dataset: str, limit_frames: int | None) -> tuple[int, int] | None:
    """The EAO range of a dry run: the benchmark's own (VOT2016 [108, 371], VOT2017 [100, 356]) clipped to the
    ``limit_frames`` frames tracked, so that short dry runs still get a number (``None``: the benchmark's range
    unchanged, i.e. no frame limit or one beyond its end)."""
    from ..evaluation.vot import EAO_RANGES

    low, high = EAO_RANGES[dataset]
    if not limit_frames or int(limit_frames) >= high:
        return None
    m = int(limit_frames)
    return (min(low, m), min(high, m))


def write_dry_run_note(paths: "RunPaths", limit_sequences: int | None, limit_frames: int | None,
                       details: str = "") -> Path | None:
    """Write ``<results>/<run>/DRY_RUN.md`` (the pipeline puts it at the top of the run's README) saying that
    this run tracked a subset of the benchmarks and that its numbers are not the benchmarks'; ``None`` (and no
    file) when no limit is set -- a note left by an earlier dry run into the same run folder is then removed (the
    pipeline re-runs every step when the limits change, so a step without limits means a run without them).
    ``details`` (Markdown) is appended, e.g. the sequences missing from a tree."""
    from ..core.io import atomic_write_text

    if not is_dry_run(limit_sequences, limit_frames):
        (paths.results / DRY_RUN_NOTE).unlink(missing_ok=True)
        return None
    what = []
    if limit_sequences:
        what.append(f"the first **{int(limit_sequences)}** sequences present in each benchmark's folder")
    if limit_frames:
        what.append(f"the first **{int(limit_frames)}** frames of each sequence (VOT: of the supervised run)")
    text = ("# ⚠ DRY RUN — these numbers are NOT the benchmarks' numbers\n\n"
            f"This run was made with `limit_sequences={limit_sequences}` / `limit_frames={limit_frames}`: it tracked "
            f"and evaluated only {' and '.join(what)}. Its tables check that the pipeline works end to end; they are "
            "not comparable with the paper or with any published result. Sequences missing from a benchmark's "
            "folder were skipped with a warning instead of stopping the run."
            + (f" VOT EAO: the benchmark's range of sequence lengths clipped to the {int(limit_frames)} frames "
               "tracked." if limit_frames else "")
            + " Run without `limit_sequences` / `limit_frames` for real numbers.\n")
    if details:
        text += "\n" + details.strip() + "\n"
    path = paths.results / DRY_RUN_NOTE
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, text)
    return path


def load_benchmark(dataset: str, paths: RunPaths | None = None, dataset_root: str | Path | None = None,
                   split: str = "test", max_sequences: int | None = None, *, limit_sequences: int | None = None,
                   limit_frames: int | None = None, missing: list | None = None) -> list:
    """The evaluation sequences of ``dataset``.

    ``T-MNIST`` / ``S-MNIST``: the run's generated synthetic set (``paths.data_root(dataset)``, split ``split``);
    ``OTB2013`` / ``OTB2015`` / ``VOT2016`` / ``VOT2017`` / ``GOT-10k``: the real benchmark under ``dataset_root``.

    Dry runs (the notebooks' ``limit_sequences`` / ``limit_frames``): ``limit_sequences`` keeps the first N
    sequences *present* in the tree, ``limit_frames`` the first M frames of each (:func:`truncate_sequence`).
    With either limit set, sequences missing from the tree are skipped with a :class:`MissingSequencesWarning`
    naming them (and appended to ``missing`` when a list is given) instead of raising. ``max_sequences`` (the
    older parameter) keeps the first N sequences and still requires the whole benchmark.
    """
    import warnings

    from ..data import load_got10k, load_otb, load_vot

    lenient = is_dry_run(limit_sequences, limit_frames)
    absent: list | None = [] if lenient else None
    if dataset in SYNTHETIC:
        if paths is None:
            raise ValueError("load_benchmark: synthetic datasets need the run's paths")
        sequences = load_got10k(paths.data_root(dataset), split, missing=absent)
    else:
        if not dataset_root:
            raise ValueError(f"load_benchmark: dataset {dataset!r} needs dataset_root (the benchmark's folder)")
        if dataset in OTB:
            sequences = load_otb(dataset_root, dataset, missing=absent)
        elif dataset in VOT:
            sequences = load_vot(dataset_root, missing=absent)
        elif dataset.upper().startswith("GOT"):
            sequences = load_got10k(dataset_root, split, missing=absent)
        else:
            raise ValueError(f"load_benchmark: unknown dataset {dataset!r}; use one of "
                             f"{SYNTHETIC + OTB + VOT + ('GOT-10k',)}")
    if absent:
        if missing is not None:
            missing.extend(absent)
        warnings.warn(f"{dataset} (dry run): {len(absent)} sequence(s) missing from {dataset_root or split} "
                      f"were skipped: {', '.join(absent)}", MissingSequencesWarning, stacklevel=2)
    if lenient and not sequences:
        raise ValueError(f"load_benchmark: no {dataset} sequence found in {dataset_root}")
    count = limit_sequences or max_sequences
    sequences = sequences[:int(count)] if count else sequences
    if limit_frames:
        sequences = [truncate_sequence(seq, limit_frames) for seq in sequences]
    return sequences


# --------------------------------------------------------------------------------------------------------------
# notebook 03's tracking options (true_size, tracker_overrides, tuned / tuned_seed)
# --------------------------------------------------------------------------------------------------------------
TRUE_SIZE_TAG = "truesize"
"""Appended to notebook 03's ``tracker_tag`` for "true size given" runs (``true_size=True``)."""


def tracking_tag(tracker_tag: str = "", true_size: bool = False, dataset: str | None = None) -> str:
    """The tag of notebook 03's result folders ``<model>-<tag>_s<seed>``: ``tracker_tag``, with
    :data:`TRUE_SIZE_TAG` appended for "true size given" runs (``""`` -> ``"truesize"``, ``"onescale"`` ->
    ``"onescale-truesize"``), so that their results never share a folder with normal ones.

    Raises:
        ValueError: ``true_size`` for a VOT dataset (only one-pass runs can be given the true size).
    """
    tag = str(tracker_tag or "")
    if not true_size:
        return tag
    if dataset is not None and benchmark_protocol(dataset) == "vot":
        raise ValueError(f"true_size: {dataset} is tracked with VOT restarts; only one-pass benchmarks can be "
                         "tracked with the true size given")
    return f"{tag}-{TRUE_SIZE_TAG}" if tag else TRUE_SIZE_TAG


#: ``SiamFCTracker`` keywords that ``tracker_overrides`` may set (hyper-parameters, geometry, inference options)
TRACKER_OVERRIDE_KEYS = ("scale_step", "scale_lr", "scale_penalty", "w_influence", "num_scales", "response_up",
                         "context_amount", "fast", "upsample", "exemplar_size", "instance_size", "score_size",
                         "total_stride", "debug")


def check_tracker_overrides(overrides) -> dict:
    """Notebook 03's ``tracker_overrides`` (e.g. ``{"num_scales": 1}``), checked: a dict whose keys are
    :data:`TRACKER_OVERRIDE_KEYS`. They go into every tracker's ``tracker_options``, which are applied after the
    released or tuned setting (they win over both).

    Raises:
        ValueError: not a dict, or an unknown key (named, with the known ones).
    """
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ValueError(f"tracker_overrides: expected a dict such as {{'num_scales': 1}}, got {overrides!r}")
    unknown = [k for k in overrides if k not in TRACKER_OVERRIDE_KEYS]
    if unknown:
        raise ValueError(f"tracker_overrides: unknown key(s) {', '.join(map(repr, unknown))}; known: "
                         f"{', '.join(TRACKER_OVERRIDE_KEYS)}")
    return dict(overrides)


def checkpoint_entry(name: str, entry, dataset: str) -> dict:
    """One ``checkpoints`` entry of notebooks 03 / 05 for ``dataset``: ``{"model", "checkpoint", "model_options"}``.

    ``entry``: a dict with ``model``, ``checkpoint`` (a path, or a dict dataset -> path) and optional
    ``model_options`` (``build_model`` options, e.g. ``{"head": "scale"}``). ``ValueError`` naming the entry when a
    key is missing or unknown, or the checkpoint dict has no path for ``dataset``.
    """
    if not isinstance(entry, dict) or not {"model", "checkpoint"} <= set(entry):
        raise ValueError(f"checkpoints[{name!r}]: expected a dict with model and checkpoint, got {entry!r}")
    unknown = set(entry) - {"model", "checkpoint", "model_options"}
    if unknown:
        raise ValueError(f"checkpoints[{name!r}]: unknown keys {sorted(unknown)} (model, checkpoint, model_options)")
    checkpoint = entry["checkpoint"]
    if isinstance(checkpoint, dict):
        if dataset not in checkpoint:
            raise ValueError(f"checkpoints[{name!r}]: no checkpoint for {dataset} (has {sorted(checkpoint)})")
        checkpoint = checkpoint[dataset]
    return {"model": entry["model"], "checkpoint": checkpoint, "model_options": dict(entry.get("model_options") or {})}


def tuned_file(paths: RunPaths, dataset: str, tuned, *, name: str, model: str | None = None,
               seed: int | None = None, tuned_seed: int | None = None) -> str | None:
    """The tuned setting (a ``best_params.json``) of one of notebook 03's trackers, or ``None`` (released setting).

    Args:
        paths: the run's paths (notebook 05 wrote ``paths.tuning_results(dataset)/<tracker>/best_params.json``).
        tuned: ``{}`` / ``None`` (none); a dict by tracker name or models entry (``name`` first, then ``name``
            without its ``_s<seed>`` suffix, then ``model``);
            or ``"auto"``: notebook 05's file for this dataset.
        name: the tracker's name (its result folder; a ``checkpoints`` entry's name).
        model, seed: for a trained model, its ``models`` entry and seed: with ``"auto"`` the file of
            ``<model>_s<seed>`` (notebook 05's name: notebook 03's ``tracker_tag`` and the true-size tag are not
            part of it, so variants tracked from the same model share its tuned setting).
        tuned_seed: with ``"auto"``: the file of ``<model>_s<tuned_seed>`` for every seed (the v2 protocol tunes
            the seed-0 model only).

    Raises:
        FileNotFoundError: ``"auto"`` and the file does not exist (the path is named).
        ValueError: ``tuned_seed`` without ``tuned="auto"``.
    """
    if tuned == "auto":
        if model is not None and seed is not None:
            folder = tracker_name(model, int(tuned_seed) if tuned_seed is not None else seed)
        else:
            folder = name
        path = paths.tuning_results(dataset) / folder / "best_params.json"
        if not path.is_file():
            seeds = f" (tuned_seed={tuned_seed})" if tuned_seed is not None else ""
            raise FileNotFoundError(f"tuned='auto'{seeds}: {path} does not exist; run notebook 05 (tuning) for "
                                    f"{dataset} first")
        return str(path)
    if tuned_seed is not None:
        raise ValueError(f"tuned_seed={tuned_seed!r} needs tuned='auto' (got tuned={tuned!r})")
    if tuned and not isinstance(tuned, dict):
        raise ValueError(f"tuned: expected 'auto' or a dict by tracker name / models entry, got {tuned!r}")
    tuned = tuned or {}
    # the name, then the name without its seed suffix (checkpoints entries "<arm>_s<seed>" share "<arm>"'s file),
    # then the models entry
    unseeded = re.sub(r"_s\d+$", "", name)
    return tuned.get(name) or tuned.get(unseeded) or (tuned.get(model) if model is not None else None)

"""Where a pipeline run keeps things, so that notebooks 02-04 agree without passing paths around.

``<work_root>/<run>/`` holds what must not go into git (generated data, checkpoints); ``<results_root>/<run>/``
holds the small reviewable outputs (executed notebooks, logs, tracking result files, tables, figures)::

    <work_root>/<run>/data/<dataset>/{train,val,test}/...            generated synthetic benchmark
    <work_root>/<run>/train/<dataset>/<model>_s<seed>/checkpoints/   training run
    <results_root>/<run>/training/<dataset>/<model>_s<seed>/         training logs and curves
    <results_root>/<run>/tracking/<dataset>/<model>_s<seed>/<seq>.txt  OTB-format tracking results
    <results_root>/<run>/benchmark/                                   tables and plots
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunPaths", "display_name", "tracker_name", "load_benchmark", "benchmark_protocol", "SYNTHETIC", "OTB", "VOT"]

_DISPLAY = {
    "siamfc_tiny": "SiamFC+ tiny",
    "se_siamfc_tiny": "SE-SiamFC tiny",
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

    def benchmark(self) -> Path:
        return self.results / "benchmark"


SYNTHETIC = ("T-MNIST", "S-MNIST")
OTB = ("OTB2013", "OTB2015")
VOT = ("VOT2016", "VOT2017")


def benchmark_protocol(dataset: str) -> str:
    """``"vot"`` (supervised runs with restarts) for VOT2016/2017, ``"otb"`` (one pass) for everything else."""
    return "vot" if dataset in VOT else "otb"


def load_benchmark(dataset: str, paths: RunPaths | None = None, dataset_root: str | Path | None = None,
                   split: str = "test", max_sequences: int | None = None) -> list:
    """The evaluation sequences of ``dataset``.

    ``T-MNIST`` / ``S-MNIST``: the run's generated synthetic set (``paths.data_root(dataset)``, split ``split``);
    ``OTB2013`` / ``OTB2015`` / ``VOT2016`` / ``VOT2017`` / ``GOT-10k``: the real benchmark under ``dataset_root``.
    """
    from ..data import load_got10k, load_otb, load_vot

    if dataset in SYNTHETIC:
        if paths is None:
            raise ValueError("load_benchmark: synthetic datasets need the run's paths")
        sequences = load_got10k(paths.data_root(dataset), split)
    else:
        if not dataset_root:
            raise ValueError(f"load_benchmark: dataset {dataset!r} needs dataset_root (the benchmark's folder)")
        if dataset in OTB:
            sequences = load_otb(dataset_root, dataset)
        elif dataset in VOT:
            sequences = load_vot(dataset_root)
        elif dataset.upper().startswith("GOT"):
            sequences = load_got10k(dataset_root, split)
        else:
            raise ValueError(f"load_benchmark: unknown dataset {dataset!r}; use one of "
                             f"{SYNTHETIC + OTB + VOT + ('GOT-10k',)}")
    return sequences[:max_sequences] if max_sequences else sequences

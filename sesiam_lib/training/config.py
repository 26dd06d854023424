"""Training configuration: one dataclass tree, YAML presets shipped with the package, strict key checking.

A configuration is built from up to three layers, later ones winning:

1. a preset (``sesiam_lib/training/presets/<name>.yaml``, see :func:`list_presets`), chosen with
   ``preset=`` / ``--preset NAME`` or a ``preset:`` key inside a config file or dict;
2. a config file (YAML) or a dict / :class:`TrainConfig`;
3. overrides ``key=value`` with dotted keys for nested values (``optim.lr_start=1e-3``), values parsed as
   YAML scalars (``true``, ``null``, ``1e-3``, ``[0, 0.1]``).

Unknown keys, at any level, are an error that lists them and suggests close matches.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

__all__ = [
    "ConfigError",
    "TrainConfig",
    "DataConfig",
    "OptimConfig",
    "CheckpointConfig",
    "UnfreezeConfig",
    "ValidationConfig",
    "load_config",
    "config_from_dict",
    "config_to_dict",
    "parse_overrides",
    "apply_overrides",
    "list_presets",
    "load_preset",
    "PRESET_DIR",
]

PRESET_DIR = Path(__file__).resolve().parent / "presets"

AMP_MODES = ("none", "bf16", "fp16")
UNFREEZE_MODES = ("none", "gradual")
DATASETS = ("synthetic", "got10k")


class ConfigError(ValueError):
    """A configuration that cannot be used: unknown keys, wrong types, missing required values."""


@dataclass
class DataConfig:
    """Where training pairs come from and how they are sampled (FACTS §5).

    Attributes:
        dataset: ``"synthetic"`` (a folder written by :func:`sesiam_lib.data.generate_synthetic`) or
            ``"got10k"`` (a GOT-10k root with ``train/list.txt``).
        root: dataset folder. Required (the ``paper`` preset has no default: give the GOT-10k path).
        split: split of ``root`` to train on.
        pairs_per_epoch: training pairs per epoch, over all processes together (the release: 450,000).
        frame_range: template and search frames lie within ±``frame_range`` frames of the same track.
        shift: search-crop shift augmentation, ± pixels.
        scale: search-crop scale augmentation, ± fraction.
        color: colour-jitter strength.
        num_workers: DataLoader worker processes per training process (0: load in the main process).
        generate: when not ``null`` and ``root`` holds no dataset yet, synthetic data is generated there
            first with ``sesiam_lib.data.generate_synthetic(root, **generate)`` (presets for the synthetic
            benchmark use this so that they run stand-alone).
        kwargs: extra keyword arguments for :class:`sesiam_lib.data.PairDataset` (e.g. ``context``, ``radius``).
    """

    dataset: str = "synthetic"
    root: str | None = None
    split: str = "train"
    pairs_per_epoch: int = 2000
    frame_range: int = 100
    shift: float = 4.0
    scale: float = 0.05
    color: float = 0.05
    num_workers: int = 0
    generate: dict | None = None
    kwargs: dict = field(default_factory=dict)


@dataclass
class OptimConfig:
    """SGD with momentum, a log-spaced learning rate per epoch and gradient-norm clipping (FACTS §5).

    The learning rate of epoch ``e`` (0-based) is ``np.logspace(log10(lr_start), log10(lr_end), epochs)[e]``.
    A step whose loss (or gradient norm) is not finite is skipped and counted; ``max_nonfinite_steps`` such
    steps in a row stop training with a :class:`~sesiam_lib.training.trainer.TrainingDivergedError`.
    """

    lr_start: float = 1e-2
    lr_end: float = 1e-5
    momentum: float = 0.9
    weight_decay: float = 1e-4
    grad_clip: float = 10.0
    max_nonfinite_steps: int = 10


@dataclass
class CheckpointConfig:
    """When checkpoints are written into ``<run_dir>/checkpoints``.

    Attributes:
        every_steps: also write ``last.pth`` every this many optimisation steps (0: only at epoch ends).
        keep_last: number of per-epoch ``epoch_XXX.pth`` files kept (older ones are deleted; 0 keeps all).
    """

    every_steps: int = 0
    keep_last: int = 3


@dataclass
class UnfreezeConfig:
    """Gradual unfreezing of the backbone, last blocks first (SiamDW / SE-SiamFC release).

    Attributes:
        mode: ``"gradual"`` (start with only the last block trainable and unfreeze more at ``fractions``
            of training, see :mod:`sesiam_lib.training.unfreeze`) or ``"none"`` (everything trainable
            from the start: what training from scratch needs).
        fractions: the 7 fractions of training at which stages 0..6 begin (which blocks each stage
            unfreezes is the model's release table; SE-SiamFC's last stage also unfreezes the stem, SiamFC+'s
            keeps it frozen, as the two releases did).
    """

    mode: str = "none"
    fractions: list = field(default_factory=lambda: [0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7])


@dataclass
class ValidationConfig:
    """Optional per-epoch validation: success AUC of the tracker on a validation split.

    The best epoch (highest AUC) is recorded and its weights written to ``checkpoints/best.pth``.

    Attributes:
        enabled: run validation at the end of every ``every``-th epoch (and the last one).
        dataset / root: default to the training data's.
        split: validation split of ``root``.
        max_sequences: validate on the first this many sequences (``null``: all).
        max_frames: truncate each sequence to this many frames (``null``: whole sequences).
        tracker: keyword arguments for :meth:`sesiam_lib.tracking.SiamFCTracker.from_benchmark` (e.g.
            ``benchmark``, ``scale_step``); the default is the model family's released OTB2015 setting.
        generate: like ``data.generate``: synthetic data generated into the validation split when it is
            missing (``generate_synthetic(root, split=split, **generate)``).
        patience: stop at a validation plateau (``null``: never; training runs all ``epochs``, as without
            these three keys). The rule, evaluated after every epoch ``E`` (1-based):

            * validation runs after every ``every``-th epoch and after the last one (as without ``patience``);
            * a validated epoch *improves* when its AUC exceeds the best AUC of all earlier validated epochs
              (the highest one, improving or not) by more than ``min_delta``; the first validated epoch always
              improves. Training start counts as an improvement at epoch 0;
            * training stops after epoch ``E`` when ``E >= min_epochs`` and ``E - (last improving epoch) >=
              patience``, i.e. none of the last ``patience`` epochs had an improving validation.

            The learning-rate schedule stays defined over ``epochs`` (the maximum), so a stopped run's epochs are
            exactly the first epochs of the same run without ``patience``. ``best.pth`` is the epoch with the
            highest AUC (not only the improving ones). ``patience`` needs ``enabled`` and must be ``>= every``
            (every window of ``patience`` epochs then holds a validation). A stop is recorded in ``train.log``,
            in ``final.pth`` (``stopped_early``, ``stop_epoch``) and in the :class:`TrainResult`. A stopped run
            resumed with the same rule trains nothing; with a larger ``patience`` (or a rule that would not have
            stopped yet) it continues; a rule that would have stopped it *earlier* than where it is is refused
            (the run would not be the run that rule makes). See :mod:`sesiam_lib.training.plateau`.
        min_delta: the margin of the improvement test above (AUC units, ``>= 0``).
        min_epochs: never stop before this many epochs have run.
    """

    enabled: bool = False
    dataset: str | None = None
    root: str | None = None
    split: str = "val"
    every: int = 1
    max_sequences: int | None = 8
    max_frames: int | None = None
    tracker: dict = field(default_factory=dict)
    generate: dict | None = None
    patience: int | None = None
    min_delta: float = 0.0
    min_epochs: int = 0


@dataclass
class TrainConfig:
    """Everything a training run needs. See the presets in ``sesiam_lib/training/presets`` for examples.

    Attributes:
        model: a name for :func:`sesiam_lib.models.build_model` (``siamfc_resnet22``,
            ``se_siamfc_resnet22``, ``siamfc_tiny``, ``se_siamfc_tiny``).
        model_kwargs: extra keyword arguments for ``build_model``.
        pretrained: initial weights: an SE-SiamFC / SiamFC+ state dict or checkpoint of this model (loaded
            directly), or -- for SE-SiamFC -- a plain CIResNet-22 (ImageNet) state dict, transferred with
            :func:`sesiam_lib.models.transfer_weights`. ``null``: random initialisation.
        epochs, batch_size: number of epochs; pairs per step and per process.
        seed: seeds model initialisation, pair sampling and the sampler order.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``. Under ``torchrun`` each
            process uses ``cuda:LOCAL_RANK`` (or the CPU with the gloo backend).
        amp: ``none``, ``bf16`` or ``fp16`` autocast (fp16 with a gradient scaler).
        num_threads: ``torch.set_num_threads`` for the run (``null``: leave as is).
        deterministic: ``torch.use_deterministic_algorithms(True)`` (CPU runs are deterministic anyway).
        run_dir: the run folder: checkpoints, logs, the resolved config.
        resume: ``false``: start fresh (an error if ``run_dir`` already has checkpoints, unless
            ``overwrite``); ``true``: continue from ``run_dir/checkpoints/last.pth`` (an error if absent);
            ``"auto"``: continue if it exists, else start fresh; or a checkpoint path.
        overwrite: allow starting fresh in a run folder that has checkpoints (they are replaced).
        progress: tqdm progress bar: ``true``, ``false`` or ``"auto"`` (only on a terminal).
        preset: the preset this configuration started from (informational).
    """

    model: str = "siamfc_tiny"
    model_kwargs: dict = field(default_factory=dict)
    pretrained: str | None = None
    epochs: int = 5
    batch_size: int = 8
    seed: int = 0
    device: str = "auto"
    amp: str = "none"
    num_threads: int | None = None
    deterministic: bool = False
    run_dir: str = "runs/train"
    resume: Any = False
    overwrite: bool = False
    progress: Any = "auto"
    preset: str | None = None
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    unfreeze: UnfreezeConfig = field(default_factory=UnfreezeConfig)
    validation: ValidationConfig = field(default_factory=ValidationConfig)

    def to_dict(self) -> dict:
        return config_to_dict(self)

    def validate(self) -> "TrainConfig":
        """Check value ranges; raise :class:`ConfigError` listing every problem."""
        problems = [f"{key} must be a finite number, got {value!r}" for key, value in _non_finite(self)]
        from ..core.io import folder_problem

        if folder_problem(self.run_dir):
            problems.append(f"run_dir: {folder_problem(self.run_dir)}; choose another run_dir")
        if self.epochs < 1:
            problems.append(f"epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            problems.append(f"batch_size must be >= 1, got {self.batch_size}")
        if self.amp not in AMP_MODES:
            problems.append(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if self.data.dataset not in DATASETS:
            problems.append(f"data.dataset must be one of {DATASETS}, got {self.data.dataset!r}")
        if self.validation.dataset is not None and self.validation.dataset not in DATASETS:
            problems.append(f"validation.dataset must be one of {DATASETS}, got {self.validation.dataset!r}")
        if self.data.pairs_per_epoch < 1:
            problems.append(f"data.pairs_per_epoch must be >= 1, got {self.data.pairs_per_epoch}")
        if self.data.num_workers < 0:
            problems.append(f"data.num_workers must be >= 0, got {self.data.num_workers}")
        if self.optim.lr_start <= 0 or self.optim.lr_end <= 0:
            problems.append("optim.lr_start and optim.lr_end must be > 0")
        if self.optim.max_nonfinite_steps < 1:
            problems.append(f"optim.max_nonfinite_steps must be >= 1, got {self.optim.max_nonfinite_steps}")
        if self.checkpoint.every_steps < 0 or self.checkpoint.keep_last < 0:
            problems.append("checkpoint.every_steps and checkpoint.keep_last must be >= 0")
        if self.unfreeze.mode not in UNFREEZE_MODES:
            problems.append(f"unfreeze.mode must be one of {UNFREEZE_MODES}, got {self.unfreeze.mode!r}")
        fr = list(self.unfreeze.fractions)
        if len(fr) != 7 or any(not isinstance(f, (int, float)) for f in fr) or fr != sorted(fr) or (fr and fr[0] != 0):
            problems.append(
                "unfreeze.fractions must be 7 increasing numbers starting at 0 (one per stage), got "
                f"{self.unfreeze.fractions!r}"
            )
        if self.validation.every < 1:
            problems.append(f"validation.every must be >= 1, got {self.validation.every}")
        v = self.validation
        if v.patience is not None:
            if v.patience < 1:
                problems.append(f"validation.patience must be >= 1 or null, got {v.patience}")
            elif v.patience < v.every:
                problems.append(f"validation.patience ({v.patience}) must be >= validation.every ({v.every}): "
                                "otherwise training can stop between two validations")
            if not v.enabled:
                problems.append("validation.patience needs validation.enabled=true (the plateau is one of the "
                                "validation AUC)")
        if v.min_delta < 0:
            problems.append(f"validation.min_delta must be >= 0, got {v.min_delta}")
        if v.min_epochs < 0:
            problems.append(f"validation.min_epochs must be >= 0, got {v.min_epochs}")
        if not (self.resume in (True, False, "auto") or isinstance(self.resume, (str, os.PathLike))):
            problems.append(f"resume must be true, false, 'auto' or a checkpoint path, got {self.resume!r}")
        if self.progress not in (True, False, "auto"):
            problems.append(f"progress must be true, false or 'auto', got {self.progress!r}")
        if self.device not in ("auto", "cpu") and not re.fullmatch(r"cuda(:\d+)?", str(self.device)):
            problems.append(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {self.device!r}")
        if problems:
            raise ConfigError("invalid training configuration:\n  - " + "\n  - ".join(problems))
        return self


def _non_finite(value: Any, key: str = "") -> list[tuple[str, float]]:
    """``(dotted key, value)`` of every NaN / infinite float in a config (dataclasses, dicts, lists)."""
    import math

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [hit for f in dataclasses.fields(value)
                for hit in _non_finite(getattr(value, f.name), f"{key}.{f.name}" if key else f.name)]
    if isinstance(value, Mapping):
        return [hit for k, v in value.items() for hit in _non_finite(v, f"{key}.{k}" if key else str(k))]
    if isinstance(value, (list, tuple)):
        return [hit for i, v in enumerate(value) for hit in _non_finite(v, f"{key}[{i}]")]
    if isinstance(value, float) and not math.isfinite(value):
        return [(key, value)]
    return []


# ----------------------------------------------------------------------------------------------------
# dict <-> dataclass


def config_to_dict(cfg: TrainConfig) -> dict:
    """A plain dict (YAML/JSON-serialisable) of ``cfg``."""
    return dataclasses.asdict(cfg)


def _resolved_hints(cls) -> dict:
    return typing.get_type_hints(cls)


def _is_dataclass_type(tp) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Coerce ``value`` to the annotated type ``tp`` where that is unambiguous (``"1e-3"`` -> float)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: cannot use {value!r}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                f = float(value)
            except ValueError:
                pass
            else:
                if f.is_integer():
                    return int(f)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, os.PathLike)):
            return os.fspath(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if tp is dict or origin is dict:
        if value is None:
            return {}
        if isinstance(value, Mapping):
            return dict(value)
        raise ConfigError(f"{key}: expected a mapping, got {value!r}")
    if tp is list or origin is list:
        if isinstance(value, (list, tuple)):
            return list(value)
        raise ConfigError(f"{key}: expected a list, got {value!r}")
    return value


def _unknown_key_error(unknown: list[str], known: list[str], prefix: str) -> ConfigError:
    lines = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=3, cutoff=0.6)
        full = f"{prefix}{key}"
        if close:
            lines.append(f"{full!r} (did you mean {', '.join(repr(prefix + c) for c in close)}?)")
        else:
            lines.append(repr(full))
    where = f" in section {prefix[:-1]!r}" if prefix else ""
    return ConfigError(
        f"unknown configuration key{'s' if len(unknown) > 1 else ''}{where}: "
        + "; ".join(lines)
        + f". Known keys{where}: {', '.join(sorted(known))}"
    )


def _build(cls, data: Mapping, prefix: str = ""):
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix[:-1] or 'config'}: expected a mapping, got {data!r}")
    hints = _resolved_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in data if k not in names]
    if unknown:
        raise _unknown_key_error([str(k) for k in unknown], names, prefix)
    kwargs = {}
    for name in names:
        if name not in data:
            continue
        tp = hints[name]
        value = data[name]
        if _is_dataclass_type(tp):
            if isinstance(value, tp):
                value = config_to_dict_any(value)
            kwargs[name] = _build(tp, value if value is not None else {}, prefix=f"{prefix}{name}.")
        else:
            kwargs[name] = _coerce(value, tp, f"{prefix}{name}")
    return cls(**kwargs)


def config_to_dict_any(obj) -> dict:
    return dataclasses.asdict(obj)


def config_from_dict(data: Mapping) -> TrainConfig:
    """Build a :class:`TrainConfig` from a (possibly nested) dict; unknown keys are an error."""
    return _build(TrainConfig, data)


# ----------------------------------------------------------------------------------------------------
# overrides and merging


def _deep_merge(base: dict, update: Mapping) -> dict:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def parse_overrides(items) -> dict:
    """``["optim.lr_start=1e-3", "epochs=2"]`` -> nested dict; values parsed as YAML scalars."""
    if isinstance(items, (str, bytes)):
        raise ConfigError(f"overrides must be a list of 'key=value' strings or a dict, got the string {items!r}; "
                          f"write overrides=[{items!r}]")
    result: dict = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value (dotted keys for nested values)")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key or any(not part for part in key.split(".")):
            raise ConfigError(f"override {item!r}: empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() != "" else None
        except yaml.YAMLError as exc:
            raise ConfigError(f"override {item!r}: cannot parse value as YAML: {exc}") from None
        node = result
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with another override")
        node[parts[-1]] = value
    return result


def apply_overrides(cfg: TrainConfig, overrides) -> TrainConfig:
    """A new config with ``overrides`` (a list of ``key=value`` strings or a nested dict) applied."""
    update = parse_overrides(overrides) if not isinstance(overrides, Mapping) else dict(overrides or {})
    return config_from_dict(_deep_merge(config_to_dict(cfg), update))


# ----------------------------------------------------------------------------------------------------
# presets


def list_presets() -> list[str]:
    """Names of the presets shipped with the package."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; give the YAML file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text (a YAML file is expected)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def load_preset(name: str) -> dict:
    """The raw dict of preset ``name`` (its ``preset`` key set to ``name``)."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        names = list_presets()
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ConfigError(f"unknown preset {name!r}{hint}; available presets: {', '.join(names)}")
    data = _read_yaml(path)
    data["preset"] = name
    return data


def load_config(source=None, preset: str | None = None, overrides=None) -> TrainConfig:
    """Build a validated-structure :class:`TrainConfig` from layers (see the module docstring).

    Args:
        source: ``None``, a :class:`TrainConfig`, a dict, or a path to a YAML file. A ``preset`` key in a
            dict/file names the preset it extends.
        preset: preset name; it is the base layer (a ``preset`` key in ``source`` is used when this is None).
        overrides: list of ``key=value`` strings, or a nested dict.
    """
    if isinstance(source, TrainConfig) and preset is None:
        # already resolved: only the overrides apply
        return apply_overrides(source, overrides) if overrides else config_from_dict(config_to_dict(source))
    if isinstance(source, TrainConfig):
        data = config_to_dict(source)
        data.pop("preset", None)
    elif source is None:
        data = {}
    elif isinstance(source, Mapping):
        data = dict(source)
    elif isinstance(source, (str, os.PathLike)):
        data = _read_yaml(Path(source))
    else:
        raise ConfigError(f"config must be a dict, a TrainConfig or a YAML path, got {type(source).__name__}")

    base_name = preset if preset is not None else data.get("preset")
    merged: dict = {}
    if base_name:
        merged = load_preset(str(base_name))
    data = {k: v for k, v in data.items() if not (k == "preset" and v is None)}
    merged = _deep_merge(merged, data)
    if base_name:
        merged["preset"] = str(base_name)
    if overrides:
        update = parse_overrides(overrides) if not isinstance(overrides, Mapping) else dict(overrides)
        merged = _deep_merge(merged, update)
    return config_from_dict(merged)

"""Training SiamFC+ and SE-SiamFC: the released recipe (FACTS §5), CPU presets, resumable checkpoints, DDP.

From a notebook::

    from sesiam_lib.training import train, plot_training_log
    result = train(preset="smnist_tiny", overrides=["model=se_siamfc_tiny", "run_dir=runs/se_smnist"])
    plot_training_log(result.run_dir)

From the shell (dotted keys for nested values, values parsed as YAML scalars)::

    python -m sesiam_lib.training --preset smoke run_dir=runs/smoke
    python -m sesiam_lib.training --preset paper model=siamfc_resnet22 data.root=/data/GOT-10k \\
        pretrained=CIResNet22_PRETRAIN.model run_dir=runs/siamfc_plus
    torchrun --nproc_per_node 4 -m sesiam_lib.training --preset paper data.root=/data/GOT-10k ...
    python -m sesiam_lib.training --config runs/smoke/config.yaml resume=true    # continue a run

Modules: :mod:`.config` (the configuration tree, presets, overrides), :mod:`.trainer` (the loop),
:mod:`.checkpointing` (atomic, resumable checkpoints), :mod:`.distributed` (processes, devices, deterministic
sharding), :mod:`.unfreeze` (the release's gradual unfreezing), :mod:`.logs` (CSV logs and their plot),
:mod:`.validation` (per-epoch success AUC), :mod:`.plateau` (stopping at a validation plateau),
:mod:`.lr_grid` (choosing ``optim.lr_start`` from a small grid on the validation split).
"""

from .checkpointing import (
    CheckpointError,
    CheckpointManager,
    CheckpointWriteError,
    load_training_checkpoint,
)
from .config import (
    CheckpointConfig,
    ConfigError,
    DataConfig,
    OptimConfig,
    TrainConfig,
    UnfreezeConfig,
    ValidationConfig,
    config_from_dict,
    config_to_dict,
    list_presets,
    load_config,
    load_preset,
    parse_overrides,
)
from .logs import plot_training_log, read_csv_log
from .lr_grid import (
    LR_SELECTION_RULE,
    LrGridError,
    lr_grid_name,
    lr_selection_path,
    plot_lr_grid,
    read_lr_selection,
    run_lr_grid,
    select_lr,
)
from .plateau import plateau_stop_epoch
from .provenance import ChangedRunError
from .trainer import (
    TrainingDataError,
    TrainingDivergedError,
    Trainer,
    TrainResult,
    build_pair_dataset,
    load_pretrained,
    lr_schedule,
    train,
)
from .unfreeze import RELEASE_FRACTIONS, stage_for_epoch

__all__ = [
    "train",
    "TrainResult",
    "Trainer",
    "TrainConfig",
    "DataConfig",
    "OptimConfig",
    "CheckpointConfig",
    "UnfreezeConfig",
    "ValidationConfig",
    "ConfigError",
    "ChangedRunError",
    "TrainingDataError",
    "TrainingDivergedError",
    "CheckpointError",
    "CheckpointWriteError",
    "CheckpointManager",
    "load_training_checkpoint",
    "load_config",
    "load_preset",
    "list_presets",
    "config_from_dict",
    "config_to_dict",
    "parse_overrides",
    "plot_training_log",
    "read_csv_log",
    "lr_schedule",
    "build_pair_dataset",
    "load_pretrained",
    "stage_for_epoch",
    "RELEASE_FRACTIONS",
    "plateau_stop_epoch",
    "run_lr_grid",
    "select_lr",
    "read_lr_selection",
    "lr_selection_path",
    "lr_grid_name",
    "LrGridError",
    "LR_SELECTION_RULE",
    "plot_lr_grid",
]

"""Training configuration, presets, CLI parsing, LR schedule, sharding and the unfreeze schedule."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from sesiam_lib.training import (
    ConfigError,
    TrainConfig,
    list_presets,
    load_config,
    lr_schedule,
    parse_overrides,
    stage_for_epoch,
    train,
)
from sesiam_lib.training.distributed import ShardSampler, shard_indices
from sesiam_lib.training.unfreeze import apply_stage, reset_momentum, trainable_parameter_names


def test_presets_ship_and_load():
    names = list_presets()
    for required in ("paper", "tmnist_tiny", "smnist_tiny", "smoke"):
        assert required in names
    for name in names:
        cfg = load_config(preset=name).validate()
        assert cfg.preset == name
    paper = load_config(preset="paper")
    assert paper.model == "se_siamfc_resnet22"
    assert (paper.epochs, paper.batch_size, paper.data.pairs_per_epoch) == (50, 24, 450000)
    assert (paper.optim.lr_start, paper.optim.lr_end, paper.optim.momentum, paper.optim.weight_decay) == (
        1e-2, 1e-5, 0.9, 1e-4)
    assert paper.optim.grad_clip == 10.0
    assert paper.unfreeze.mode == "gradual"
    assert paper.unfreeze.fractions == [0.0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.7]
    assert (paper.data.shift, paper.data.scale, paper.data.color, paper.data.frame_range) == (4, 0.05, 0.05, 100)
    assert paper.data.root is None
    assert load_config(preset="smnist_tiny").data.generate["kind"] == "S-MNIST"


def test_layers_and_dotted_overrides(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("preset: smoke\nepochs: 3\noptim:\n  lr_start: 1e-3\n")  # '1e-3' is a YAML string
    cfg = load_config(path, overrides=["optim.lr_end=2e-6", "data.root=/x/y", "validation.enabled=false",
                                       "model_kwargs={padding_mode: circular}", "resume=auto"])
    assert cfg.preset == "smoke" and cfg.epochs == 3
    assert cfg.optim.lr_start == pytest.approx(1e-3) and isinstance(cfg.optim.lr_start, float)
    assert cfg.optim.lr_end == pytest.approx(2e-6)
    assert cfg.data.root == "/x/y" and cfg.validation.enabled is False
    assert cfg.model_kwargs == {"padding_mode": "circular"} and cfg.resume == "auto"
    assert cfg.batch_size == load_config(preset="smoke").batch_size  # untouched keys keep the preset's value
    # a resolved TrainConfig passes through unchanged (its preset is not re-applied)
    again = load_config(cfg, overrides=["epochs=4"])
    assert again.epochs == 4 and again.optim.lr_end == cfg.optim.lr_end and again.preset == "smoke"
    assert parse_overrides(["a.b.c=[1, 2]", "x=null"]) == {"a": {"b": {"c": [1, 2]}}, "x": None}


def test_unknown_keys_are_listed_with_suggestions():
    with pytest.raises(ConfigError) as err:
        load_config({"epochz": 2, "optim": {"lr_strat": 1e-3}})
    assert "epochz" in str(err.value) and "'epochs'" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load_config({"optim": {"lr_strat": 1e-3}})
    assert "optim.lr_strat" in str(err.value) and "optim.lr_start" in str(err.value)
    with pytest.raises(ConfigError, match="batch_size"):
        load_config(overrides=["batchsize=3"])
    with pytest.raises(ConfigError, match="unknown preset 'smok'.*'smoke'"):
        load_config(preset="smok")
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config({"epochs": "many"})
    with pytest.raises(ConfigError, match="amp must be one of"):
        load_config({"amp": "fp8"}).validate()
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["epochs"])


def test_paper_preset_requires_the_got10k_path(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.root is required.*GOT-10k"):
        train(preset="paper", overrides=[f"run_dir={tmp_path / 'run'}", "device=cpu", "progress=false"])


def test_cli_print_config_and_errors(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "sesiam_lib.training", "--preset", "tmnist_tiny", "--print-config", "epochs=2",
         "optim.lr_start=5e-3"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "epochs: 2" in out.stdout and "lr_start: 0.005" in out.stdout and "preset: tmnist_tiny" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "sesiam_lib.training", "--preset", "smoke", "data.rooot=/x"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "data.rooot" in bad.stderr and "data.root" in bad.stderr


def test_lr_schedule_is_the_release_logspace():
    lrs = lr_schedule(1e-2, 1e-5, 50)
    np.testing.assert_allclose(lrs, np.logspace(-2, -5, 50))
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-5)


def test_sharding_is_deterministic_and_disjoint():
    a = shard_indices(10, seed=3, epoch=1, rank=0, world_size=2)
    b = shard_indices(10, seed=3, epoch=1, rank=1, world_size=2)
    assert sorted(a + b) == list(range(10)) and len(a) == len(b) == 5
    assert a == shard_indices(10, seed=3, epoch=1, rank=0, world_size=2)
    assert a != shard_indices(10, seed=3, epoch=2, rank=0, world_size=2)
    odd = shard_indices(7, 0, 0, 0, 2) + shard_indices(7, 0, 0, 1, 2)
    assert set(odd) == set(range(7)) and len(odd) == 8  # padded by wrapping
    full = list(ShardSampler(10, 3, 0, 0))
    assert len(full) == 9 and list(ShardSampler(10, 3, 0, 0, start_step=2)) == full[6:]
    assert len(ShardSampler(10, 3, 0, 0, start_step=2)) == 3


def test_stage_schedule_matches_the_release_epochs():
    stages = [stage_for_epoch(e, 50) for e in range(50)]
    # SiamDW calls unfix((epoch + 1) / 50): the stages start at 0-based epochs 0, 4, 9, 14, 24, 29, 34
    starts = [stages.index(k) for k in range(7)]
    assert starts == [0, 4, 9, 14, 24, 29, 34]
    assert stages[-1] == 6
    # fewer epochs: no stage is skipped by rounding, the last epoch has everything
    assert [stage_for_epoch(e, 3) for e in range(3)] == [3, 5, 6]


def _block_trainable(names, prefix):
    return any(n.startswith(prefix) for n in names)


@pytest.mark.parametrize("name", ["siamfc_resnet22", "se_siamfc_resnet22"])
def test_gradual_unfreeze_groups(name):
    from sesiam_lib.models import build_model

    model = build_model(name)
    p = "features.features."
    apply_stage(model, 0)
    names = trainable_parameter_names(model)
    assert names and all(n.startswith(p + "layer2.4.") for n in names)
    # frozen blocks stay in eval mode (BN statistics frozen); the trainable last block trains
    assert model.features.features.layer2[4].training and not model.features.features.layer1[0].training
    expected_new = {1: "layer2.3.", 2: "layer2.2.", 3: "layer2.0.", 4: "layer1.2.", 5: "layer1.1.", 6: "layer1.0."}
    for stage, block in expected_new.items():
        before = set(trainable_parameter_names(model))
        apply_stage(model, stage)
        after = set(trainable_parameter_names(model))
        new = after - before
        assert before <= after
        assert new and any(n.startswith(p + block) for n in new), (stage, sorted(new)[:3])
    stem_trainable = _block_trainable(trainable_parameter_names(model), p + "conv1.")
    # SE-SiamFC's release unfreezes the whole backbone at the last stage; SiamDW keeps the stem frozen
    assert stem_trainable == (name == "se_siamfc_resnet22")
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    opt.state[next(model.parameters())]["momentum_buffer"] = torch.zeros(1)
    reset_momentum(opt)
    assert len(opt.state) == 0


def test_trainconfig_dataclass_roundtrip():
    cfg = TrainConfig(epochs=2)
    assert load_config(cfg.to_dict()).to_dict() == cfg.to_dict()

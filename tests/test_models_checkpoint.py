"""Checkpoint loading: the released layouts, this project's layout, and clear errors on wrong files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sesiam_lib.models import (
    CheckpointError,
    build_model,
    identify_architecture,
    load_checkpoint,
    read_checkpoint,
)
from sesiam_lib.sesn import hermite_basis, se_scales


def _randomized(name, seed=0, **options):
    torch.manual_seed(seed)
    model = build_model(name, **options)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith(("running_mean", "bias")):
                value.uniform_(-0.3, 0.3)
            elif key.endswith(("running_var",)):
                value.uniform_(0.5, 2.0)
            elif key.endswith("num_batches_tracked"):
                value.fill_(7)
    return model


def _assert_same_state(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def _save_all_formats(model, tmp_path):
    sd = model.state_dict()
    paths = {}
    paths["bare"] = tmp_path / "bare.pth"
    torch.save(sd, paths["bare"])
    # one step (lr 0: the weights stay as saved) so the optimizer holds momentum buffers, as a real snapshot does
    opt = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt.step()
    paths["snapshot"] = tmp_path / "checkpoint_e5.pth"
    torch.save({"epoch": 5, "arch": "SESiamFCResNet22", "state_dict": {"module." + k: v for k, v in sd.items()},
                "optimizer": opt.state_dict()}, paths["snapshot"])
    paths["project"] = tmp_path / "last.pth"
    torch.save({"format": "sesiam_lib.training/1", "model": sd, "model_name": model.arch,
                "optimizer": opt.state_dict(), "epoch": 2, "config": {"model": model.arch, "lr": 0.01},
                "rng": {"numpy": np.random.get_state(), "torch": torch.get_rng_state()}}, paths["project"])
    return paths


@pytest.mark.parametrize("name", ["se_siamfc_resnet22", "siamfc_resnet22", "se_siamfc_tiny", "siamfc_tiny"])
def test_round_trip_every_format(name, tmp_path):
    source = _randomized(name, seed=1)
    paths = _save_all_formats(source, tmp_path)
    for fmt, path in paths.items():
        target = build_model(name)
        info = load_checkpoint(target, path)
        assert info.format == {"bare": "state_dict", "snapshot": "snapshot", "project": "project"}[fmt]
        assert info.architecture == name
        assert info.path == str(path)
        _assert_same_state(source, target)
        if fmt == "snapshot":
            assert (info.epoch, info.arch, info.had_module_prefix) == (5, "SESiamFCResNet22", True)
        if fmt == "project":
            assert info.metadata["config"]["model"] == name and info.epoch == 2


def test_loaded_basis_equals_hermite_basis(tmp_path):
    path = tmp_path / "se.pth"
    torch.save(_randomized("se_siamfc_resnet22").state_dict(), path)
    model = build_model("se_siamfc_resnet22")
    load_checkpoint(model, path)
    sd = model.state_dict()
    assert torch.equal(sd["features.features.conv1.basis"], hermite_basis(9, se_scales(), 7))
    assert torch.equal(sd["features.features.layer2.3.conv2.basis"], hermite_basis(5, se_scales(), 3))


def test_basis_from_other_scales_is_refused(tmp_path):
    sd = build_model("se_siamfc_tiny").state_dict()
    sd["features.features.conv1.basis"] = hermite_basis(9, [1.0, 1.5, 2.0], 7)
    path = tmp_path / "other_scales.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match="basis .*conv1.basis.* differs"):
        load_checkpoint(build_model("se_siamfc_tiny"), path)
    model = build_model("se_siamfc_tiny")
    load_checkpoint(model, path, check_basis=False)  # explicitly allowed: the file's basis is used
    assert torch.equal(model.features.features.conv1.basis, sd["features.features.conv1.basis"])


def test_old_files_without_num_batches_tracked_and_backbone_only_keys(tmp_path):
    source = _randomized("siamfc_tiny")
    sd = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    path = tmp_path / "old.pth"
    torch.save(sd, path)
    target = build_model("siamfc_tiny")
    load_checkpoint(target, path)
    for k, v in sd.items():
        assert torch.equal(target.state_dict()[k], v)
    # the trunk alone (e.g. an ImageNet-pretrained CIResNet): keys re-prefixed to features.features.*
    trunk = {k[len("features.features."):]: v for k, v in source.state_dict().items()}
    torch.save(trunk, tmp_path / "trunk.pth")
    target = build_model("siamfc_tiny")
    load_checkpoint(target, tmp_path / "trunk.pth")
    _assert_same_state(source, target)


def test_plain_file_into_se_model_names_the_architecture(tmp_path):
    path = tmp_path / "CIResNet22.pth"
    torch.save(build_model("siamfc_resnet22").state_dict(), path)
    model = build_model("se_siamfc_resnet22")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(model, path)
    message = str(err.value)
    assert str(path) in message
    assert "looks like 'siamfc_resnet22'" in message and "SiamFC+" in message
    assert "missing keys" in message and "features.mean" in message
    assert "first shape mismatch: 'features.features.conv1.weight' is [64, 3, 7, 7]" in message
    for k, v in model.state_dict().items():  # never a partial load
        assert torch.equal(v, before[k]), k


def test_se_file_into_plain_model_names_the_architecture(tmp_path):
    path = tmp_path / "SESiamFCResNet22_pretrained.pth"
    torch.save({"module." + k: v for k, v in build_model("se_siamfc_resnet22").state_dict().items()}, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(build_model("siamfc_resnet22"), path)
    message = str(err.value)
    assert str(path) in message and "looks like 'se_siamfc_resnet22'" in message and "SE-SiamFC" in message
    assert "unexpected keys" in message and "basis" in message


def test_full_file_into_tiny_model(tmp_path):
    path = tmp_path / "full.pth"
    torch.save(build_model("se_siamfc_resnet22").state_dict(), path)
    with pytest.raises(CheckpointError, match="looks like 'se_siamfc_resnet22'"):
        load_checkpoint(build_model("se_siamfc_tiny"), path)


def test_partial_state_dict_is_refused(tmp_path):
    sd = build_model("siamfc_tiny").state_dict()
    del sd["features.features.layer2.2.conv3.weight"]
    sd["features.features.extra.weight"] = torch.zeros(1)
    path = tmp_path / "partial.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(build_model("siamfc_tiny"), path)
    message = str(err.value)
    assert "missing keys (1): ['features.features.layer2.2.conv3.weight']" in message
    assert "unexpected keys (1): ['features.features.extra.weight']" in message
    assert "no known architecture" in message or "unregistered" in message


@pytest.mark.parametrize("damage", ["truncated", "empty", "garbage", "truncated_legacy"])
def test_unreadable_files(tmp_path, damage):
    good = tmp_path / "good.pth"
    sd = build_model("siamfc_tiny").state_dict()
    torch.save(sd, good, _use_new_zipfile_serialization=(damage != "truncated_legacy"))
    data = good.read_bytes()
    bad = tmp_path / f"{damage}.pth"
    bad.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "garbage": b"not a checkpoint" * 50,
                     "truncated_legacy": data[: len(data) - 100]}[damage])
    with pytest.raises(CheckpointError, match="truncated or corrupt|empty|not a PyTorch checkpoint") as err:
        load_checkpoint(build_model("siamfc_tiny"), bad)
    assert str(bad) in str(err.value)


def test_missing_file_and_no_state_dict(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.pth"):
        load_checkpoint(build_model("siamfc_tiny"), tmp_path / "nowhere.pth")
    path = tmp_path / "odd.pth"
    torch.save({"epoch": 3, "weights": [1, 2, 3]}, path)
    with pytest.raises(CheckpointError, match="holds no state dict"):
        load_checkpoint(build_model("siamfc_tiny"), path)


class _Custom:  # a class weights-only loading refuses
    pass


def test_untrusted_python_objects_need_trusted(tmp_path):
    model = build_model("siamfc_tiny")
    path = tmp_path / "pickled.pth"
    torch.save({"model": model.state_dict(), "extra": _Custom()}, path)
    with pytest.raises(CheckpointError, match="trusted=True"):
        load_checkpoint(build_model("siamfc_tiny"), path)
    info = load_checkpoint(build_model("siamfc_tiny"), path, trusted=True)
    assert info.format == "project"
    whole = tmp_path / "module.pth"
    torch.save(model, whole)
    target = build_model("siamfc_tiny")
    assert load_checkpoint(target, whole, trusted=True).format == "module"
    _assert_same_state(model, target)


def test_identify_and_read(tmp_path):
    for name in ["siamfc_resnet22", "se_siamfc_resnet22", "siamfc_tiny", "se_siamfc_tiny"]:
        assert identify_architecture(build_model(name).state_dict()) == name
    path = tmp_path / "x.pth"
    torch.save({"state_dict": build_model("se_siamfc_tiny").state_dict(), "epoch": 1}, path)
    sd, info = read_checkpoint(path)
    assert info.architecture == "se_siamfc_tiny" and info.format == "snapshot" and "features.mean" in sd


def test_loading_clears_cached_template(tmp_path):
    model = build_model("siamfc_tiny").eval()
    with torch.no_grad():
        model.template(torch.rand(1, 3, 79, 79) * 255)
    path = tmp_path / "w.pth"
    torch.save(_randomized("siamfc_tiny").state_dict(), path)
    load_checkpoint(model, path)
    assert model.zf is None


# ---------------------------------------------------------------------------------------------------------
# score_adjust checkpoints


def _training_checkpoint(model, name, path, **model_kwargs):
    """A file in the layout of sesiam_lib.training's checkpoints (weights, model name, resolved config)."""
    from sesiam_lib.training.checkpointing import CHECKPOINT_FORMAT
    from sesiam_lib.training.config import TrainConfig, config_to_dict

    config = config_to_dict(TrainConfig(model=name, model_kwargs=dict(model_kwargs)))
    torch.save({"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "model_name": name, "epoch": 1,
                "step": 0, "global_step": 10, "config": config}, path)
    return path


def test_score_adjust_round_trip_and_recorded_kwargs(tmp_path):
    from sesiam_lib.models import recorded_model_kwargs

    model = _randomized("se_siamfc_tiny", seed=1, score_adjust=True)
    with torch.no_grad():
        model.adjust.weight.fill_(0.02)
        model.adjust.bias.fill_(-0.5)
    path = _training_checkpoint(model, "se_siamfc_tiny", tmp_path / "v2.pth", score_adjust=True, sesn_impl="fast")
    assert recorded_model_kwargs(path) == {"score_adjust": True, "sesn_impl": "fast"}
    other = build_model("se_siamfc_tiny", score_adjust=True)
    load_checkpoint(other, path)
    _assert_same_state(model, other)
    torch.save(build_model("siamfc_tiny").state_dict(), tmp_path / "bare.pth")
    assert recorded_model_kwargs(tmp_path / "bare.pth") == {}


def test_score_adjust_mismatch_names_the_option(tmp_path):
    adjusted = build_model("siamfc_tiny", score_adjust=True)
    path = _training_checkpoint(adjusted, "siamfc_tiny", tmp_path / "v2.pth", score_adjust=True)
    plain = build_model("siamfc_tiny")
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"score_adjust=True") as info:
        load_checkpoint(plain, path)
    message = str(info.value)
    assert "build_model('siamfc_tiny', score_adjust=True" in message
    assert "'siamfc_tiny'" in message and "built with score_adjust=True" in message  # what the file looks like
    assert "model_kwargs {'score_adjust': True}" in message  # the file's recorded training options
    assert all(torch.equal(v, before[k]) for k, v in plain.state_dict().items())  # model untouched
    # the reverse: an ordinary file into a score_adjust model
    bare = tmp_path / "bare.pth"
    torch.save(build_model("se_siamfc_tiny").state_dict(), bare)
    with pytest.raises(CheckpointError, match=r"built with score_adjust=True; build it without"):
        load_checkpoint(build_model("se_siamfc_tiny", score_adjust=True), bare)


def test_tracker_factory_uses_the_recorded_model_kwargs(tmp_path):
    from sesiam_lib.tracking.runners import TrackerFactory

    model = _randomized("se_siamfc_tiny_sesn", seed=2, score_adjust=True)
    path = _training_checkpoint(model, "se_siamfc_tiny_sesn", tmp_path / "v2.pth", score_adjust=True,
                                sesn_impl="reference", padding_mode="circular")
    built = TrackerFactory("se_siamfc_tiny_sesn", checkpoint=str(path)).build_model()
    assert built.score_adjust and not built.training
    _assert_same_state(model, built)
    # runtime options are not taken from the checkpoint: the release trains circular, evaluates constant
    assert built.build_options == {"score_adjust": True}
    assert built.padding_mode == "constant" and built.sesn_impl == "fast"
    # given options complete the recorded ones; an explicit runtime option is no conflict
    built = TrackerFactory("se_siamfc_tiny_sesn", checkpoint=str(path),
                           model_options={"padding_mode": "circular", "sesn_impl": "fast"}).build_model()
    assert built.score_adjust and built.padding_mode == "circular"
    with pytest.raises(ValueError, match=r"score_adjust: model_options False vs checkpoint True"):
        TrackerFactory("se_siamfc_tiny_sesn", checkpoint=str(path), model_options={"score_adjust": False}).build_model()
    # files that record nothing keep the given options
    bare = tmp_path / "bare.pth"
    torch.save(build_model("siamfc_tiny").state_dict(), bare)
    built = TrackerFactory("siamfc_tiny", checkpoint=str(bare)).build_model()
    assert not built.score_adjust and built.build_options == {}

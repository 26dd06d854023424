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

"""The fast inference path computes the reference models' eval-mode function (1e-5 relative)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import sesiam_lib.models.fast as fast_module
from sesiam_lib.models import FastSiamFC, build_model, optimize_for_inference, xcorr
from sesiam_lib.models.fast import kernel_support
from sesiam_lib.sesn import hermite_basis, se_scales

RTOL = 1e-5


def _random_model(name, seed=0, **options):
    """Random weights and random BN statistics / affine parameters, eval mode."""
    torch.manual_seed(seed)
    model = build_model(name, **options)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.3, 0.3)
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    return model.eval()


def _rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


def _compare(model, fast, exemplar, instance, num_search=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.rand(1, 3, exemplar, exemplar, generator=g) * 255
    x = torch.rand(num_search, 3, instance, instance, generator=g) * 255
    with torch.no_grad():
        ref_z, fast_z = model.template(z), fast.template(z)
        ref, got = model.track(x), fast.track(x)
    assert got.shape == ref.shape
    assert _rel_err(fast_z, ref_z) < RTOL
    assert _rel_err(got, ref) < RTOL
    return ref


def test_kernel_support_of_the_released_bases():
    assert kernel_support(hermite_basis(9, se_scales(), 7)) == [2, 1, 0]  # 5x5, 7x7, 9x9
    assert kernel_support(hermite_basis(5, se_scales(), 3)) == [1, 1, 0]  # 3x3, 3x3, 5x5


@pytest.mark.parametrize("name,padding_mode", [("siamfc_tiny", None), ("se_siamfc_tiny", "constant"),
                                               ("se_siamfc_tiny", "circular"), ("se_siamfc_tiny_sesn", "constant"),
                                               ("se_siamfc_tiny_sesn", "circular")])
@pytest.mark.parametrize("sizes", [None, (80, 162), (71, 150)])
def test_tiny_fast_equals_reference(name, padding_mode, sizes):
    options = {} if padding_mode is None else {"padding_mode": padding_mode}
    model = _random_model(name, **options)
    fast = optimize_for_inference(model)
    exemplar, instance = sizes or (model.exemplar_size, model.instance_size)
    _compare(model, fast, exemplar, instance, num_search=3)


@pytest.mark.parametrize("name,padding_mode", [("siamfc_resnet22", None), ("se_siamfc_resnet22", "constant"),
                                               ("se_siamfc_resnet22", "circular")])
def test_full_fast_equals_reference(name, padding_mode):
    options = {} if padding_mode is None else {"padding_mode": padding_mode}
    model = _random_model(name, seed=1, **options)
    fast = optimize_for_inference(model)
    scores = _compare(model, fast, 127, 255, num_search=1)
    assert scores.shape == (1, 1, 17, 17)


def test_fast_forward_pairs_and_attributes():
    model = _random_model("se_siamfc_tiny", seed=2)
    fast = optimize_for_inference(model)
    for attr in ("exemplar_size", "instance_size", "score_size", "total_stride", "input_format", "arch"):
        assert getattr(fast, attr) == getattr(model, attr)
    z = torch.rand(2, 3, 79, 79) * 255
    x = torch.rand(2, 3, 159, 159) * 255
    with torch.no_grad():
        assert _rel_err(fast(z, x), model(z, x)) < RTOL


def test_fast_path_without_onednn_kernels(monkeypatch):
    monkeypatch.setattr(fast_module, "_POINTWISE", None)
    monkeypatch.setattr(fast_module, "_POINTWISE_BINARY", None)
    for name in ("siamfc_tiny", "se_siamfc_tiny"):
        model = _random_model(name, seed=4, **({"padding_mode": "circular"} if name.startswith("se") else {}))
        _compare(model, optimize_for_inference(model), 79, 159)


def test_fast_model_is_a_snapshot_and_inference_only():
    model = _random_model("siamfc_tiny", seed=5)
    model.train()  # BN folding uses the running statistics whatever the mode
    fast = model.fast()
    assert isinstance(fast, FastSiamFC) and fast.fast() is fast and optimize_for_inference(fast) is fast
    assert model.training and not fast.training
    assert list(fast.parameters()) == []
    with pytest.raises(RuntimeError, match="inference-only"):
        fast.train()
    model.eval()
    ref = _compare(model, fast, 79, 159)
    with torch.no_grad():  # later changes to the reference do not leak into the snapshot
        model.features.features.conv1.weight.mul_(2)
        model.template(torch.rand(1, 3, 79, 79))
    g = torch.Generator().manual_seed(0)
    z = torch.rand(1, 3, 79, 79, generator=g) * 255
    x = torch.rand(2, 3, 159, 159, generator=g) * 255
    fast.template(z)
    assert torch.allclose(fast.track(x), ref, rtol=0, atol=RTOL * ref.abs().max().item())
    with pytest.raises(TypeError):
        optimize_for_inference(nn.Linear(2, 2))


def test_kernel_support_of_the_sesn_style_bases():
    scales = [2 ** (i / 3) for i in range(4)]
    assert kernel_support(hermite_basis(11, scales, 5)) == [3, 2, 1, 0]  # 5x5, 7x7, 9x9, 11x11
    assert kernel_support(hermite_basis(7, scales, 3)) == [2, 1, 1, 0]  # 3x3, 5x5, 5x5, 7x7


@pytest.mark.parametrize("name,impl", [("siamfc_tiny", None), ("se_siamfc_tiny", "fast"),
                                       ("se_siamfc_tiny", "reference"), ("se_siamfc_tiny_sesn", "fast")])
def test_fast_copy_applies_the_score_adjust_layer(name, impl):
    options = {"score_adjust": True} if impl is None else {"score_adjust": True, "sesn_impl": impl}
    model = _random_model(name, seed=3, **options)
    with torch.no_grad():
        model.adjust.weight.fill_(-0.37)
        model.adjust.bias.fill_(1.25)
    fast = model.fast()
    assert isinstance(fast, FastSiamFC) and fast.score_adjust and not list(fast.parameters())
    assert fast.adjust_weight.item() == pytest.approx(-0.37) and fast.adjust_bias.item() == pytest.approx(1.25)
    _compare(model, fast, model.exemplar_size, model.instance_size)
    g = torch.Generator().manual_seed(1)
    z = torch.rand(2, 3, model.exemplar_size, model.exemplar_size, generator=g) * 255
    x = torch.rand(2, 3, model.instance_size, model.instance_size, generator=g) * 255
    with torch.no_grad():
        ref, got = model(z, x), fast(z, x)
        assert _rel_err(got, ref) < RTOL
        corr = xcorr(model.embed(z), model.embed(x))  # the adjust layer really acts on both
        assert _rel_err(got, -0.37 * corr + 1.25) < RTOL
    # a later change of the reference model's adjust layer needs a new fast copy (a snapshot)
    with torch.no_grad():
        model.adjust.bias.fill_(0.0)
    assert fast.adjust_bias.item() == pytest.approx(1.25)

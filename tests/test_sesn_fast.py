"""The fast training implementation of the scale layers (``sesn_impl='fast'``) against the reference layers.

Outputs and gradients (weights and inputs) must agree to 1e-5 relative (max-abs error / max-abs reference).

Layer tests run in float32. Whole-model gradients are compared in float64: a ReLU or max whose input lies within
float32 rounding of its kink routes the gradient differently under any change of summation order -- the reference
itself moves its layer1 input gradient by 3e-2 when its input moves by 8e-7 (measured) -- so float32 whole-model
gradients of two correct implementations differ in rare elements; in float64 they agree to ~1e-13.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from sesiam_lib.models import build_model, load_checkpoint, optimize_for_inference
from sesiam_lib.sesn import SESConvHH, SESConvHH1x1, SESConvZ2H, scale_pool, se_scales
from sesiam_lib.sesn.fast_layers import (FastBatchNorm3d, FastMaxPool3d, FastSESConvHH, FastSESConvHH1x1,
                                         FastSESConvZ2H, check_sesn_impl, convert_sesn_impl, fast_center_crop,
                                         fast_scale_pool, from_scale_major, layer_classes, support_rings,
                                         to_scale_major)

RTOL = 1e-5
SCALES = se_scales()
KEYS = json.loads((Path(__file__).parent / "fixtures" / "checkpoint_keys.json").read_text())


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item()


def scale_major(x: torch.Tensor) -> torch.Tensor:
    """The same values laid out as the fast layers lay out their outputs (scale-major, channels-last)."""
    return from_scale_major(to_scale_major(x).clone(memory_format=torch.channels_last), x.shape[2])


def twins(ref: nn.Module, fast_cls: type) -> nn.Module:
    """A fast twin of a reference layer with the same state."""
    fast = fast_cls.__new__(fast_cls)
    fast.__dict__.update({k: v for k, v in ref.__dict__.items()})
    fast._parameters = {k: nn.Parameter(v.detach().clone()) if v is not None else None
                        for k, v in ref._parameters.items()}
    fast._buffers = {k: v.clone() if v is not None else None for k, v in ref._buffers.items()}
    fast._modules = {}
    return fast


def check_layer(ref: nn.Module, fast: nn.Module, x: torch.Tensor, layouts=("contiguous", "scale_major")) -> None:
    """Outputs, input gradients and parameter gradients of ``fast`` equal ``ref``'s (fresh grads each layout)."""
    assert list(ref.state_dict()) == list(fast.state_dict())
    g = torch.Generator().manual_seed(1)
    for layout in layouts:
        xin = scale_major(x) if layout == "scale_major" and x.dim() == 5 else x
        xr = x.detach().clone().requires_grad_()
        xf = xin.detach().clone().requires_grad_()
        ref.zero_grad(set_to_none=True)
        fast.zero_grad(set_to_none=True)
        yr, yf = ref(xr), fast(xf)
        assert yf.shape == yr.shape
        assert rel(yf, yr) < RTOL, layout
        grad = torch.randn(yr.shape, generator=g)
        yr.backward(grad)
        yf.backward(grad)
        assert rel(xf.grad, xr.grad) < RTOL, layout
        for (name, pr), pf in zip(ref.named_parameters(), fast.parameters()):
            assert rel(pf.grad, pr.grad) < RTOL, (layout, name)


# ---------------------------------------------------------------------------------------------------------
# single layers


def test_support_rings_of_the_released_bases():
    assert support_rings(SESConvZ2H(3, 4, 9, 7, SCALES).basis) == [2, 1, 0]  # 5x5, 7x7, 9x9
    assert support_rings(SESConvHH(4, 4, 1, 5, 3, SCALES).basis) == [1, 1, 0]  # 3x3, 3x3, 5x5


@pytest.mark.parametrize("mode", ["constant", "circular"])
@pytest.mark.parametrize("stride,padding", [(1, 4), (2, 4), (1, 1), (2, 0), (1, 3)])
@pytest.mark.parametrize("training", [True, False])
def test_z2h(mode, stride, padding, training):
    torch.manual_seed(0)
    ref = SESConvZ2H(3, 5, 9, 7, SCALES, stride=stride, padding=padding, padding_mode=mode, bias=True)
    with torch.no_grad():
        ref.bias.uniform_(-1, 1)
    fast = twins(ref, FastSESConvZ2H)
    ref.train(training)
    fast.train(training)
    check_layer(ref, fast, torch.randn(2, 3, 23, 20))


@pytest.mark.parametrize("mode", ["constant", "circular"])
@pytest.mark.parametrize("scale_size", [1, 2, 3, 4])
@pytest.mark.parametrize("stride,padding", [(1, 2), (2, 2), (1, 0), (2, 1)])
def test_hh(mode, scale_size, stride, padding):
    torch.manual_seed(0)
    ref = SESConvHH(4, 6, scale_size, 5, 3, SCALES, stride=stride, padding=padding, padding_mode=mode, bias=True)
    with torch.no_grad():
        ref.bias.uniform_(-1, 1)
    fast = twins(ref, FastSESConvHH)
    check_layer(ref, fast, torch.randn(2, 4, 3, 13, 12))


@pytest.mark.parametrize("scale_size", [1, 2, 3, 5])
@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("bias", [False, True])
def test_hh1x1(scale_size, stride, bias):
    torch.manual_seed(0)
    ref = SESConvHH1x1(5, 7, scale_size=scale_size, stride=stride, bias=bias)
    if bias:
        with torch.no_grad():
            ref.bias.uniform_(-1, 1)
    fast = twins(ref, FastSESConvHH1x1)
    check_layer(ref, fast, torch.randn(3, 5, 3, 9, 11))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm(training, momentum):
    torch.manual_seed(0)
    ref = nn.BatchNorm3d(6, momentum=momentum)
    with torch.no_grad():
        ref.weight.uniform_(0.5, 1.5)
        ref.bias.uniform_(-0.5, 0.5)
        ref.running_mean.uniform_(-0.3, 0.3)
        ref.running_var.uniform_(0.5, 2.0)
    fast = twins(ref, FastBatchNorm3d)
    ref.train(training)
    fast.train(training)
    x = torch.randn(4, 6, 3, 7, 8) * 2 + 1
    check_layer(ref, fast, x)  # runs twice (two layouts): running statistics updated twice in both
    for name in ("running_mean", "running_var", "num_batches_tracked"):
        assert torch.allclose(getattr(fast, name).double(), getattr(ref, name).double(), rtol=RTOL, atol=1e-6), name
    with pytest.raises(ValueError):
        fast(torch.randn(2, 6, 5, 5))  # still a BatchNorm3d: 4-D input refused


def test_maxpool_and_crop():
    x = torch.randn(2, 4, 3, 11, 10)
    ref = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
    check_layer(ref, FastMaxPool3d((1, 2, 2), (1, 2, 2)), x)
    # other windows fall back to MaxPool3d
    check_layer(nn.MaxPool3d(2), FastMaxPool3d(2), x, layouts=("contiguous",))
    for layout in ("contiguous", "scale_major"):
        xin = scale_major(x) if layout == "scale_major" else x
        a, b = x.clone().requires_grad_(), xin.clone().requires_grad_()
        ya, yb = a[..., 2:-2, 2:-2], fast_center_crop(b, 2)
        assert torch.equal(ya, yb)
        grad = torch.randn(ya.shape)
        ya.backward(grad)
        yb.backward(grad)
        assert torch.equal(a.grad, b.grad)
        assert b.grad.stride() == b.stride()  # the gradient keeps the input's layout


def test_scale_pool_values_gradients_and_ties():
    torch.manual_seed(0)
    x = torch.randn(2, 5, 3, 6, 7)
    x[0, 0, :, 0, 0] = 1.5  # three-way tie
    x[0, 1, 1:, 0, 0] = 2.0  # tie of the last two scales
    x[1, 0, 2, 1, 1] = float("nan")  # NaN propagates
    for layout in ("contiguous", "scale_major"):
        xin = scale_major(x) if layout == "scale_major" else x
        a, b = x.clone().requires_grad_(), xin.clone().requires_grad_()
        ya, yb = scale_pool(a), fast_scale_pool(b)
        assert torch.allclose(ya, yb, equal_nan=True)
        grad = torch.randn(ya.shape)
        ya.backward(grad)
        yb.backward(grad)
        assert torch.allclose(a.grad, b.grad, equal_nan=True)  # ties: the first maximal scale gets it all
        assert b.grad.stride() == b.stride()


def test_outputs_keep_the_scale_major_layout():
    """Fast outputs are scale-major channels-last ([S, B, H, W, C] in memory) and chain without copies."""
    torch.manual_seed(0)
    fast = FastSESConvHH(4, 6, 1, 5, 3, SCALES, padding=2)
    y = fast(torch.randn(2, 4, 3, 9, 9))
    assert not y.is_contiguous() and y.permute(2, 0, 3, 4, 1).is_contiguous()
    y2 = FastBatchNorm3d(6)(y)
    assert y2.stride() == y.stride()
    assert to_scale_major(y2).data_ptr() == y2.data_ptr()  # a view, no copy
    y3 = FastSESConvHH1x1(6, 5)(torch.relu(y2))
    assert y3.permute(2, 0, 3, 4, 1).is_contiguous()


def test_loaded_basis_updates_the_support():
    torch.manual_seed(0)
    layer = FastSESConvHH(2, 2, 1, 5, 3, SCALES, padding=2)
    assert layer.support() == [1, 1, 0]
    with torch.no_grad():
        layer.basis.fill_(1.0)  # a basis without zero rings: the full kernels must be used
    assert layer.support() == [0, 0, 0]
    ref = twins(layer, SESConvHH)
    ref.__class__ = SESConvHH
    check_layer(ref, layer, torch.randn(1, 2, 3, 7, 7), layouts=("contiguous",))


# ---------------------------------------------------------------------------------------------------------
# models


def _pair(model, batch, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    e, i, s = model.exemplar_size, model.instance_size, model.score_size
    z = (torch.rand(batch, 3, e, e, generator=g) * 255).to(dtype)
    x = (torch.rand(batch, 3, i, i, generator=g) * 255).to(dtype)
    labels = (torch.rand(batch, 1, s, s, generator=g) > 0.8).to(dtype)
    return z, x, labels


@pytest.mark.parametrize("name", ["se_siamfc_tiny", "se_siamfc_tiny_sesn"])
@pytest.mark.parametrize("padding_mode", ["constant", "circular"])
def test_tiny_model_forward_loss_backward(padding_mode, name):
    opts = dict(padding_mode=padding_mode, exemplar_size=63, instance_size=111)
    torch.manual_seed(0)
    ref = build_model(name, sesn_impl="reference", **opts).double().train()
    fast = build_model(name, sesn_impl="fast", **opts).double().train()
    fast.load_state_dict(ref.state_dict())
    z, x, labels = _pair(ref, 2, torch.float64)
    results = []
    for model in (ref, fast):
        zz, xx = z.clone().requires_grad_(), x.clone().requires_grad_()
        scores = model(zz, xx)
        loss = model.loss(scores, labels)
        loss.backward()
        grads = {n: p.grad for n, p in model.named_parameters()}
        state = {k: v.clone() for k, v in model.state_dict().items()}
        results.append((scores.detach(), loss.detach(), zz.grad, xx.grad, grads, state))
    (s0, l0, gz0, gx0, g0, st0), (s1, l1, gz1, gx1, g1, st1) = results
    assert rel(s1, s0) < RTOL and rel(l1, l0) < RTOL
    assert rel(gz1, gz0) < RTOL and rel(gx1, gx0) < RTOL
    for name in g0:
        assert rel(g1[name], g0[name]) < RTOL, name
    for key in st0:  # BN running statistics after the training-mode forward
        assert torch.allclose(st1[key].double(), st0[key].double(), rtol=1e-9, atol=1e-12), key
    # eval mode, float32: scores
    ref, fast = ref.float().eval(), fast.float().eval()
    z, x, _ = _pair(ref, 2, torch.float32, seed=1)
    with torch.no_grad():
        assert rel(fast(z, x), ref(z, x)) < RTOL


@pytest.mark.parametrize("name", ["se_siamfc_tiny", "se_siamfc_tiny_sesn"])
def test_tiny_model_float32_training_step_agrees(name):
    """float32 train-mode scores and loss at 1e-5; gradients of the first step close (see the module docstring)."""
    torch.manual_seed(0)
    ref = build_model(name, sesn_impl="reference").train()
    fast = build_model(name).train()
    fast.load_state_dict(ref.state_dict())
    z, x, labels = _pair(ref, 2, torch.float32)
    out = []
    for model in (ref, fast):
        scores = model(z, x)
        loss = model.loss(scores, labels)
        loss.backward()
        out.append((scores.detach(), loss.detach(),
                    torch.cat([p.grad.flatten() for p in model.parameters()])))
    assert rel(out[1][0], out[0][0]) < RTOL and rel(out[1][1], out[0][1]) < RTOL
    # a few ReLU/max kinks flip under float32 rounding (module docstring): close in norm, not to 1e-5
    assert (out[1][2] - out[0][2]).norm() / out[0][2].norm() < 1e-2


def test_build_model_switch_and_state_dicts():
    assert build_model("se_siamfc_tiny").sesn_impl == "fast"  # the default
    ref = build_model("se_siamfc_tiny", sesn_impl="reference")
    assert ref.sesn_impl == "reference"
    assert type(ref.features.features.conv1) is SESConvZ2H
    fast = build_model("se_siamfc_tiny", sesn_impl="fast")
    assert type(fast.features.features.conv1) is FastSESConvZ2H
    assert isinstance(fast.features.features.layer2[1], nn.MaxPool3d)
    for a, b in zip(ref.modules(), fast.modules()):
        assert isinstance(b, type(a)) or isinstance(a, type(b))
    with pytest.raises(ValueError, match="sesn_impl"):
        build_model("se_siamfc_tiny", sesn_impl="turbo")
    with pytest.raises(ValueError, match="sesn_impl"):
        build_model("siamfc_tiny", sesn_impl="turbo")
    for impl in ("fast", "reference"):  # plain models accept and ignore it
        plain = build_model("siamfc_tiny", sesn_impl=impl)
        assert plain.sesn_impl is None
    assert check_sesn_impl("fast") == "fast" and layer_classes("reference").SESConvHH is SESConvHH


@pytest.mark.parametrize("impl", ["fast", "reference"])
def test_full_state_dict_is_the_release_layout(impl):
    sd = build_model("se_siamfc_resnet22", sesn_impl=impl).state_dict()
    expected = KEYS["se_siamfc_resnet22"]
    assert list(sd) == list(expected)
    for key, shape in expected.items():
        assert list(sd[key].shape) == shape, key


def test_state_dict_round_trips_and_checkpoints(tmp_path):
    torch.manual_seed(0)
    ref = build_model("se_siamfc_tiny", sesn_impl="reference")
    torch.manual_seed(1)
    fast = build_model("se_siamfc_tiny", sesn_impl="fast")
    fast.load_state_dict(ref.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(ref.state_dict().values(), fast.state_dict().values()))
    back = build_model("se_siamfc_tiny", sesn_impl="reference")
    back.load_state_dict(fast.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(back.state_dict().values(), ref.state_dict().values()))
    path = tmp_path / "fast.pth"
    torch.save(fast.state_dict(), path)
    for impl in ("reference", "fast"):
        target = build_model("se_siamfc_tiny", sesn_impl=impl)
        load_checkpoint(target, path)
        assert all(torch.equal(a, b) for a, b in zip(target.state_dict().values(), ref.state_dict().values()))


def test_convert_in_place_keeps_weights_and_function():
    torch.manual_seed(0)
    model = build_model("se_siamfc_tiny", sesn_impl="reference").eval()
    z, x, _ = _pair(model, 1, torch.float32)
    with torch.no_grad():
        before = model(z, x)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.set_sesn_impl("fast")
    assert model.sesn_impl == "fast" and type(model.features.features.layer1[0].bn1) is FastBatchNorm3d
    with torch.no_grad():
        after = model(z, x)
    assert rel(after, before) < RTOL
    convert_sesn_impl(model, "reference")
    assert model.sesn_impl == "reference" and type(model.features.features.layer1[0].bn1) is nn.BatchNorm3d
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize("padding_mode", ["constant", "circular"])
def test_optimize_for_inference_on_a_fast_model(padding_mode):
    torch.manual_seed(0)
    model = build_model("se_siamfc_tiny", sesn_impl="fast", padding_mode=padding_mode)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
                m.running_mean.uniform_(-0.3, 0.3)
                m.running_var.uniform_(0.5, 2.0)
    model.eval()
    opt = optimize_for_inference(model)
    z, x, _ = _pair(model, 2, torch.float32)
    with torch.no_grad():
        assert rel(opt.template(z[:1]), model.template(z[:1])) < RTOL
        assert rel(opt.track(x), model.track(x)) < RTOL


def test_trainer_records_the_implementation(tmp_path):
    from sesiam_lib.training import TrainConfig
    from sesiam_lib.training.trainer import Trainer

    trainer = Trainer(TrainConfig(model="se_siamfc_tiny", run_dir=str(tmp_path / "a")))
    model = trainer._build_model()
    assert model.sesn_impl == "fast" and trainer.cfg.model_kwargs["sesn_impl"] == "fast"
    trainer = Trainer(TrainConfig(model="se_siamfc_tiny", model_kwargs={"sesn_impl": "reference"},
                                  run_dir=str(tmp_path / "b")))
    assert trainer._build_model().sesn_impl == "reference"
    assert trainer.cfg.model_kwargs == {"sesn_impl": "reference"}
    trainer = Trainer(TrainConfig(model="siamfc_tiny", run_dir=str(tmp_path / "c")))
    trainer._build_model()
    assert "sesn_impl" not in trainer.cfg.model_kwargs  # plain models have no scale layers

"""SiamFC+ / SE-SiamFC architectures: released state-dict layout, geometry, block details, head and loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sesiam_lib.models import (
    balanced_bce_loss,
    build_model,
    count_parameters,
    feature_size,
    list_models,
    model_spec,
    xcorr,
)
from sesiam_lib.sesn import SESConvHH, SESConvHH1x1, SESConvZ2H, hermite_basis, se_scales

KEYS = json.loads((Path(__file__).parent / "fixtures" / "checkpoint_keys.json").read_text())
FULL = ["siamfc_resnet22", "se_siamfc_resnet22"]
TINY = ["siamfc_tiny", "se_siamfc_tiny"]


def test_registry_names():
    assert set(FULL + TINY) <= set(list_models())
    with pytest.raises(KeyError, match="unknown model"):
        build_model("siamfc_resnet50")
    with pytest.raises(ValueError, match="padding_mode"):
        build_model("siamfc_tiny", padding_mode="circular")


@pytest.mark.parametrize("name", FULL)
def test_state_dict_keys_and_shapes_equal_release(name):
    sd = build_model(name).state_dict()
    expected = KEYS[name]
    assert list(sd) == list(expected)  # same keys, same order
    for key, shape in expected.items():
        assert list(sd[key].shape) == shape, key


def test_se_basis_buffers_are_the_hermite_basis():
    sd = build_model("se_siamfc_resnet22").state_dict()
    scales = se_scales()
    assert torch.equal(sd["features.features.conv1.basis"], hermite_basis(9, scales, 7))
    mid = hermite_basis(5, scales, 3)
    for key, value in sd.items():
        if key.endswith("conv2.basis"):
            assert torch.equal(value, mid), key
    assert torch.allclose(sd["features.mean"], torch.tensor([0.485, 0.456, 0.406]))
    assert torch.allclose(sd["features.std"], torch.tensor([0.229, 0.224, 0.225]))


@pytest.mark.parametrize("name", FULL)
def test_full_model_geometry(name):
    model = build_model(name).eval()
    assert (model.exemplar_size, model.instance_size, model.score_size, model.total_stride) == (127, 255, 17, 8)
    se = name.startswith("se_")
    assert model.input_format == ("rgb_imagenet" if se else "bgr_0_255")
    with torch.no_grad():
        zf = model.features(torch.rand(1, 3, 127, 127) * 255)
        xf = model.features(torch.rand(1, 3, 255, 255) * 255)
        assert zf.shape == ((1, 512, 3, 5, 5) if se else (1, 512, 5, 5))
        assert xf.shape == ((1, 512, 3, 21, 21) if se else (1, 512, 21, 21))
        # the head on the computed features: 1 template vs 2 search crops -> [2, 1, 17, 17]
        pooled_z = zf.amax(2) if se else zf
        pooled_x = torch.cat([xf, xf.flip(-1)]).amax(2) if se else torch.cat([xf, xf.flip(-1)])
        model.zf = pooled_z
        scores = model.head(model.zf, pooled_x)
    assert scores.shape == (2, 1, 17, 17)
    assert torch.allclose(scores[0, 0], 0.1 * F.conv2d(pooled_x[:1], pooled_z)[0, 0])
    assert feature_size(127, model_spec(name)) == 5 and feature_size(255, model_spec(name)) == 21


@pytest.mark.parametrize("name", TINY)
def test_tiny_geometry_and_sizes(name):
    model = build_model(name).eval()
    assert (model.exemplar_size, model.instance_size, model.score_size, model.total_stride) == (79, 159, 11, 8)
    assert (model.exemplar_feature_size, model.instance_feature_size) == (4, 14)
    with torch.no_grad():
        model.template(torch.rand(1, 3, 79, 79) * 255)
        scores = model.track(torch.rand(3, 3, 159, 159) * 255)
    assert scores.shape == (3, 1, 11, 11)


def test_parameter_counts_comparable():
    counts = {n: count_parameters(build_model(n)) for n in FULL + TINY}
    assert counts == {"siamfc_resnet22": 1444928, "se_siamfc_resnet22": 1449024,
                      "siamfc_tiny": 53840, "se_siamfc_tiny": 54096}


def test_custom_crop_sizes_follow_geometry():
    model = build_model("siamfc_tiny", exemplar_size=95, instance_size=191)
    assert model.score_size == feature_size(191, model.spec) - feature_size(95, model.spec) + 1 == 13
    with pytest.raises(ValueError, match="too small"):
        build_model("siamfc_resnet22", exemplar_size=40)


def test_plain_block_details():
    trunk = build_model("siamfc_resnet22").features.features
    assert (trunk.conv1.kernel_size, trunk.conv1.stride, trunk.conv1.padding) == ((7, 7), (2, 2), (3, 3))
    assert isinstance(trunk.layer2[1], nn.MaxPool2d) and len(trunk.layer2) == 5
    for layer in (trunk.layer1, trunk.layer2):
        for block in layer:
            if isinstance(block, nn.MaxPool2d):
                continue
            assert block.conv2.kernel_size == (3, 3) and block.conv2.padding == (1, 1)
            assert block.conv1.bias is None and block.conv2.bias is None and block.conv3.bias is None
    relus = [b.last_relu for b in list(trunk.layer1) + [b for b in trunk.layer2 if not isinstance(b, nn.MaxPool2d)]]
    assert relus == [True] * 6 + [False]  # no ReLU after the very last block only


def test_se_block_details():
    trunk = build_model("se_siamfc_resnet22").features.features
    assert isinstance(trunk.conv1, SESConvZ2H)
    stem = trunk.conv1
    assert (stem.kernel_size, stem.effective_size, stem.stride, stem.padding) == (9, 7, 2, 4)
    assert isinstance(trunk.bn1, nn.BatchNorm3d)
    first = trunk.layer1[0]
    assert isinstance(first.conv1, SESConvHH1x1) and first.conv1.scale_size == 2
    assert isinstance(first.conv2, SESConvHH) and first.conv2.scale_size == 1
    assert (first.conv2.kernel_size, first.conv2.effective_size, first.conv2.padding) == (5, 3, 2)
    assert isinstance(first.downsample[0], SESConvHH1x1) and isinstance(first.downsample[1], nn.BatchNorm3d)
    pool_block = trunk.layer2[0]
    assert pool_block.pool_input
    assert type(pool_block.conv1) is nn.Conv2d and isinstance(pool_block.bn1, nn.BatchNorm2d)
    assert isinstance(pool_block.conv2, SESConvZ2H) and pool_block.conv2.padding == 2
    assert isinstance(pool_block.downsample[0], SESConvHH1x1) and pool_block.downsample[0].in_channels == 256
    assert isinstance(trunk.layer2[1], nn.MaxPool3d)
    for block in list(trunk.layer1)[1:] + list(trunk.layer2)[2:]:
        assert isinstance(block.conv1, SESConvHH1x1) and block.conv1.scale_size == 1
        assert isinstance(block.bn1, nn.BatchNorm3d)
    bns = [m for m in trunk.modules() if isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d))]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in bns) == 1  # only layer2.0.bn1
    assert trunk.layer2[-1].last_relu is False


def test_se_layer2_shortcut_sees_unpooled_input():
    """Layer2's first block: main branch on the scale-pooled input, shortcut on the un-pooled one."""
    torch.manual_seed(0)
    block = build_model("se_siamfc_tiny").features.features.layer2[0].eval()
    x = torch.randn(1, 64, 3, 9, 9)
    with torch.no_grad():
        out = block(x)
        main = block.bn3(block.conv3(F.relu(block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x.amax(2)))))))))
        expected = F.relu(main + block.downsample(x))[..., 1:-1, 1:-1]
    assert torch.allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["siamfc_tiny", "se_siamfc_tiny"])
def test_input_conversion(name):
    model = build_model(name).eval()
    x = torch.rand(2, 3, 79, 79) * 255
    with torch.no_grad():
        got = model.features(x)
        if name.startswith("se_"):
            mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
            std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
            expected = model.features.features((x / 255 - mean) / std)
        else:
            expected = model.features.features(x[:, [2, 1, 0]])  # BGR, raw 0..255
    assert torch.equal(got, expected)


def test_se_padding_mode_option():
    model = build_model("se_siamfc_tiny", padding_mode="circular")
    modes = {m.padding_mode for m in model.modules() if isinstance(m, (SESConvZ2H, SESConvHH))}
    assert modes == {"circular"} and model.padding_mode == "circular"
    model.set_padding_mode("constant")
    assert {m.padding_mode for m in model.modules() if isinstance(m, (SESConvZ2H, SESConvHH))} == {"constant"}
    with pytest.raises(ValueError, match="padding_mode"):
        model.set_padding_mode("reflect")
    with pytest.raises(ValueError, match="padding_mode"):
        build_model("se_siamfc_tiny", padding_mode="zeros")


@pytest.mark.parametrize("name", TINY)
def test_forward_pairs_templates_with_searches(name):
    model = build_model(name).eval()
    z = torch.rand(2, 3, 79, 79) * 255
    x = torch.rand(2, 3, 159, 159) * 255
    with torch.no_grad():
        scores = model(z, x)
        rows = []
        for i in range(2):
            model.template(z[i:i + 1])
            rows.append(model.track(x[i:i + 1]))
        model.template(z)  # N cached templates pair one-to-one with N crops
        paired = model.track(x)
    assert scores.shape == (2, 1, 11, 11)
    assert torch.allclose(scores, torch.cat(rows), atol=1e-5)
    assert torch.allclose(scores, paired, atol=1e-5)


def test_track_requires_template():
    with pytest.raises(RuntimeError, match="template"):
        build_model("siamfc_tiny").track(torch.zeros(1, 3, 159, 159))


def test_xcorr_shapes_and_errors():
    zf, xf = torch.randn(1, 4, 3, 3), torch.randn(5, 4, 9, 9)
    assert xcorr(zf, xf).shape == (5, 1, 7, 7)
    with pytest.raises(ValueError, match="paired"):
        xcorr(torch.randn(2, 4, 3, 3), xf)
    with pytest.raises(ValueError, match="channels"):
        xcorr(torch.randn(1, 3, 3, 3), xf)


def test_balanced_bce_loss_matches_definition():
    torch.manual_seed(0)
    scores = torch.randn(4, 1, 5, 5, requires_grad=True)
    labels = (torch.rand(4, 1, 5, 5) > 0.8).float()
    loss = balanced_bce_loss(scores, labels)
    bce = F.binary_cross_entropy_with_logits(scores.detach(), labels, reduction="none")
    expected = 0.5 * bce[labels == 1].mean() + 0.5 * bce[labels == 0].mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert torch.isfinite(scores.grad).all()
    # one [S, S] label map broadcast over the batch; labels of another layout with as many elements
    single = labels[0, 0]
    assert torch.allclose(balanced_bce_loss(scores, single), balanced_bce_loss(scores, single.expand(4, 1, 5, 5)))
    assert torch.allclose(balanced_bce_loss(scores, labels.view(4, 5, 5)), loss)
    # no positives: the positive term is 0
    none_pos = balanced_bce_loss(scores.detach(), torch.zeros(4, 1, 5, 5))
    assert torch.allclose(none_pos, 0.5 * F.binary_cross_entropy_with_logits(scores.detach(), torch.zeros(4, 1, 5, 5)))
    assert build_model("siamfc_tiny").loss(scores.detach(), labels) == loss.detach()


@pytest.mark.parametrize("name", TINY)
def test_tiny_training_step(name):
    torch.manual_seed(0)
    model = build_model(name).train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    z = torch.rand(4, 3, 79, 79) * 255
    x = torch.rand(4, 3, 159, 159) * 255
    labels = torch.zeros(4, 1, 11, 11)
    labels[:, :, 4:7, 4:7] = 1
    losses = []
    for _ in range(3):
        loss = model.loss(model(z, x), labels)
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("name", FULL)
def test_gradual_unfreezing_follows_release(name):
    model = build_model(name)
    assert all(p.requires_grad for p in model.parameters())  # nothing frozen by default
    layer1, layer2 = model.features.features.layer1, model.features.features.layer2
    assert model.unfix(0.0) and not model.unfix(0.4)
    trainable = {n.split(".")[2] + "." + n.split(".")[3] for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"layer2.4"}  # train_num 2: the last block only
    model.train()
    assert layer2[4].training and layer2[0].training  # part 0 is layer2[-0] = layer2[0] (release quirk)
    assert not layer2[2].training and not layer1[0].training and not model.features.features.bn1.training
    model.unfix(0.7)
    stem_trainable = model.features.features.conv1.weight.requires_grad
    assert stem_trainable == name.startswith("se_")  # SE-SiamFC's table unfreezes the stem at 0.7 (10 vs 9)
    assert all(p.requires_grad for p in layer1.parameters())
    model.eval()
    assert not any(m.training for m in model.modules())


# ---------------------------------------------------------------------------------------------------------
# score_adjust: the learnable affine score layer (the original SiamFC's ``adjust``)


@pytest.mark.parametrize("name", FULL + TINY + ["se_siamfc_tiny_sesn"])
def test_score_adjust_init_keys_and_options(name):
    default, adjusted = build_model(name), build_model(name, score_adjust=True)
    assert default.adjust is None and not default.score_adjust
    assert not any(k.startswith("adjust") for k in default.state_dict())
    assert "score_adjust" not in default.extra_repr()
    sd = adjusted.state_dict()
    assert list(sd) == list(default.state_dict()) + ["adjust.weight", "adjust.bias"]
    assert sd["adjust.weight"].shape == (1, 1, 1, 1) and sd["adjust.bias"].shape == (1,)
    assert sd["adjust.weight"].item() == pytest.approx(1e-3) and sd["adjust.bias"].item() == 0.0
    assert isinstance(adjusted.adjust, nn.Conv2d) and adjusted.score_adjust
    assert adjusted.build_options == {"score_adjust": True}
    assert "score_adjust=True" in repr(adjusted)
    assert count_parameters(adjusted) == count_parameters(default) + 2
    with pytest.raises(TypeError, match="score_adjust"):
        build_model(name, score_adjust="yes")


@pytest.mark.parametrize("name,impl", [("siamfc_tiny", None), ("se_siamfc_tiny", "fast"),
                                       ("se_siamfc_tiny", "reference"), ("se_siamfc_tiny_sesn", "fast")])
def test_score_adjust_is_affine_in_the_xcorr(name, impl):
    options = {} if impl is None else {"sesn_impl": impl}
    torch.manual_seed(0)
    default = build_model(name, **options).eval()
    adjusted = build_model(name, score_adjust=True, **options).eval()
    adjusted.load_state_dict({**default.state_dict(), "adjust.weight": torch.full((1, 1, 1, 1), 2.0),
                              "adjust.bias": torch.full((1,), 3.0)})
    z, x = torch.rand(2, 3, 79, 79) * 255, torch.rand(2, 3, 159, 159) * 255
    with torch.no_grad():
        corr = xcorr(default.embed(z), default.embed(x))
        assert torch.equal(default(z, x), 0.1 * corr)  # the default head is bitwise unchanged
        got = adjusted(z, x)
        assert torch.allclose(got, 2 * corr + 3, rtol=1e-6, atol=1e-6 * corr.abs().max().item())
        adjusted.template(z[:1])
        assert torch.allclose(adjusted.track(x), 2 * xcorr(default.embed(z[:1]), default.embed(x)) + 3,
                              rtol=1e-6, atol=1e-6 * corr.abs().max().item())


@pytest.mark.parametrize("name", ["siamfc_tiny", "se_siamfc_tiny_sesn"])
def test_score_adjust_gets_gradients(name):
    torch.manual_seed(0)
    model = build_model(name, score_adjust=True).train()
    z, x = torch.rand(2, 3, 79, 79) * 255, torch.rand(2, 3, 159, 159) * 255
    scores = model(z, x)
    labels = (torch.rand_like(scores) > 0.8).float()
    model.loss(scores, labels).backward()
    assert model.adjust.weight.grad is not None and model.adjust.weight.grad.abs().item() > 0
    assert model.adjust.bias.grad is not None and model.adjust.bias.grad.abs().item() > 0
    assert model.features.features.conv1.weight.grad.abs().sum() > 0
    model.unfix(0.0)  # gradual unfreezing freezes backbone parts only: the score layer stays trainable
    assert model.adjust.weight.requires_grad and model.adjust.bias.requires_grad


# ---------------------------------------------------------------------------------------------------------
# se_siamfc_tiny_sesn: the SESN authors' from-scratch scale-conv configuration


def test_se_siamfc_tiny_sesn_configuration():
    from sesiam_lib.sesn import SESConvHH, SESConvHH1x1, SESConvZ2H

    model = build_model("se_siamfc_tiny_sesn")
    spec = model.spec
    assert spec.scales == pytest.approx((1.0, 2 ** (1 / 3), 2 ** (2 / 3), 2.0))
    assert not spec.interscale and model.num_scales == 4
    assert (spec.stem_channels, spec.planes, spec.blocks) == (16, (16, 32), (2, 2))  # the tiny widths / depth
    assert (spec.stem_kernel, spec.stem_effective, spec.mid_kernel, spec.mid_effective) == (11, 5, 7, 3)
    assert (model.exemplar_size, model.instance_size, model.score_size) == (79, 159, 11)
    assert (model.exemplar_feature_size, model.instance_feature_size) == (4, 14)
    trunk = model.features.features
    assert trunk.conv1.kernel_size == 11 and trunk.conv1.basis.shape == (25, 4, 11, 11)
    for m in trunk.modules():
        if isinstance(m, SESConvHH1x1):
            assert m.scale_size == 1  # no interscale taps
        elif isinstance(m, (SESConvHH, SESConvZ2H)) and m is not trunk.conv1:
            assert m.kernel_size == 7 and m.basis.shape == (9, 4, 7, 7)
            if isinstance(m, SESConvHH):
                assert m.scale_size == 1
    assert torch.equal(trunk.conv1.basis, hermite_basis(11, spec.scales, 5))
    assert count_parameters(model) == 52688  # siamfc_tiny minus (49 - 25) * 3 * 16 stem weights
    assert model.score_size == build_model("se_siamfc_tiny").score_size


def test_se_siamfc_tiny_sesn_stem_kernel_is_not_truncated_more_than_the_release():
    """The rule behind K 11 for the stem (see sesiam_lib.models.tiny): at the largest scale, the share of a basis
    function's energy that falls outside the K x K support is at most the release stem's (K 9 / E 7 at 1.764)."""
    from sesiam_lib.sesn.basis import _one_scale

    def lost(k, e, scale):
        f = _one_scale(61, scale, e).double()
        inside = f[:, 30 - k // 2:31 + k // 2, 30 - k // 2:31 + k // 2].pow(2).sum((1, 2))
        return (1 - inside / f.pow(2).sum((1, 2))).max().item()

    release_stem, release_mid = lost(9, 7, 0.9 * 1.4**2), lost(5, 3, 0.9 * 1.4**2)
    assert lost(11, 5, 2.0) <= release_stem < lost(9, 5, 2.0)  # K 9 would truncate twice as much: K 11
    assert lost(7, 3, 2.0) <= release_mid  # the middle convs' K 7 truncates less than the release's K 5


@pytest.mark.parametrize("name", ["siamfc_tiny", "se_siamfc_tiny"])
def test_out_scale_is_a_fixed_score_factor(name):
    torch.manual_seed(0)
    model = build_model(name, out_scale=1e-3).eval()
    release = build_model(name).eval()
    release.load_state_dict(model.state_dict())  # no new keys: the same state dict as the release's head
    z, x = torch.rand(1, 3, 79, 79) * 255, torch.rand(2, 3, 159, 159) * 255
    with torch.no_grad():
        assert torch.allclose(model(z, x) * 100, release(z, x), rtol=1e-5, atol=1e-6)
        fast = model.fast()
        fast.template(z)
        assert torch.allclose(fast.track(x), model(z, x), rtol=1e-4, atol=1e-6)
    assert model.build_options == {"out_scale": 1e-3} and "out_scale=0.001" in repr(model)
    for bad in (0, -1.0, float("nan"), True, "0.1"):
        with pytest.raises((ValueError, TypeError), match="out_scale"):
            build_model(name, out_scale=bad)
    with pytest.raises(ValueError, match="exclude each other"):
        build_model(name, out_scale=1e-3, score_adjust=True)

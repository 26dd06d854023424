"""The equivariance measure (FACTS §8): SES layers pass, plain convs and broken layers fail."""

import pytest
import torch

from sesiam_lib.sesn import (SESConvHH, SESConvZ2H, ScalePool, downscale, equivariance_delta, equivariance_error,
                             layerwise_equivariance_error, natural_images, se_scales)


@pytest.fixture(scope="module")
def photos():
    return natural_images(192)


def stem(padding_mode="constant"):
    torch.manual_seed(0)
    return SESConvZ2H(3, 32, 9, 7, se_scales(), padding=4, padding_mode=padding_mode).eval()


def test_stem_is_equivariant_and_plain_conv_is_not(photos):
    se_error = equivariance_error(stem(), photos, scale_ratio=1.4, border=0.2)
    plain = torch.nn.Conv2d(3, 32, 7, padding=3, bias=False)
    with torch.no_grad():
        plain.weight -= plain.weight.mean(dim=(2, 3), keepdim=True)
    plain_error = equivariance_error(plain, photos, scale_ratio=1.4, border=0.2)
    assert se_error < 0.005
    assert plain_error >= 10 * se_error


def test_circular_padding_measured_too(photos):
    assert equivariance_error(stem("circular"), photos) < 0.01


def test_measure_catches_wrong_scale_alignment(photos):
    """A layer whose scale axis is reversed, or a comparison without the shift, must score badly."""
    layer = stem()

    class Reversed(torch.nn.Module):
        def forward(self, x):
            return torch.flip(layer(x), dims=[2])

    good = equivariance_error(layer, photos)
    assert equivariance_error(Reversed(), photos) > 10 * good
    # neighbouring scales of smooth photos are alike, so a missing shift is "only" several times worse
    assert equivariance_error(layer, photos, scale_shift=0) > 3 * good


def test_layerwise_stack(photos):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        SESConvZ2H(3, 8, 9, 7, se_scales(), padding=4), torch.nn.ReLU(),
        SESConvHH(8, 8, 1, 5, 3, se_scales(), padding=2), ScalePool(),
    ).eval()
    result = layerwise_equivariance_error(net, photos[:2])
    assert list(result.errors) == ["0", "1", "2", "3", "output"]
    assert result.errors["0"] < 0.005
    assert 0 < result.errors["2"] < 0.5  # the 5x5 middle conv is much less exact (3x3 support at small scales)
    assert result.errors["3"] == pytest.approx(result.errors["output"])
    rows = result.rows()
    assert rows[0]["layer"] == "0" and rows[0]["scale_ratio"] == 1.4
    with pytest.raises(KeyError, match="nope"):
        layerwise_equivariance_error(net, photos[:1], layers=["nope"])


def test_delta_is_zero_for_identical_maps_and_one_for_zero_prediction():
    phi = torch.randn(1, 2, 3, 20, 20)
    small = downscale(phi, size=(14, 14))
    shifted = torch.cat([small[:, :, 1:], torch.zeros_like(small[:, :, :1])], dim=2)
    assert equivariance_delta(phi, shifted, scale_shift=1, border=0.1) == pytest.approx(0.0, abs=1e-12)
    assert equivariance_delta(phi, torch.zeros_like(small), border=0.1) == pytest.approx(1.0)


def test_downscale_shapes():
    assert downscale(torch.zeros(2, 3, 192, 192), 1.4).shape == (2, 3, 137, 137)
    assert downscale(torch.zeros(2, 3, 4, 50, 40), size=(10, 8)).shape == (2, 3, 4, 10, 8)
    with pytest.raises(ValueError):
        downscale(torch.zeros(1, 1, 4, 4))


def test_backbone_stages_of_tiny_models(photos):
    """Per-stage rows of the model's backbone: the numbers of layerwise_equivariance_error on model.features."""
    from sesiam_lib.models import build_model
    from sesiam_lib.sesn.checks import measure_backbone_stages

    pics = photos[:2, :, :96, :96] * 255.0
    torch.manual_seed(0)
    model = build_model("se_siamfc_tiny").eval()
    rows = measure_backbone_stages(model, pics, border=0.2, group="se", seed=3)
    assert [r["stage"] for r in rows] == ["conv1", "layer1", "layer2"]
    assert all(r["group"] == "se" and r["seed"] == 3 and r["input"] == 96 and r["border"] == 0.2 for r in rows)
    direct = layerwise_equivariance_error(model.features, pics, layers=["features.conv1", "features.layer1",
                                                                      "features.layer2"], border=0.2)
    assert [r["error"] for r in rows] == pytest.approx(list(direct.errors.values()))
    # the stride-2 stem aliases (random init, 96 px: about 0.09), yet comparing without the scale shift is worse
    unshifted = layerwise_equivariance_error(model.features, pics, layers=["features.conv1"], border=0.2,
                                             scale_shift=0)
    assert rows[0]["error"] < 0.2 and unshifted.errors["features.conv1"] > 1.5 * rows[0]["error"]
    torch.manual_seed(0)
    plain = measure_backbone_stages(build_model("siamfc_tiny"), pics, border=0.2)
    assert len(plain) == 3 and all(r["error"] >= 0 for r in plain)


def test_basis_ratio_measures_each_model_one_scale_index_apart(photos):
    """The SESN-style model (ratio 1.26) measured at the release's 1.4 looks far less equivariant than it is."""
    from sesiam_lib.models import build_model
    from sesiam_lib.sesn.checks import basis_ratio, measure_backbone_stages

    torch.manual_seed(0)
    sesn = build_model("se_siamfc_tiny_sesn").eval()
    assert basis_ratio(sesn) == pytest.approx(2 ** (1 / 3))
    assert basis_ratio(build_model("se_siamfc_tiny")) == pytest.approx(1.4)
    assert basis_ratio(build_model("siamfc_tiny"), 1.3) == 1.3  # no scale convs: the default
    pics = photos[:2, :, :96, :96] * 255.0
    own = measure_backbone_stages(sesn, pics, scale_ratio=basis_ratio(sesn), border=0.2, stages=["features.conv1"])
    wrong = measure_backbone_stages(sesn, pics, scale_ratio=1.4, border=0.2, stages=["features.conv1"])
    assert own[0]["error"] < 0.5 * wrong[0]["error"], (own, wrong)


def test_summarize_stage_errors_mean_and_sample_std():
    from sesiam_lib.sesn.checks import summarize_stage_errors

    rows = [{"group": "a", "stage": "conv1", "error": e} for e in (1.0, 2.0, 3.0)]
    rows += [{"group": "b", "stage": "conv1", "error": 0.5}, {"group": "a", "stage": "layer1", "error": 4.0}]
    summary = summarize_stage_errors(rows)
    assert [(s["group"], s["stage"], s["n"]) for s in summary] == [("a", "conv1", 3), ("b", "conv1", 1),
                                                                  ("a", "layer1", 1)]
    assert summary[0]["mean"] == pytest.approx(2.0) and summary[0]["std"] == pytest.approx(1.0)
    assert summary[1]["std"] == 0.0


def test_scale_usage_shares(photos):
    from sesiam_lib.models import build_model
    from sesiam_lib.sesn.checks import scale_usage

    torch.manual_seed(0)
    model = build_model("se_siamfc_tiny")
    rows = scale_usage(model, photos[:1, :, :96, :96] * 255.0, label="x")
    assert [r["stage"] for r in rows] == ["conv1", "layer1", "layer2"]  # every SE stage has a scale axis
    for row in rows:
        assert len(row["argmax_share"]) == 3 and sum(row["argmax_share"]) == pytest.approx(1.0)
        assert sum(row["energy_share"]) == pytest.approx(1.0) and row["label"] == "x"
        assert row["boundary_share"] == pytest.approx(row["argmax_share"][0] + row["argmax_share"][2])
    assert scale_usage(build_model("siamfc_tiny"), photos[:1, :, :96, :96] * 255.0) == []  # no scale axis


def test_scale_usage_counts_the_argmax():
    from sesiam_lib.sesn.checks import scale_usage

    class Lift(torch.nn.Module):  # scale s answers with (s + 1) * x, except scale 0 wins where x < 0
        def forward(self, x):
            out = torch.stack([x * (s + 1) for s in range(3)], dim=2)
            out[:, :, 0] = torch.where(x < 0, x.abs() * 10, out[:, :, 0])
            return out

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Sequential()
            self.features.add_module("conv1", Lift())

        def forward(self, x):
            return self.features(x)

    model = torch.nn.Module()
    model.features = Wrapper()
    x = torch.tensor([1.0, 2.0, -1.0, 3.0]).view(1, 1, 2, 2)
    (row,) = scale_usage(model, x, stages=["features.conv1"])
    assert row["argmax_share"] == pytest.approx([0.25, 0.0, 0.75]) and row["boundary_share"] == pytest.approx(1.0)

"""The scale head (issue #18): build option, correlation algebra and sign convention, fast copy, labels, training
wiring, and the one-crop tracker mode."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from sesiam_lib.core.labels import scale_shift_index, scale_shift_label, siamfc_label
from sesiam_lib.models import (ScaleHeadSESiamFC, build_model, checkpoint_model_options, count_parameters,
                               load_checkpoint, optimize_for_inference, scale_correlations, scale_xcorr, xcorr)
from sesiam_lib.tracking import SiamFCTracker
from sesiam_lib.tracking.scale_head_tracker import parabola_offset


# --------------------------------------------------------------------------------------------------------------
# model
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["se_siamfc_tiny", "se_siamfc_tiny_sesn", "se_siamfc_resnet22"])
def test_build_scale_head_same_parameters_and_state_dict(name):
    for adjust in (False, True):
        pool = build_model(name, score_adjust=adjust)
        scale = build_model(name, head="scale", score_adjust=adjust)
        assert isinstance(scale, ScaleHeadSESiamFC) and scale.head_type == "scale" and pool.head_type == "pool"
        assert count_parameters(scale) == count_parameters(pool)
        assert {k: v.shape for k, v in scale.state_dict().items()} == {k: v.shape for k, v in pool.state_dict().items()}
        assert scale.build_options == {"head": "scale", "score_adjust": adjust}
        assert scale.max_shift == 1 and scale.shifts == [-1, 0, 1]
    assert build_model("se_siamfc_tiny", head="scale").scale_ratio == pytest.approx(1.4)
    assert build_model("se_siamfc_tiny_sesn", head="scale").scale_ratio == pytest.approx(2 ** (1 / 3))


def test_build_rejects_bad_head_options():
    for name in ("siamfc_tiny", "siamfc_resnet22"):
        with pytest.raises(ValueError, match="no scale axis"):
            build_model(name, head="scale")
        assert build_model(name, head="pool").head_type == "pool"
    with pytest.raises(ValueError, match="head must be one of"):
        build_model("se_siamfc_tiny", head="max")
    with pytest.raises(ValueError, match="max_shift applies"):
        build_model("se_siamfc_tiny", max_shift=1)
    with pytest.raises(ValueError, match="max_shift must be in"):
        build_model("se_siamfc_tiny", head="scale", max_shift=3)
    assert build_model("se_siamfc_tiny_sesn", head="scale", max_shift=2).shifts == [-2, -1, 0, 1, 2]


def test_scale_xcorr_matches_explicit_loops():
    g = torch.Generator().manual_seed(0)
    zf = torch.randn(3, 5, 4, 3, 3, generator=g)
    xf = torch.randn(3, 5, 4, 8, 7, generator=g)
    pairs = scale_correlations(zf, xf)
    assert pairs.shape == (3, 4, 4, 6, 5)
    for i in range(4):
        for j in range(4):
            ref = xcorr(zf[:, :, i], xf[:, :, j])[:, 0]
            torch.testing.assert_close(pairs[:, i, j], ref, rtol=1e-5, atol=1e-4)
    for m in (0, 1, 3):
        r = scale_xcorr(zf, xf, m)
        assert r.shape == (3, 2 * m + 1, 6, 5)
        for k in range(-m, m + 1):
            valid = [i for i in range(4) if 0 <= i + k < 4]
            ref = torch.stack([xcorr(zf[:, :, i], xf[:, :, i + k])[:, 0] for i in valid]).mean(0)
            torch.testing.assert_close(r[:, k + m], ref, rtol=1e-5, atol=1e-4)
    # one template broadcast over the crops == the template repeated and paired
    torch.testing.assert_close(scale_xcorr(zf[:1], xf), scale_xcorr(zf[:1].expand(3, -1, -1, -1, -1), xf),
                               rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="max_shift"):
        scale_xcorr(zf, xf, 4)


def test_sign_convention_algebra():
    """A target enlarged by one basis ratio in the search crop moves the features one scale up the axis
    (phi(L_a x)[s + 1] = L_a phi(x)[s]): search scale j holds what the template had at j - 1. The response must
    then peak at k = +1, and at k = -1 when the search features move one scale down instead."""
    g = torch.Generator().manual_seed(1)
    gen = torch.randn(7, 8, 5, 5, generator=g)  # a feature "function" of the scale index, indices -2..4
    z = gen[2:5].permute(1, 0, 2, 3)[None]  # template scales 0, 1, 2 = g(0), g(1), g(2)
    larger = gen[1:4].permute(1, 0, 2, 3)[None]  # search scale j = g(j - 1): target larger in the search crop
    smaller = gen[3:6].permute(1, 0, 2, 3)[None]  # search scale j = g(j + 1): target smaller
    for x, expected in ((larger, 1), (smaller, -1), (z, 0)):
        r = scale_xcorr(z, x, 1)[0, :, 0, 0]  # 5x5 against 5x5: one cell per shift
        assert int(r.argmax()) - 1 == expected, r


def _pattern_crop(size, obj):
    rng = np.random.default_rng(1)
    base = cv2.resize((rng.random((8, 8)) * 255).astype(np.float32), (64, 64), interpolation=cv2.INTER_CUBIC)
    img = np.full((size, size), 128, np.float32)
    o = (size - obj) // 2
    img[o:o + obj, o:o + obj] = cv2.resize(base, (obj, obj), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.repeat(img[None, None], 3, 1).copy())


def test_sign_convention_random_weights():
    """Random weights: the k = 0 map dominates whatever the scale (unnormalised features share a large common
    part), but the asymmetry r[+1] - r[-1] rises when the target is enlarged by the basis ratio in the search crop
    and falls when it is shrunk by it (averaged over 3 initialisations of each SE model)."""
    for name in ("se_siamfc_tiny", "se_siamfc_tiny_sesn"):
        asym = {1: [], -1: []}
        for seed in range(3):
            torch.manual_seed(seed)
            model = build_model(name, head="scale").eval()
            with torch.no_grad():
                model.template(_pattern_crop(79, 28))
                for sign in (1, -1):
                    x = _pattern_crop(159, int(round(28 * model.scale_ratio ** sign)))
                    r = model.track(x)[0, :, 5, 5]
                    asym[sign].append(float((r[2] - r[0]) / r.abs().mean()))
        assert np.mean(asym[1]) > np.mean(asym[-1]), (name, asym)


@pytest.mark.parametrize("adjust", [False, True])
def test_fast_copy_and_score_adjust(adjust):
    torch.manual_seed(0)
    model = build_model("se_siamfc_tiny", head="scale", score_adjust=adjust).eval()
    if adjust:
        with torch.no_grad():
            model.adjust.weight.fill_(0.02)
            model.adjust.bias.fill_(-1.5)
    z = torch.rand(1, 3, 79, 79) * 255
    x = torch.rand(2, 3, 159, 159) * 255
    with torch.no_grad():
        zf, xf = model.embed(z), model.embed(x)
        assert zf.shape == (1, 128, 3, 4, 4) and xf.shape == (2, 128, 3, 14, 14)
        model.template(z)
        ref = model.track(x)
        assert ref.shape == (2, 3, 11, 11)
        expected = (0.02 * scale_xcorr(zf, xf) - 1.5) if adjust else 0.1 * scale_xcorr(zf, xf)
        torch.testing.assert_close(ref, expected, rtol=1e-5, atol=1e-4)
        fast = optimize_for_inference(model)
        assert fast.head_type == "scale" and type(model.fast()) is type(fast)
        fast.template(z)
        out = fast.track(x)
    scale = float(ref.abs().max())
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5 * scale)


# --------------------------------------------------------------------------------------------------------------
# labels and pairs
# --------------------------------------------------------------------------------------------------------------
def test_scale_shift_label():
    assert scale_shift_index(1.0, 1.4, 1) == 0
    assert scale_shift_index(1.4, 1.4, 1) == 1 and scale_shift_index(1 / 1.4, 1.4, 1) == -1
    assert scale_shift_index(1.4 ** 0.49, 1.4, 1) == 0 and scale_shift_index(1.4 ** 0.51, 1.4, 1) == 1
    assert scale_shift_index(3.0, 1.4, 1) == 1 and scale_shift_index(1.4 ** -2, 1.4, 2) == -2
    label = scale_shift_label(11, (9, -3), 8, 2, 1.5, 1.4, 1)
    assert label.shape == (3, 11, 11) and label.dtype == np.float32
    np.testing.assert_array_equal(label[2], siamfc_label(11, (9, -3), 8, 2))
    assert label[:2].sum() == 0


def test_pairs_return_scale_follows_jitter_and_leaves_samples_unchanged(data_root):
    from sesiam_lib.data import PairDataset
    from sesiam_lib.data.got10k import load_got10k

    seqs = load_got10k(Path(data_root) / "train", None)
    geo = dict(exemplar_size=79, instance_size=159, score_size=11, scale=0.3, pairs_per_epoch=30, seed=3)
    plain = PairDataset(seqs, **geo)
    with_scale = PairDataset(seqs, return_scale=True, scale_ratio=1.4, max_shift=1, **geo)
    shifts = set()
    for i in range(30):
        a, b = plain[i], with_scale[i]
        assert set(b) - set(a) == {"scale", "scale_label", "scale_shift"}
        for key in a:
            assert torch.equal(a[key], b[key]), key
        rng = np.random.default_rng([3, 0, i])
        plain.sample_indices(i, rng)
        jitter_z, jitter_x = 1 + rng.uniform(-0.3, 0.3), 1 + rng.uniform(-0.3, 0.3)
        assert float(b["scale"]) == pytest.approx(jitter_z / jitter_x, rel=1e-6)
        k = int(np.clip(np.round(np.log(jitter_z / jitter_x) / np.log(1.4)), -1, 1))
        assert int(b["scale_shift"]) == k
        assert b["scale_label"].shape == (3, 11, 11)
        torch.testing.assert_close(b["scale_label"][k + 1], a["label"][0])
        assert float(b["scale_label"].sum()) == float(a["label"].sum())
        shifts.add(k)
    assert shifts == {-1, 0, 1}  # scale jitter 0.3 reaches every shift
    with pytest.raises(ValueError, match="scale_ratio needs return_scale"):
        PairDataset(seqs, scale_ratio=1.4, **geo)


def test_training_smoke_scale_head_loss_decreases_and_checkpoint_rebuilds(data_root, tmp_path):
    from sesiam_lib.training import read_csv_log, train

    cfg = {"model": "se_siamfc_tiny", "model_kwargs": {"head": "scale", "score_adjust": True}, "epochs": 4,
           "batch_size": 4, "seed": 0, "device": "cpu", "progress": False, "num_threads": 1,
           "run_dir": str(tmp_path / "run"), "data": {"root": str(data_root), "pairs_per_epoch": 16, "scale": 0.3},
           "optim": {"lr_start": 0.01, "lr_end": 0.01},
           "validation": {"enabled": True, "max_sequences": 1, "max_frames": 6}}
    result = train(cfg)
    rows = read_csv_log(result.log_epochs)
    loss = [float(r["mean_loss"]) for r in rows]
    assert all(np.isfinite(loss)) and loss[-1] < loss[0], loss
    assert all(np.isfinite(float(r["val_auc"])) for r in rows)  # validation tracked with the scale head
    options = checkpoint_model_options({}, result.final_checkpoint)
    assert options["head"] == "scale"
    model = build_model("se_siamfc_tiny", **options)
    load_checkpoint(model, result.final_checkpoint)
    assert model.head_type == "scale"


# --------------------------------------------------------------------------------------------------------------
# tracker
# --------------------------------------------------------------------------------------------------------------
class SquareScaleStub(nn.Module):
    """A scale-head stand-in whose response we control: it measures the side of the bright square in the
    template and search crops, ``rel = side_x / side_z``, and answers a spatial bump at the crop centre times
    ``1 - (k - k*)^2 / 4`` over the shifts, ``k* = log(rel) / log(ratio)`` -- a parabola with its vertex at k*."""

    head_type = "scale"
    exemplar_size, instance_size, score_size, total_stride = 79, 159, 11, 8
    arch = "stub_scale"

    def __init__(self, max_shift=1, ratio=1.4, fixed_k=None):
        super().__init__()
        self.max_shift, self.scale_ratio, self.fixed_k = max_shift, ratio, fixed_k
        self.calls = []
        self.side_z = None

    @staticmethod
    def _side(crop):
        row = crop[0, 0, crop.shape[-2] // 2]
        return float((row > 128).sum())

    def template(self, z):
        self.side_z = self._side(z)

    def track(self, x):
        self.calls.append(x.shape[0])
        k_star = self.fixed_k
        if k_star is None:
            k_star = np.log(self._side(x) / self.side_z) / np.log(self.scale_ratio)
        shifts = np.arange(-self.max_shift, self.max_shift + 1)
        c = np.arange(self.score_size) - self.score_size // 2
        bump = np.exp(-(c[:, None] ** 2 + c[None] ** 2) / 2.0)
        maps = (1 - (shifts - k_star) ** 2 / 4)[:, None, None] * bump[None]
        return torch.from_numpy(maps[None].astype(np.float32)).repeat(x.shape[0], 1, 1, 1)


def _square_frame(side, size=192):
    img = np.zeros((size, size, 3), np.uint8)
    o = (size - side) / 2
    a, b = int(round(o)), int(round(o + side))
    img[a:b, a:b] = 255
    return img, np.array([a, a, b - a, b - a], float)


def test_tracker_scale_mode_arithmetic_exact():
    stub = SquareScaleStub(fixed_k=1.0 / 3.0)
    tracker = SiamFCTracker(stub, fast=False, scale_lr=0.5, scale_penalty=1.0, w_influence=0.0, device="cpu",
                            num_scales=5, scale_step=1.9)
    assert tracker.head_type == "scale" and tracker.params()["head"] == "scale"
    img, box = _square_frame(40)
    tracker.init(img, box)
    s_x0 = tracker.s_x
    out = tracker.update(img)
    factor = 1.4 ** (1.0 / 3.0)
    assert tracker.last_debug["shift_estimate"] == pytest.approx(1.0 / 3.0, abs=1e-6)
    assert tracker.last_debug["scale_factor"] == pytest.approx(factor, rel=1e-6)
    assert tracker.s_x == pytest.approx(0.5 * s_x0 + 0.5 * s_x0 * factor, rel=1e-6)
    np.testing.assert_allclose(out[2:], box[2:] * (0.5 + 0.5 * factor), rtol=1e-6)
    # peak at the crop centre: the centre moves by at most one upsampled cell (the release's half-cell offset)
    np.testing.assert_allclose(tracker.center, box[:2] + box[2:] / 2, atol=8 / 16 * s_x0 / 159 + 1e-9)
    assert stub.calls == [1]  # one crop, whatever num_scales says
    assert tracker.last_debug["search_crops"].shape[0] == 1


def test_parabola_offset():
    assert parabola_offset([0.5, 1.0, 0.9], 1) == pytest.approx(1 / 3)
    assert parabola_offset([0.9, 1.0, 0.5], 1) == pytest.approx(-1 / 3)
    assert parabola_offset([1.0, 0.9, 0.5], 0) == 0.0 and parabola_offset([1.0, 1.0, 1.0], 1) == 0.0


def test_tracker_scale_mode_follows_growing_target():
    stub = SquareScaleStub()
    tracker = SiamFCTracker(stub, fast=False, scale_lr=1.0, scale_penalty=1.0, w_influence=0.0, device="cpu")
    sides = np.round(24 * 1.03 ** np.arange(25)).astype(int)  # 24 -> 49 px
    img, box = _square_frame(int(sides[0]))
    tracker.init(img, box)
    for side in sides[1:]:
        img, true = _square_frame(int(side))
        out = tracker.update(img)
    assert stub.calls == [1] * (len(sides) - 1)
    assert out[2] == pytest.approx(true[2], rel=0.08), (out, true)
    # the pyramid would not have grown at all with these settings on a flat response; the size here did
    assert out[2] > 1.7 * sides[0]


def test_tracker_mode_automatic_provenance_and_true_size():
    torch.manual_seed(0)
    scale = build_model("se_siamfc_tiny", head="scale")
    pool = build_model("se_siamfc_tiny")
    pool.load_state_dict(scale.state_dict())
    t_scale = SiamFCTracker(scale, device="cpu")
    t_pool = SiamFCTracker(pool, device="cpu")
    assert t_scale.head_type == "scale" and t_pool.head_type == "pool"
    assert "head" not in t_pool.params() and t_pool.params()["num_scales"] == 3
    p_scale, p_pool = t_scale.provenance(), t_pool.provenance()
    assert p_scale["weights_sha256"] == p_pool["weights_sha256"]
    assert p_scale["hyper_parameters"] != p_pool["hyper_parameters"]
    assert p_scale["model_options"] == {"head": "scale"} and p_pool["model_options"] == {}
    assert t_scale.fast_fallback is None and t_scale.net.head_type == "scale"
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 140, 3), dtype=np.uint8)
    t_scale.init(img, [50, 40, 30, 24])
    box = t_scale.update(img)
    d = t_scale.last_debug
    assert d["response_raw"].shape == (3, 11, 11) and d["response_up"].shape == (3, 176, 176)
    assert d["search_crops"].shape == (1, 159, 159, 3) and np.isfinite(box).all()
    box = t_scale.update(img, true_size=(33, 21))
    np.testing.assert_allclose(box[2:], [33, 21])


def test_shift_response_figure_and_is_scale_head(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sesiam_lib.tracking import TrackerFactory
    from sesiam_lib.tracking.scale_head_tracker import is_scale_head
    from sesiam_lib.tracking.visualize import plot_response_maps, plot_shift_responses

    torch.manual_seed(0)
    model = build_model("se_siamfc_tiny", head="scale")
    tracker = SiamFCTracker(model, device="cpu")
    assert is_scale_head(tracker) and is_scale_head(model) and not is_scale_head(build_model("se_siamfc_tiny"))
    assert is_scale_head(TrackerFactory("se_siamfc_tiny", model_options={"head": "scale"}))
    assert not is_scale_head(TrackerFactory("se_siamfc_tiny"))
    img, box = _square_frame(30)
    tracker.init(img, box)
    debugs = []
    for _ in range(2):
        tracker.update(img)
        debugs.append(dict(tracker.last_debug))
    fig = plot_shift_responses(debugs, frames=[1, 2], title="t")
    assert len(fig.axes) == 2 * 4
    fig.savefig(tmp_path / "shifts.png")
    plt.close(fig)
    fig = plot_response_maps(debugs[-1])  # the generic per-map figure copes with one crop for three maps
    plt.close(fig)
    pyramid = SiamFCTracker(build_model("se_siamfc_tiny"), device="cpu")
    pyramid.init(img, box)
    pyramid.update(img)
    with pytest.raises(ValueError, match="scale-head"):
        plot_shift_responses([pyramid.last_debug])


def test_pool_trained_weights_read_through_the_scale_head(data_root, tmp_path):
    """The read-out arms of scale_head_v2: a pool-head training checkpoint tracked with model_options head=scale
    (notebooks 03 / 05 ``checkpoints`` entries) is a scale-head tracker with exactly those weights, one crop a frame."""
    from sesiam_lib.tracking import TrackerFactory
    from sesiam_lib.tracking.scale_head_tracker import is_scale_head
    from sesiam_lib.training import train

    result = train({"model": "se_siamfc_tiny", "model_kwargs": {"out_scale": 0.001}, "epochs": 1, "batch_size": 4,
                    "seed": 0, "device": "cpu", "progress": False, "num_threads": 1, "run_dir": str(tmp_path / "run"),
                    "data": {"root": str(data_root), "pairs_per_epoch": 8}, "validation": {"enabled": False}})
    pool = TrackerFactory("se_siamfc_tiny", checkpoint=str(result.final_checkpoint))
    readout = TrackerFactory("se_siamfc_tiny", checkpoint=str(result.final_checkpoint), model_options={"head": "scale"})
    assert is_scale_head(readout) and not is_scale_head(pool)
    pool_model, readout_model = pool.build_model(), readout.build_model()
    assert readout_model.head_type == "scale" and readout_model.out_scale == pool_model.out_scale == 0.001
    for key, value in pool_model.state_dict().items():
        assert torch.equal(readout_model.state_dict()[key], value), key
    tracker = readout()
    tracker.debug = True
    img, box = _square_frame(30)
    tracker.init(img, box)
    tracker.update(img)
    assert tracker.last_debug["head"] == "scale" and len(tracker.last_debug["search_crops"]) == 1


def test_scale_head_preset_parses_and_validates():
    from sesiam_lib.pipeline import expand_steps, load_preset
    from sesiam_lib.pipeline.runner import repo_root
    from sesiam_lib.pipeline.validate import check_steps

    steps = expand_steps(load_preset("scale_head_v2"))
    check_steps(steps, repo_root() / "notebooks")
    training = [s for s in steps if s.notebook.startswith("02_")]
    assert len(training) == 10 and all(s.parameters["model_options"] == {"head": "scale"} and
                                       s.parameters["tag"] == "scalehead" and
                                       s.parameters["train_preset"] == "synthetic_v2" for s in training)
    tuning = [s for s in steps if s.notebook.startswith("05_")]
    assert all(s.parameters["trials"] == 20 and s.parameters["models"] == ["se_siamfc_tiny-scalehead"] for s in tuning)
    tracking = [s for s in steps if s.notebook.startswith("03_")]
    assert sum(bool(s.parameters.get("true_size")) for s in tracking) == 2
    assert all(s.parameters["seeds"] == [0, 1, 2, 3, 4] for s in tracking)

"""SiamFCTracker: step-for-step agreement with a straight-line reference of the release, robustness, interface."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from sesiam_lib.tracking import SiamFCTracker, model_family, tracker_params


# --------------------------------------------------------------------------------------------------------------
# a stand-in network with the model interface (template / track, geometry attributes)
# --------------------------------------------------------------------------------------------------------------
class StandIn(nn.Module):
    """Fixed features: 8x8 block means of the centred crop, through a fixed random 1x1 projection."""

    def __init__(self, exemplar_size=127, instance_size=255, seed=0):
        super().__init__()
        self.exemplar_size, self.instance_size, self.total_stride = exemplar_size, instance_size, 8
        self.score_size = instance_size // 8 - exemplar_size // 8 + 1
        g = torch.Generator().manual_seed(seed)
        self.register_buffer("proj", torch.randn(6, 3, 1, 1, generator=g))
        self.arch = "standin"
        self.zf = None
        self.seen = []  # input dtype/shape/range checks

    def embed(self, x):
        self.seen.append((x.dtype, tuple(x.shape), float(x.min()), float(x.max())))
        self.last_input = x
        return F.conv2d(F.avg_pool2d((x - 128.0) / 64.0, 8), self.proj)

    def template(self, z):
        self.zf = self.embed(z)
        return self.zf

    def track(self, x):
        return 0.1 * F.conv2d(self.embed(x), self.zf)


# --------------------------------------------------------------------------------------------------------------
# the reference: the release's procedure written out independently (numpy; cv2.resize for crops as released)
# --------------------------------------------------------------------------------------------------------------
def ref_subwindow(im, pos, model_sz, original_sz, avg_chans):
    c = (original_sz + 1) / 2
    xmin = round(pos[0] - c)
    ymin = round(pos[1] - c)
    xmax, ymax = xmin + original_sz - 1, ymin + original_sz - 1
    left, top = int(max(0.0, -xmin)), int(max(0.0, -ymin))
    right = int(max(0.0, xmax - im.shape[1] + 1))
    bottom = int(max(0.0, ymax - im.shape[0] + 1))
    r, cc, k = im.shape
    big = np.zeros((r + top + bottom, cc + left + right, k), np.uint8)
    big[:, :] = avg_chans
    big[top:top + r, left:left + cc] = im
    patch = big[ymin + top:ymax + top + 1, xmin + left:xmax + left + 1]
    if model_sz != original_sz:
        patch = cv2.resize(patch, (model_sz, model_sz))
    return patch


def cubic_matrix(n_in, n_out, a=-0.75):
    """(n_out, n_in) bicubic interpolation matrix, half-pixel centres, clamped borders (torch / OpenCV)."""
    def k(t):
        t = abs(t)
        if t <= 1:
            return (a + 2) * t ** 3 - (a + 3) * t ** 2 + 1
        if t < 2:
            return a * t ** 3 - 5 * a * t ** 2 + 8 * a * t - 4 * a
        return 0.0

    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        x = (i + 0.5) * n_in / n_out - 0.5
        x0 = math.floor(x)
        for j in range(x0 - 1, x0 + 3):
            m[i, min(max(j, 0), n_in - 1)] += k(x - j)
    return m


def ref_init(img, box, E, I, context=0.5):
    x, y, w, h = box
    pos = np.array([x + w / 2, y + h / 2])
    sz = np.array([w, h], dtype=np.float64)
    wc = sz[0] + context * sz.sum()
    hc = sz[1] + context * sz.sum()
    s_z = round(np.sqrt(wc * hc))
    s_x = s_z + 2 * ((I - E) / 2) / (E / s_z)
    avg = img.reshape(-1, 3).mean(0)
    z = ref_subwindow(img, pos, E, s_z, avg)
    return {"pos": pos, "sz": sz, "s_x": s_x, "min": 0.2 * s_x, "max": 5 * s_x, "avg": avg, "z": z}


def ref_track(st, img, model, step, lr, penalty, w_inf, up=16):
    E, I, S, stride = model.exemplar_size, model.instance_size, model.score_size, model.total_stride
    scales = step ** np.array([-1.0, 0.0, 1.0])
    scaled = st["s_x"] * scales
    sides = [round(v) for v in scaled]
    beta = I / sides[0]
    L = round(beta * sides[-1])
    big = ref_subwindow(img, st["pos"], L, sides[-1], st["avg"])
    crops = np.stack([ref_subwindow(big, ((L + 1) / 2, (L + 1) / 2), I, round(beta * s), st["avg"]) for s in sides])
    with torch.no_grad():
        score = model.track(torch.from_numpy(crops).permute(0, 3, 1, 2).float()).numpy()[:, 0].astype(np.float64)
    U = S * up
    cm = cubic_matrix(S, U)
    ups = [cm @ s @ cm.T for s in score]
    pen = [ups[i].max() * penalty ** abs(i - 1) for i in range(3)]
    best = int(np.argmax(pen))
    m = ups[best] - ups[best].min()
    m = m / m.sum()
    win = np.outer(np.hanning(U), np.hanning(U))
    m = (1 - w_inf) * m + w_inf * win / win.sum()
    r, c = np.unravel_index(m.argmax(), m.shape)
    disp = (np.array([c, r]) - math.ceil(U / 2)) * stride / up * st["s_x"] / I
    pos = st["pos"] + disp
    st["s_x"] = max(st["min"], min(st["max"], (1 - lr) * st["s_x"] + lr * scaled[best]))
    sz = (1 - lr) * st["sz"] + lr * st["sz"] * scales[best]
    H, W = img.shape[:2]
    pos = np.array([max(0, min(W, pos[0])), max(0, min(H, pos[1]))])
    sz = np.array([max(10, min(W, sz[0])), max(10, min(H, sz[1]))])
    st["pos"], st["sz"] = pos, sz
    return np.array([max(0, pos[0] - sz[0] / 2), max(0, pos[1] - sz[1] / 2), sz[0], sz[1]]), crops, best


def scene(n=8, size=(200, 260), start=(60.0, 50.0), vel=(9.0, 7.0), side0=36.0, growth=1.06, seed=3):
    """A textured square that moves and grows over a noisy background; returns frames and boxes."""
    rng = np.random.default_rng(seed)
    bg = cv2.GaussianBlur(rng.integers(0, 256, (*size, 3)).astype(np.uint8), (0, 0), 3)
    tex = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    frames, boxes = [], []
    for t in range(n):
        side = side0 * growth ** t
        x, y = start[0] + vel[0] * t, start[1] + vel[1] * t
        f = bg.copy()
        patch = cv2.resize(tex, (max(2, int(side)), max(2, int(side))), interpolation=cv2.INTER_NEAREST)
        x0, y0 = int(x), int(y)
        x1, y1 = min(size[1], x0 + patch.shape[1]), min(size[0], y0 + patch.shape[0])
        if x1 > max(x0, 0) and y1 > max(y0, 0):
            f[max(y0, 0):y1, max(x0, 0):x1] = patch[max(0, -y0):y1 - y0, max(0, -x0):x1 - x0]
        frames.append(f)
        boxes.append([x, y, side, side])
    return frames, np.array(boxes)


@pytest.mark.parametrize(
    "geometry, hp, start, vel",
    [
        ((127, 255), (1.1633, 0.171, 0.9995, 0.251), (60.0, 50.0), (9.0, 7.0)),
        ((127, 255), (1.0375, 0.59, 0.9745, 0.35), (200.0, 150.0), (12.0, 9.0)),  # runs off the bottom-right
        ((79, 159), (1.1897, 0.2226, 0.937, 0.2897), (5.0, 4.0), (-3.0, 2.0)),  # tiny geometry, at the border
    ],
)
@pytest.mark.parametrize("upsample", ["matrix", "cv2", "torch"])
def test_tracker_matches_straight_line_reference(geometry, hp, start, vel, upsample):
    E, I = geometry
    model = StandIn(E, I)
    frames, boxes = scene(start=start, vel=vel)
    step, lr, pen, w = hp
    tracker = SiamFCTracker(model, scale_step=step, scale_lr=lr, scale_penalty=pen, w_influence=w, device="cpu",
                            fast=False, upsample=upsample)
    tracker.init(frames[0], boxes[0])
    st = ref_init(frames[0], boxes[0], E, I)
    np.testing.assert_array_equal(tracker.last_debug["template_crop"], st["z"])
    for f in range(1, len(frames)):
        ref_box, ref_crops, ref_best = ref_track(st, frames[f], model, step, lr, pen, w)
        box = tracker.update(frames[f])
        np.testing.assert_array_equal(tracker.last_debug["search_crops"], ref_crops)
        assert tracker.last_debug["best_scale"] == ref_best
        np.testing.assert_allclose(box, ref_box, rtol=0, atol=1e-9)
        assert abs(tracker.s_x - st["s_x"]) < 1e-9


@pytest.mark.parametrize("sizes", [(17, 272), (11, 176), (17, 136), (5, 7)])
def test_upsampling_modes_agree_with_cv2_and_torch(sizes):
    from sesiam_lib.tracking.siamfc_tracker import bicubic_matrix

    s, u = sizes
    raw = np.random.default_rng(s).standard_normal((3, s, s)).astype(np.float32)
    cv = np.stack([cv2.resize(r, (u, u), interpolation=cv2.INTER_CUBIC) for r in raw])
    th = F.interpolate(torch.from_numpy(raw)[:, None], size=(u, u), mode="bicubic").numpy()[:, 0]
    m = bicubic_matrix(s, u)
    mat = m @ raw.astype(np.float64) @ m.T
    # float32 rounding: up to 4.3e-6 measured between torch and the exact filter on N(0, 1) maps (the margin has to
    # survive another torch/OpenCV build); another filter (bilinear, a = -0.75) differs by > 1e-2
    np.testing.assert_allclose(mat, cv, atol=2e-5)
    np.testing.assert_allclose(mat, th, atol=2e-5)
    np.testing.assert_allclose(m.sum(1), 1.0)
    t = SiamFCTracker(StandIn(), device="cpu", fast=False)
    np.testing.assert_allclose(t._upsample(raw, u), cv, atol=2e-5)


def test_model_inputs_are_rgb_float_0_255():
    model = StandIn()
    frames, boxes = scene(n=2)
    t = SiamFCTracker(model, device="cpu", fast=False)
    t.init(frames[0], boxes[0])
    t.update(frames[1])
    (dt_z, shape_z, lo_z, hi_z), (dt_x, shape_x, lo_x, hi_x) = model.seen[:2]
    assert dt_z == torch.float32 and shape_z == (1, 3, 127, 127)
    assert dt_x == torch.float32 and shape_x == (3, 3, 255, 255)
    assert 0 <= lo_x and hi_x <= 255 and hi_x > 1
    # channel order: the model sees the RGB crops, channel 0 = red
    crops = t.last_debug["search_crops"]
    np.testing.assert_array_equal(model.last_input.permute(0, 2, 3, 1).numpy(), crops.astype(np.float32))


def test_debug_contents_and_post_processing_shapes():
    model = StandIn(79, 159)
    frames, boxes = scene(n=2)
    t = SiamFCTracker(model, device="cpu", fast=False, response_up=8)
    t.init(frames[0], boxes[0])
    box = t.update(frames[1])
    d = t.last_debug
    S, U = model.score_size, model.score_size * 8
    assert d["response_raw"].shape == (3, S, S)
    assert d["response_up"].shape == (3, U, U) and d["response_up"].dtype == np.float32
    assert d["response_final"].shape == (U, U)
    assert d["search_crops"].shape == (3, 159, 159, 3) and d["search_crops"].dtype == np.uint8
    assert 0 <= d["best_scale"] < 3 and len(d["search_sides"]) == 3
    assert d["peak"] == tuple(np.unravel_index(d["response_final"].argmax(), (U, U)))
    np.testing.assert_array_equal(d["box"], box)
    assert set(d["timings"]) == {"crop", "network", "post"}


@pytest.mark.parametrize("num_scales", [1, 5])
def test_other_pyramid_sizes(num_scales):
    model = StandIn()
    frames, boxes = scene(n=3)
    t = SiamFCTracker(model, num_scales=num_scales, device="cpu", fast=False)
    t.init(frames[0], boxes[0])
    for f in frames[1:]:
        box = t.update(f)
    assert np.isfinite(box).all()
    assert t.last_debug["response_up"].shape[0] == num_scales


# --------------------------------------------------------------------------------------------------------------
# robustness
# --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "box",
    [
        [-20.0, -10.0, 50.0, 40.0],  # partly outside
        [250.0, 190.0, 30.0, 30.0],  # mostly outside the 260 x 200 frame (wholly outside: an error, see
        # tests/test_bad_input_tracker.py)
        [100.0, 100.0, 2.0, 2.0],  # tiny
        [-100.0, -80.0, 600.0, 500.0],  # larger than the frame
        [10.0, 10.0, 0.3, 0.2],  # sub-pixel
    ],
)
def test_extreme_boxes_track_without_error(box):
    model = StandIn()
    frames, _ = scene(n=4)
    t = SiamFCTracker(model, device="cpu", fast=False)
    t.init(frames[0], box)
    for f in frames[1:]:
        out = t.update(f)
        assert out.shape == (4,) and np.isfinite(out).all()
        h, w = f.shape[:2]
        assert 10 <= out[2] <= w and 10 <= out[3] <= h
        assert 0 <= t.center[0] <= w and 0 <= t.center[1] <= h


def test_grayscale_pil_and_changing_frame_sizes():
    model = StandIn()
    frames, boxes = scene(n=4)
    t = SiamFCTracker(model, device="cpu", fast=False)
    t.init(cv2.cvtColor(frames[0], cv2.COLOR_RGB2GRAY), boxes[0])  # 2-D
    t.update(cv2.cvtColor(frames[1], cv2.COLOR_RGB2GRAY)[..., None])  # [H, W, 1]
    t.update(Image.fromarray(frames[2]))  # PIL
    small = frames[3][:60, :80]
    out = t.update(small)  # the frame shrank: clamps follow the current frame
    assert np.isfinite(out).all() and t.center[0] <= 80 and t.center[1] <= 60 and out[2] <= 80


def test_bad_inputs_give_clear_errors():
    model = StandIn()
    frames, boxes = scene(n=2)
    t = SiamFCTracker(model, device="cpu", fast=False)
    with pytest.raises(RuntimeError, match="init"):
        t.update(frames[0])
    with pytest.raises(ValueError, match="box"):
        t.init(frames[0], [np.nan, 1, 10, 10])
    with pytest.raises(ValueError, match="box"):
        t.init(frames[0], [1, 1, 0, 10])
    with pytest.raises(ValueError, match="image"):
        t.init(np.zeros((10, 10, 7), np.uint8), boxes[0])
    with pytest.raises(ValueError, match="num_scales"):
        SiamFCTracker(model, num_scales=0)


def test_constant_score_map_does_not_produce_nan():
    class Flat(StandIn):
        def track(self, x):
            return torch.zeros(x.shape[0], 1, self.score_size, self.score_size)

    t = SiamFCTracker(Flat(), device="cpu", fast=False)
    frames, boxes = scene(n=2)
    t.init(frames[0], boxes[0])
    c0 = t.center.copy()
    box = t.update(frames[1])
    assert np.isfinite(box).all()
    # only the window decides: its first maximum (135, 135) is one cell before ceil(272 / 2) = 136
    assert t.last_debug["peak"] == (135, 135)
    np.testing.assert_allclose(t.center, c0 - 0.5 * t.last_debug["s_x"] / 255)


def test_model_output_nan_is_reported():
    class NaNModel(StandIn):
        def track(self, x):
            return super().track(x) * float("nan")

    frames, boxes = scene(n=2)
    t = SiamFCTracker(NaNModel(), device="cpu", fast=False)
    t.init(frames[0], boxes[0])
    with pytest.raises(RuntimeError, match="NaN"):
        t.update(frames[1])


# --------------------------------------------------------------------------------------------------------------
# interface: hyper-parameters, fast path, GOT-10k toolkit
# --------------------------------------------------------------------------------------------------------------
def test_tracker_params_lookup_and_overrides():
    assert model_family("se_siamfc_resnet22") == "SE-SiamFC"
    assert model_family("SESiamFCResNet22") == "SE-SiamFC"
    assert model_family("se_siamfc_tiny") == "SE-SiamFC"
    assert model_family("siamfc_resnet22") == "SiamFC+"
    assert model_family("SiamFCRes22") == "SiamFC+"
    assert model_family("siamfc_tiny") == "SiamFC+"
    with pytest.raises(ValueError, match="model_name"):
        model_family("resnet50")
    assert tracker_params("se_siamfc_resnet22", "OTB2015") == dict(
        scale_step=1.1633, scale_lr=0.171, scale_penalty=0.9995, w_influence=0.251)
    assert tracker_params("siamfc_resnet22", "vot-2017") == dict(
        scale_step=1.1466, scale_lr=0.2061, scale_penalty=0.9994, w_influence=0.3242)
    assert tracker_params("SE-SiamFC", "OTB100")["scale_step"] == 1.1633
    assert tracker_params("siamfc_tiny", "VOT2016")["scale_lr"] == 0.4596
    assert tracker_params("se_siamfc_tiny", "GOT-10k") == tracker_params("se_siamfc_tiny", "OTB2015")
    assert tracker_params("se_siamfc_resnet22", "VOT2016", scale_step=1.2)["scale_step"] == 1.2

    model = StandIn()
    t = SiamFCTracker.from_benchmark(model, "se_siamfc_resnet22", "VOT2017", w_influence=0.5, device="cpu")
    assert (t.scale_step, t.scale_lr, t.scale_penalty, t.w_influence) == (1.0633, 0.349, 0.9725, 0.5)
    assert t.benchmark == "VOT2017" and t.model_name == "se_siamfc_resnet22"


def test_fast_path_is_used_and_failures_fall_back():
    class WithFast(StandIn):
        def fast(self):
            twin = StandIn(self.exemplar_size, self.instance_size)
            twin.load_state_dict(self.state_dict())
            twin.is_fast = True
            return twin

    class BrokenFast(StandIn):
        def fast(self):
            raise RuntimeError("boom")

    assert getattr(SiamFCTracker(WithFast(), device="cpu").net, "is_fast", False)
    assert SiamFCTracker(WithFast(), device="cpu", fast=False).net.__class__ is WithFast
    with pytest.warns(RuntimeWarning, match="boom"):
        t = SiamFCTracker(BrokenFast(), device="cpu")
    assert isinstance(t.net, BrokenFast)


def test_got10k_toolkit_interface(tmp_path):
    frames, boxes = scene(n=4)
    files = []
    for i, f in enumerate(frames):
        p = tmp_path / f"{i + 1:08d}.png"
        cv2.imwrite(str(p), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
        files.append(str(p))
    t = SiamFCTracker(StandIn(), device="cpu", fast=False, name="mine")
    assert t.name == "mine" and t.is_deterministic
    out, times = t.track(files, boxes[0])
    assert out.shape == (4, 4) and times.shape == (4,)
    np.testing.assert_array_equal(out[0], boxes[0])
    # the same as calling init/update with PIL images (the toolkit's own loop)
    t2 = SiamFCTracker(StandIn(), device="cpu", fast=False)
    t2.init(Image.open(files[0]), boxes[0])
    for i in range(1, 4):
        np.testing.assert_allclose(t2.update(Image.open(files[i])), out[i])


def test_score_size_probed_when_missing():
    class NoScore(StandIn):
        def __init__(self):
            super().__init__()
            del self.score_size

    t = SiamFCTracker(NoScore(), device="cpu", fast=False)
    assert t.score_size == 17 and t.up_size == 272


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    frames, boxes = scene(n=5)
    out = {}
    for dev in ("cpu", "cuda"):
        t = SiamFCTracker(StandIn(), device=dev, fast=False)
        t.init(frames[0], boxes[0])
        out[dev] = np.stack([t.update(f) for f in frames[1:]])
    np.testing.assert_allclose(out["cuda"], out["cpu"], atol=1e-3)


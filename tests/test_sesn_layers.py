"""Scale convolutions against explicit-loop transcriptions of FACTS §2."""

import pytest
import torch
import torch.nn.functional as F

from sesiam_lib.sesn import SESConvHH, SESConvHH1x1, SESConvZ2H, ScalePool, scale_pool, se_scales

SCALES = se_scales()


def loop_z2h(layer, x):
    kernel = layer.expanded_kernel()  # [Cout, Cin, S, K, K]
    outs = []
    for s in range(kernel.shape[2]):
        xs = F.pad(x, [layer.padding] * 4, mode=layer.padding_mode) if layer.padding else x
        outs.append(F.conv2d(xs, kernel[:, :, s], stride=layer.stride))
    return torch.stack(outs, 2)


def loop_hh(layer, x):
    kernel = layer.expanded_kernel()  # [Cout, Cin, L, S, K, K]
    batch, _, num_scales, height, width = x.shape
    outs = []
    for s in range(num_scales):
        acc = 0
        for i in range(layer.scale_size):
            if s + i >= num_scales:
                continue
            xs = x[:, :, s + i]
            if layer.padding:
                xs = F.pad(xs, [layer.padding] * 4, mode=layer.padding_mode)
            acc = acc + F.conv2d(xs, kernel[:, :, i, s], stride=layer.stride)
        outs.append(acc)
    return torch.stack(outs, 2)


def loop_hh1x1(layer, x):
    weight = layer.expanded_kernel()[..., 0, 0]  # [Cout, Cin, L]
    num_scales = x.shape[2]
    x = x[..., ::layer.stride, ::layer.stride]
    outs = []
    for s in range(num_scales):
        acc = 0
        for i in range(layer.scale_size):
            if s + i < num_scales:
                acc = acc + torch.einsum("oc,bchw->bohw", weight[:, :, i], x[:, :, s + i])
        outs.append(acc)
    return torch.stack(outs, 2)


@pytest.mark.parametrize("stride,padding,mode", [(1, 0, "constant"), (2, 4, "constant"), (1, 4, "circular"),
                                                 (2, 2, "circular")])
def test_z2h_matches_loop(stride, padding, mode):
    layer = SESConvZ2H(3, 5, 9, 7, SCALES, stride=stride, padding=padding, padding_mode=mode)
    x = torch.randn(2, 3, 23, 20)
    y = layer(x)
    expected_h = (23 + 2 * padding - 9) // stride + 1
    expected_w = (20 + 2 * padding - 9) // stride + 1
    assert y.shape == (2, 5, 3, expected_h, expected_w)
    torch.testing.assert_close(y, loop_z2h(layer, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale_size,stride,padding,mode", [(1, 1, 2, "constant"), (2, 1, 2, "constant"),
                                                            (3, 2, 1, "circular"), (2, 1, 0, "circular")])
def test_hh_matches_loop(scale_size, stride, padding, mode):
    layer = SESConvHH(4, 6, scale_size, 5, 3, SCALES, stride=stride, padding=padding, padding_mode=mode)
    assert layer.weight.shape == (6, 4, scale_size, 9)
    x = torch.randn(2, 4, 3, 15, 13)
    y = layer(x)
    assert y.shape == (2, 6, 3, (15 + 2 * padding - 5) // stride + 1, (13 + 2 * padding - 5) // stride + 1)
    torch.testing.assert_close(y, loop_hh(layer, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale_size,stride", [(1, 1), (2, 1), (2, 2), (3, 1)])
def test_hh1x1_matches_loop(scale_size, stride):
    layer = SESConvHH1x1(4, 7, scale_size=scale_size, stride=stride)
    expected_shape = (7, 4, scale_size, 1, 1) if scale_size > 1 else (7, 4, 1, 1)
    assert layer.weight.shape == expected_shape
    x = torch.randn(2, 4, 3, 9, 8)
    y = layer(x)
    assert y.shape == (2, 7, 3, (9 - 1) // stride + 1, (8 - 1) // stride + 1)
    torch.testing.assert_close(y, loop_hh1x1(layer, x), rtol=1e-5, atol=1e-5)


def test_interscale_taps_see_next_scale_only():
    """With L = 2, out[s] depends on x[s] and x[s+1] only; the last scale sees zeros past the end."""
    layer = SESConvHH1x1(1, 1, scale_size=2)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.0, 10.0]).view(1, 1, 2, 1, 1))
    x = torch.tensor([1.0, 2.0, 3.0]).view(1, 1, 3, 1, 1)
    assert layer(x).flatten().tolist() == [21.0, 32.0, 3.0]


def test_circular_padding_differs_from_zero_padding_only_at_border():
    zero = SESConvZ2H(1, 2, 5, 3, SCALES, padding=2)
    circ = SESConvZ2H(1, 2, 5, 3, SCALES, padding=2, padding_mode="circular")
    circ.load_state_dict(zero.state_dict())
    x = torch.randn(1, 1, 16, 16)
    a, b = zero(x), circ(x)
    torch.testing.assert_close(a[..., 2:-2, 2:-2], b[..., 2:-2, 2:-2])
    assert (a[..., :2, :] - b[..., :2, :]).abs().max() > 1e-3


def test_scale_pool():
    x = torch.randn(2, 3, 4, 5, 5)
    torch.testing.assert_close(scale_pool(x), x.amax(2))
    torch.testing.assert_close(ScalePool()(x), x.amax(2))


def test_gradients_flow_to_weights_not_basis():
    stack = torch.nn.Sequential(SESConvZ2H(3, 4, 9, 7, SCALES, padding=4), SESConvHH(4, 4, 2, 5, 3, SCALES, padding=2),
                                SESConvHH1x1(4, 2, scale_size=2), ScalePool())
    x = torch.randn(1, 3, 17, 17, requires_grad=True)
    stack(x).square().mean().backward()
    for name, param in stack.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    assert x.grad.abs().sum() > 0
    assert "0.basis" in dict(stack.named_buffers())  # basis is a buffer, stored in the state dict
    assert not any("basis" in name for name, _ in stack.named_parameters())


def test_bad_input_shapes():
    with pytest.raises(ValueError, match="S=3"):
        SESConvHH(2, 2, 1, 5, 3, SCALES)(torch.randn(1, 2, 4, 8, 8))
    with pytest.raises(ValueError, match="padding_mode"):
        SESConvZ2H(1, 1, 5, 3, SCALES, padding_mode="reflect")

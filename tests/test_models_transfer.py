"""Weight transfer CIResNet -> SE-ResNet (FACTS §3): exact where the basis can represent the plain kernels."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sesiam_lib.models import build_model, fit_kernel_to_basis, format_transfer_report, transfer_weights
from sesiam_lib.sesn import SESConvHH, SESConvZ2H, hermite_basis, se_scales


def _basis_at_scale0_on(kernel_size, basis):
    """Basis at scale index 0, centre-cropped / zero-padded to ``kernel_size``."""
    b = basis[:, 0]
    d = (kernel_size - b.shape[-1]) // 2
    return F.pad(b, [d] * 4)


def _representable_plain_model(plain_name, se_name, seed=0):
    """A plain model whose K x K kernels lie in the span of the SE basis at scale 0 (random BN stats)."""
    torch.manual_seed(seed)
    plain, se = build_model(plain_name), build_model(se_name)
    se_modules = dict(se.named_modules())
    with torch.no_grad():
        for name, m in plain.named_modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1:
                basis = _basis_at_scale0_on(m.kernel_size[0], se_modules[name].basis)  # [F, k, k]
                coeff = torch.randn(m.out_channels, m.in_channels, basis.shape[0]) * 0.1
                m.weight.copy_((coeff @ basis.reshape(basis.shape[0], -1)).reshape(m.weight.shape))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return plain, se


def test_fit_reproduces_a_kernel_built_from_the_basis():
    torch.manual_seed(0)
    for k_plain, k_se, e in [(3, 5, 3), (7, 9, 7)]:
        basis = hermite_basis(k_se, se_scales(), e)
        b0 = _basis_at_scale0_on(k_plain, basis)
        coeff = torch.randn(4, 2, e * e, dtype=torch.float64)
        kernel = (coeff @ b0.double().reshape(e * e, -1)).reshape(4, 2, k_plain, k_plain)
        x, residual, rank, regularized = fit_kernel_to_basis(kernel, basis[:, 0])
        assert residual < 1e-6
        rebuilt = (x.double() @ b0.double().reshape(e * e, -1)).reshape(kernel.shape)
        assert torch.allclose(rebuilt, kernel, atol=1e-10)
        if k_plain == 3:  # 9 functions on a 3 x 3 grid: a basis, coefficients unique
            assert (rank, regularized) == (9, False) and torch.allclose(x.double(), coeff, atol=1e-8)
        else:  # 49 functions, 5 x 5 support at scale 0: rank 25, Tikhonov; the unseen directions stay 0
            assert (rank, regularized) == (25, True)


def test_stem_fit_of_a_full_7x7_kernel_keeps_the_representable_part():
    """A 7 x 7 kernel with energy on its outer ring: the fit is the least-squares projection on the 5 x 5 support."""
    torch.manual_seed(0)
    basis = hermite_basis(9, se_scales(), 7)
    kernel = torch.randn(3, 3, 7, 7)
    x, residual, _, _ = fit_kernel_to_basis(kernel, basis[:, 0])
    rebuilt = (x @ basis[:, 0, 1:-1, 1:-1].reshape(49, -1)).reshape(kernel.shape)
    inner = kernel.clone()
    inner[..., 0, :] = inner[..., -1, :] = inner[..., :, 0] = inner[..., :, -1] = 0
    assert torch.allclose(rebuilt, inner, atol=1e-4)  # the 5 x 5 centre is reproduced, the ring is lost
    ring = (kernel - inner).norm() / kernel.norm()
    assert residual == pytest.approx(ring.item(), rel=1e-3)


@pytest.mark.parametrize("pair", [("siamfc_tiny", "se_siamfc_tiny"), ("siamfc_resnet22", "se_siamfc_resnet22")])
def test_transfer_reproduces_representable_weights(pair):
    plain, se = _representable_plain_model(*pair)
    before = {k: v.clone() for k, v in se.state_dict().items()}
    sd, report = transfer_weights(plain.state_dict(), se)
    assert list(sd) == list(se.state_dict())
    psd = plain.state_dict()
    kinds = {e.layer: e.kind for e in report}
    assert kinds["features.features.conv1"] == "z2h" and kinds["features.features.layer2.0.conv2"] == "z2h"
    assert kinds["features.features.layer1.0.conv1"] == "conv1x1_interscale"
    assert kinds["features.features.layer1.1.conv2"] == "hh"
    assert all(e.rel_residual < 1e-5 for e in report), format_transfer_report(report)
    for name, m in se.named_modules():
        if isinstance(m, (SESConvZ2H, SESConvHH)):
            kernel = m.expanded_kernel()  # the SE model now holds the transferred weights (load=True)
            kernel0 = kernel[:, :, 0] if isinstance(m, SESConvZ2H) else kernel[:, :, 0, 0]
            k = psd[f"{name}.weight"].shape[-1]
            d = (m.kernel_size - k) // 2
            assert torch.allclose(kernel0[..., d:m.kernel_size - d, d:m.kernel_size - d], psd[f"{name}.weight"],
                                  atol=1e-5), name
            if d:  # outside the plain kernel the scale-0 kernel is zero
                assert kernel0[..., :d, :].abs().max() == 0
            if isinstance(m, SESConvHH):
                assert torch.count_nonzero(sd[f"{name}.weight"][:, :, 1:]) == 0
    interscale = "features.features.layer1.0.conv1.weight"
    assert torch.equal(sd[interscale][:, :, 0], psd[interscale])
    assert torch.count_nonzero(sd[interscale][:, :, 1:]) == 0
    assert torch.equal(sd["features.features.layer2.0.conv1.weight"], psd["features.features.layer2.0.conv1.weight"])
    for key in ("bn1.running_var", "layer1.1.bn3.weight", "layer2.0.downsample.1.bias", "layer2.2.bn2.running_mean"):
        assert torch.equal(sd["features.features." + key], psd["features.features." + key])
    # kept from the SE model: basis buffers, normalisation, num_batches_tracked
    for key in ("features.mean", "features.std", "features.features.conv1.basis",
                "features.features.bn1.num_batches_tracked"):
        assert torch.equal(sd[key], before[key])


def test_transferred_scale0_path_equals_the_plain_network():
    """Up to layer1 (before layer2 scale-pools), scale 0 of the SE trunk computes the plain trunk exactly."""
    plain, se = _representable_plain_model("siamfc_tiny", "se_siamfc_tiny", seed=3)
    transfer_weights(plain, se)  # a plain model as the source
    plain.eval(), se.eval()
    pt, st = plain.features.features, se.features.features
    x = torch.randn(2, 3, 47, 47)
    with torch.no_grad():
        p = pt.maxpool(pt.relu(pt.bn1(pt.conv1(x)))[..., 2:-2, 2:-2])
        s = st.maxpool(st.relu(st.bn1(st.conv1(x)))[..., 2:-2, 2:-2])
        assert torch.allclose(s[:, :, 0], p, atol=1e-4)
        p, s = pt.layer1(p), st.layer1(s)
    assert s.shape[2] == 3 and torch.allclose(s[:, :, 0], p, atol=1e-4)


def test_transfer_accepts_paths_prefixes_and_load_false(tmp_path):
    plain, se = _representable_plain_model("siamfc_tiny", "se_siamfc_tiny")
    before = {k: v.clone() for k, v in se.state_dict().items()}
    sd_ref, _ = transfer_weights(plain.state_dict(), se, load=False)
    for k, v in se.state_dict().items():
        assert torch.equal(v, before[k])  # untouched with load=False
    path = tmp_path / "CIResNet22_PRETRAIN.model"
    torch.save({"module." + k: v for k, v in plain.state_dict().items()}, path)
    sd_path, _ = transfer_weights(path, se, load=False)
    for k in sd_ref:
        assert torch.equal(sd_ref[k], sd_path[k]), k


def test_transfer_errors():
    se = build_model("se_siamfc_tiny")
    with pytest.raises(KeyError, match="no 'features.features"):
        transfer_weights({"features.features.conv1.weight": torch.zeros(16, 3, 7, 7)}, se)
    with pytest.raises((KeyError, ValueError)):
        transfer_weights(build_model("siamfc_resnet22").state_dict(), se)  # other widths

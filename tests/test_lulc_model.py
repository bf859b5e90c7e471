"""Land-use U-Net: shape, receptive field, ONNX parity, DDP gradients, allocation, tiling."""

import numpy as np
import pytest
import torch
from ddp import torchrun_two_processes

from coupler.errors import FieldError, ModelError
from emulators.lulc.architecture import RECEPTIVE_FIELD
from emulators.lulc.classes import compatible_lc_given_lu
from emulators.lulc.export import export_onnx, parity
from emulators.lulc.features import N_CHANNELS
from emulators.lulc.infer import (
    OnnxLulc,
    allocate,
    decode_land_cover,
    predict_maps,
    predict_probabilities,
    quotas,
)
from emulators.lulc.model import Ensemble, UNet, with_input_channels
from tests.test_lulc_data import valid_input


@pytest.fixture(scope="module")
def small_onnx(tmp_path_factory):
    torch.manual_seed(0)
    model = UNet(N_CHANNELS, 8, 11, base=8).eval()
    path = export_onnx(model, tmp_path_factory.mktemp("lulc") / "small.onnx")
    return model, path


def test_unet_heads_have_class_channels_and_input_size():
    out = UNet(N_CHANNELS, 8, 11, base=4)(torch.zeros(2, N_CHANNELS, 48, 32))
    assert [tuple(o.shape) for o in out] == [(2, 8, 48, 32), (2, 11, 48, 32)]


def test_influence_beyond_the_receptive_field_is_weak():
    """Convolutions reach RECEPTIVE_FIELD px; group normalisation (as nnU-Net's instance
    norm) adds a weak dependence on the whole window through its statistics: per pixel,
    under a tenth of the influence of pixels inside the receptive field."""
    torch.manual_seed(1)
    model = UNet(N_CHANNELS, 8, 11, base=4).eval()
    x = torch.randn(1, N_CHANNELS, 384, 384, requires_grad=True)
    model(x)[0][0, :, 192, 192].sum().backward()
    g = x.grad.abs().sum(dim=(0, 1))
    half = RECEPTIVE_FIELD // 2
    inside = torch.zeros_like(g, dtype=torch.bool)
    inside[192 - half : 193 + half, 192 - half : 193 + half] = True
    assert RECEPTIVE_FIELD == 215
    assert float(g[~inside].mean() / g[inside].mean()) < 0.1


def test_onnx_matches_torch_on_logits(small_onnx):
    model, path = small_onnx
    x = np.random.default_rng(0).normal(size=(2, N_CHANNELS, 64, 96)).astype(np.float32)
    assert parity(model, path, x) <= 1e-4
    assert parity(model, path, valid_input(64, 64)[None]) <= 1e-4


def test_ensemble_averages_member_probabilities_over_mirrored_views(tmp_path):
    """An exported ensemble keeps the contract: softmax of its logits is the mean of the
    members' probabilities on the input and on its east–west mirror (mirrored back)."""
    torch.manual_seed(2)
    members = [UNet(N_CHANNELS, 8, 11, base=4).eval() for _ in range(2)]
    ensemble = Ensemble(members, mirror=True).eval()
    x = torch.randn(1, N_CHANNELS, 32, 48)
    with torch.no_grad():
        got = [torch.softmax(z, dim=1) for z in ensemble(x)]
        views = [m(x) for m in members] + [tuple(o.flip(3) for o in m(x.flip(3))) for m in members]
        for head in range(2):
            mean = torch.stack([torch.softmax(v[head], dim=1) for v in views]).mean(0)
            assert torch.allclose(got[head], mean, atol=1e-6)
        mirrored = [z.flip(3) for z in ensemble(x.flip(3))]  # mirror-equivariant
        assert all(
            torch.allclose(a, b, atol=1e-5) for a, b in zip(ensemble(x), mirrored, strict=True)
        )
    path = export_onnx(ensemble, tmp_path / "ensemble.onnx")
    assert parity(ensemble, path, x.numpy()) <= 1e-4


def test_widened_first_convolution_starts_as_the_trained_network():
    """A probe's extra input channels get zero weights: the widened U-Net's output equals the
    trained one's whatever the extra channels hold; narrowing is refused."""
    torch.manual_seed(3)
    trained = UNet(N_CHANNELS, 8, 11, base=4).eval()
    widened = UNet(N_CHANNELS + 2, 8, 11, base=4).eval()
    widened.load_state_dict(with_input_channels(trained.state_dict(), N_CHANNELS + 2))
    x = torch.randn(1, N_CHANNELS, 32, 32)
    extra = 5 * torch.randn(1, 2, 32, 32)
    with torch.no_grad():
        for a, b in zip(trained(x), widened(torch.cat([x, extra], dim=1)), strict=True):
            assert torch.equal(a, b)
    with pytest.raises(ValueError, match="cannot narrow"):
        with_input_channels(widened.state_dict(), N_CHANNELS)


def test_probe_checkpoints_are_not_exported(tmp_path):
    from emulators.lulc.export import load_checkpoint

    state = with_input_channels(UNet(N_CHANNELS, 8, 11, base=4).state_dict(), N_CHANNELS + 2)
    path = tmp_path / "probe.pt"
    torch.save({"model": state, "config": {"base": 4, "extra_inputs": "ndvi"}}, path)
    with pytest.raises(ModelError, match="probe.pt' is a probe trained with extra inputs"):
        load_checkpoint(path)


def test_corrupt_model_file_is_reported(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="bad.onnx' cannot be loaded"):
        OnnxLulc(bad)


def test_quotas_sum_to_pixel_count_and_follow_fractions():
    q = quotas(np.array([0.5, 0.25, 0.25 - 1e-9, 0.0]), 625)
    assert q.sum() == 625 and q[0] in (312, 313)
    assert abs(q[1] - 156.25) < 1 and q[3] == 0


def test_allocation_matches_coarse_fractions_and_respects_probabilities():
    rng = np.random.default_rng(3)
    prob = rng.dirichlet(np.ones(8), size=(50, 50)).transpose(2, 0, 1)
    coarse = rng.dirichlet(np.ones(8), size=(2, 2)).transpose(2, 0, 1)
    labels = allocate(prob, coarse, 25)
    for i in range(2):
        for j in range(2):
            cell = labels[i * 25 : (i + 1) * 25, j * 25 : (j + 1) * 25]
            counts = np.bincount(cell.ravel(), minlength=8)
            np.testing.assert_array_equal(counts, quotas(coarse[:, i, j], 625))
    # a class given the whole cell takes it whatever the probabilities
    coarse[:, 0, 0] = np.eye(8)[5]
    assert np.all(allocate(prob, coarse, 25)[:25, :25] == 5)


def test_land_cover_is_decoded_within_the_land_use():
    rng = np.random.default_rng(4)
    prob = rng.random((11, 20, 20))
    lu = rng.integers(0, 8, (20, 20))
    lc = decode_land_cover(prob, lu)
    assert compatible_lc_given_lu()[lu, lc].all()


def test_tile_smaller_than_receptive_field_is_refused(small_onnx):
    _, path = small_onnx
    with pytest.raises(FieldError, match="smaller than the U-Net's receptive field \\(215 px\\)"):
        predict_probabilities(OnnxLulc(path), valid_input(64, 64))


@pytest.mark.slow
def test_tiled_prediction_equals_whole_region(small_onnx):
    """A tile with a halo of one window, told its origin, gives the whole-region result."""
    _, path = small_onnx
    model = OnnxLulc(path)
    x = valid_input(800, 256)
    whole = predict_maps(model, x, x[:8, ::16, ::16], 16)
    r0, r1, halo = 288, 512, 256
    tile = predict_probabilities(model, x[:, r0 - halo : r1 + halo], origin=(r0 - halo, 0))
    np.testing.assert_array_equal(tile[:, halo:-halo], whole.prob[:, r0:r1])


@pytest.mark.slow
def test_two_process_gradients_equal_one_process():
    result = torchrun_two_processes("emulators.lulc.train", "check-ddp")
    assert result["world_size"] == 2
    assert result["max_grad_diff"] < 1e-5

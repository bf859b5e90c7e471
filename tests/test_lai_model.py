"""LAI U-Nets (separate and joint): shapes, non-negative LAI, ONNX parity, tiled = whole,
a resumable training smoke run, and clear errors for a bad model file."""

import numpy as np
import pytest
import torch

from coupler.errors import FieldError, ModelError
from emulators.lai.dataset import N_JOINT_CHANNELS
from emulators.lai.export import export_onnx, parity
from emulators.lai.features import N_CHANNELS
from emulators.lai.infer import OnnxLai, predict_lai
from emulators.lai.model import JointUNet, LaiUNet
from emulators.lai.train import masked_mse


@pytest.fixture(scope="module", params=["separate", "joint"])
def small_onnx(request, tmp_path_factory):
    torch.manual_seed(0)
    model = (
        LaiUNet(N_CHANNELS, 4) if request.param == "separate" else JointUNet(N_JOINT_CHANNELS, 4)
    ).eval()
    path = export_onnx(model, tmp_path_factory.mktemp("lai") / f"{request.param}.onnx")
    return model, path


def test_lai_unet_outputs_non_negative_lai_of_the_input_size():
    out = LaiUNet(N_CHANNELS, 4)(torch.randn(2, N_CHANNELS, 48, 32))
    assert out.shape == (2, 48, 32) and float(out.min()) >= 0


def test_joint_unet_has_land_use_land_cover_and_lai_heads():
    lu, lc, lai = JointUNet(N_JOINT_CHANNELS, 4)(torch.randn(1, N_JOINT_CHANNELS, 32, 32))
    assert lu.shape == (1, 8, 32, 32) and lc.shape == (1, 11, 32, 32) and lai.shape == (1, 32, 32)


def test_onnx_parity_within_1e_4(small_onnx):
    model, path = small_onnx
    x = np.random.default_rng(1).normal(size=(2, model.inc[0].in_channels, 64, 96))
    assert parity(model, path, x.astype(np.float32)) <= 1e-4


def test_tiled_prediction_equals_whole_region_within_1e_3(small_onnx):
    """A tile with a halo of one window, told its origin, gives the whole-region result."""
    model, path = small_onnx
    onnx = OnnxLai(path)
    x = np.random.default_rng(2).normal(size=(model.inc[0].in_channels, 768, 48))
    x = x.astype(np.float32)
    whole = predict_lai(onnx, x)
    r0, r1, halo = 320, 448, 256
    tile = predict_lai(onnx, x[:, r0 - halo : r1 + halo], origin=(r0 - halo, 0))
    assert np.abs(tile[halo:-halo] - whole[r0:r1]).max() <= 1e-3


def test_masked_mse_ignores_invalid_pixels():
    pred, lai = torch.tensor([[1.0, 5.0]]), torch.tensor([[2.0, 0.0]])
    assert float(masked_mse(pred, lai, torch.tensor([[True, False]]))) == pytest.approx(1.0)


def test_corrupt_model_file_is_a_model_error(tmp_path):
    bad = tmp_path / "lai.onnx"
    bad.write_bytes(b"not an onnx file")
    with pytest.raises(ModelError, match="cannot be loaded"):
        OnnxLai(bad)
    with pytest.raises(ModelError, match="not found"):
        OnnxLai(tmp_path / "missing.onnx")


def test_wrong_channel_count_is_named(small_onnx):
    _, path = small_onnx
    with pytest.raises(FieldError, match="LAI model input must be"):
        OnnxLai(path).run(np.zeros((1, 5, 32, 32), np.float32))


def test_nan_input_is_rejected(small_onnx):
    model, path = small_onnx
    x = np.zeros((model.inc[0].in_channels, 64, 64), np.float32)
    x[3, 2, 2] = np.nan
    with pytest.raises(FieldError, match="NaN"):
        predict_lai(OnnxLai(path), x)


def test_shipped_model_is_the_separate_design_under_20_mb_and_tiles_like_the_whole():
    from emulators.lai.infer import MODEL_PATH

    assert MODEL_PATH.stat().st_size < 20e6
    onnx = OnnxLai(MODEL_PATH)
    assert not onnx.joint and onnx.channels == N_CHANNELS
    x = np.random.default_rng(3).normal(size=(N_CHANNELS, 768, 32)).astype(np.float32)
    whole = predict_lai(onnx, x)
    r0, r1, halo = 320, 448, 256
    tile = predict_lai(onnx, x[:, r0 - halo : r1 + halo], origin=(r0 - halo, 0))
    assert np.abs(tile[halo:-halo] - whole[r0:r1]).max() <= 1e-3
    assert float(whole.min()) >= 0

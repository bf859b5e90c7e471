"""LAI training: a smoke run of both designs on a SYNTHETIC source (no cube needed) writes
checkpoints and metrics and continues from its checkpoint; the residual model exports to
ONNX within 1e-4; two DDP processes give the gradients of one."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from ddp import torchrun_two_processes

from emulators.lai import target
from emulators.lai.dataset import Window
from emulators.lai.export import export_onnx, load_checkpoint, parity
from emulators.lai.features import GSI, MASK, N_CHANNELS, N_CHANNELS_V2, vegetation_channels
from emulators.lai.train import Config, build_model, train, warm_start
from emulators.lulc.classes import LC_FROM_IGBP, LU_FROM_IGBP
from emulators.lulc.dataset import DEG
from emulators.lulc.features import static_channels


class SyntheticSource:
    """LaiSource's interface on made-up fields: all land, IGBP classes in stripes, a
    seasonal climate by latitude and NDVI from a smooth pattern (target.py on top)."""

    def __init__(self) -> None:
        self.cube = SimpleNamespace(
            shape=(3600, 7200), arrays={"land_fraction": np.ones((3600, 7200), np.float32)}
        )

    def window(self, r0: int, r1: int, c0: int, c1: int) -> Window:
        h, w = r1 - r0, c1 - c0
        j, i = np.meshgrid(np.arange(r0, r1), np.arange(c0, c1), indexing="ij")
        igbp = np.array([4, 10, 12, 1, 9], np.uint8)[(i // 7) % 5]
        lat = -90.0 + (np.arange(r0, r1) + 0.5) * DEG
        month = np.arange(12)[:, None, None]
        t = 15.0 - 0.3 * np.abs(lat)[None, :, None] + 10 * np.sin(2 * np.pi * month / 12)
        t = np.broadcast_to(t, (12, h, w)).astype(np.float32)
        p = np.full((12, h, w), 60.0, np.float32)
        ndvi_max = (0.5 + 0.3 * np.sin(i / 9.0) * np.cos(j / 11.0)).astype(np.float32)
        lai = target.monthly_lai(ndvi_max, ndvi_max - 0.3, igbp, t, p, lat)
        phys = {
            "elevation": 100.0 + j % 50,
            "slope": np.ones((h, w)),
            "land_fraction": np.ones((h, w)),
            "koppen": np.full((h, w), 3),
            "t_mean": np.full((h, w), 10.0),
            "t_range": np.full((h, w), 15.0),
            "precip": np.full((h, w), 700.0),
        }
        return Window(
            slice(r0, r1),
            slice(c0, c1),
            LU_FROM_IGBP[igbp],
            LC_FROM_IGBP[igbp],
            igbp,
            t,
            p,
            lai,
            static_channels(phys, lat),
            lat,
            vegetation_channels(
                {"ndvi_max": ndvi_max, "ndvi_min": ndvi_max - 0.3, "fapar_max": 0.8 * ndvi_max}
            ),
        )


def smoke(design: str, out, epochs: int) -> dict:
    crop = 80 if design == "joint" else 32  # joint: coarse cells of 5..20 px must tile it
    cfg = Config(
        design=design, crop=crop, batch=2, steps_per_epoch=2, epochs=epochs, base=4, val_samples=4
    )
    return train(cfg, out, source=SyntheticSource())


@pytest.mark.parametrize("design", ["separate", "joint"])
def test_smoke_training_writes_checkpoints_and_continues_from_them(tmp_path, design):
    torch.set_num_threads(1)
    first = smoke(design, tmp_path, epochs=2)
    assert first["epochs"] == 2 and np.isfinite(first["best_val_rmse"])
    assert (tmp_path / "best.pt").is_file() and (tmp_path / "checkpoint.pt").is_file()
    again = smoke(design, tmp_path, epochs=3)  # continues: one more epoch, not three
    history = json.loads((tmp_path / "metrics.json").read_text())
    assert again["epochs"] == 3 and [r["epoch"] for r in history] == [1, 2, 3]


def test_residual_model_exports_within_1e_4_and_copies_a_visible_prior_at_start(tmp_path):
    torch.set_num_threads(1)
    smoke("separate", tmp_path, epochs=1)
    model, saved = load_checkpoint(tmp_path / "best.pt")
    assert saved["config"]["residual"] == 2 and model.residual == 2
    path = export_onnx(model, tmp_path / "lai.onnx")
    x = np.random.default_rng(0).uniform(0, 1, (2, N_CHANNELS, 32, 48)).astype(np.float32)
    assert parity(model, path, x) <= 1e-4
    fresh = load_checkpoint(tmp_path / "best.pt")[0]
    torch.nn.init.zeros_(fresh.head_lai.conv.weight)
    torch.nn.init.zeros_(fresh.head_lai.conv.bias)
    with torch.no_grad():
        out = fresh(torch.from_numpy(x)).numpy()
    expected = np.where(x[:, 25] > 0.5, 0.0, 8.0 * x[:, 24])  # hidden: 0; visible: prior · 8
    np.testing.assert_allclose(out, expected, rtol=1e-6)


@pytest.mark.slow
def test_two_process_gradients_equal_one_process_for_both_designs():
    result = torchrun_two_processes("emulators.lai.train", "--check-ddp")
    assert result["world_size"] == 2
    assert result["max_grad_diff"]["separate"] < 1e-5
    assert result["max_grad_diff"]["joint"] < 1e-5


def test_copy_prior_baseline_returns_the_visible_prior_in_lai_units():
    from emulators.lai.train import CopyPrior

    x = torch.zeros(1, N_CHANNELS, 4, 4)
    x[0, 24] = 0.25  # the prior channel holds LAI / 8
    assert torch.equal(CopyPrior()(x), torch.full((1, 4, 4), 2.0))


def test_warm_start_from_38_channels_is_exact_and_a_mismatched_body_is_named(tmp_path):
    """v3 grows v2's first convolution by the vegetation channels with zero weights: before
    training it computes v2's LAI whatever those channels hold."""
    torch.manual_seed(0)
    old = build_model("separate", 4, residual=2, channels=N_CHANNELS_V2).eval()
    for p in old.parameters():  # a trained-looking head, not its zero start
        torch.nn.init.normal_(p, std=0.1)
    torch.save({"model": old.state_dict()}, tmp_path / "v2.pt")
    new = build_model("separate", 4, residual=2).eval()
    warm_start(new, tmp_path / "v2.pt", head=True)
    x = torch.rand(2, N_CHANNELS, 32, 32)
    with torch.no_grad():
        assert torch.equal(new(x), old(x[:, :N_CHANNELS_V2]))
        assert float(new(x).abs().max()) > 0.1
    wider = build_model("separate", 8, residual=2)
    with pytest.raises(ValueError, match="v2.pt': the weights do not fit"):
        warm_start(wider, tmp_path / "v2.pt", head=True)


def test_phenology_head_warm_starts_from_the_split_head_and_scales_with_the_gsi(tmp_path):
    torch.manual_seed(1)
    old = build_model("separate", 4, residual=2, channels=N_CHANNELS_V2).eval()
    for p in old.parameters():
        torch.nn.init.normal_(p, std=0.1)
    torch.save({"model": old.state_dict()}, tmp_path / "v2.pt")
    new = build_model("separate", 4, residual=3).eval()
    warm_start(new, tmp_path / "v2.pt", head=True)
    x = torch.rand(2, N_CHANNELS, 32, 32)
    x[:, MASK] = (torch.rand(2, 32, 32) > 0.5).float()
    with torch.no_grad():
        torch.testing.assert_close(new(x), old(x[:, :N_CHANNELS_V2]), atol=1e-5, rtol=0)
        new.head_lai.conv.bias.copy_(torch.tensor([0.0, 0.0, 3.0, 0.0]))
        new.head_lai.conv.weight.zero_()
        x[:, GSI] = 0.5
        hidden = x[:, MASK] > 0.5
        assert torch.allclose(new(x)[hidden], torch.tensor(1.5))  # 0 + 0.5 · 3


@pytest.mark.parametrize("residual", [3, 4])
def test_phenology_head_models_export_within_1e_4(tmp_path, residual):
    torch.manual_seed(2)
    model = build_model("separate", 4, residual=residual).eval()
    for p in model.head_lai.parameters():
        torch.nn.init.normal_(p, std=0.3)
    path = export_onnx(model, tmp_path / "lai.onnx")
    x = np.random.default_rng(0).uniform(0, 1, (2, N_CHANNELS, 32, 48)).astype(np.float32)
    assert parity(model, path, x) <= 1e-4


def test_the_pixel_path_starts_at_zero_and_learns_a_pixelwise_map_quickly(tmp_path):
    """PixelPhenologyHead warm-starts from PhenologyHead with the same LAI; its 1×1 path
    fits LAI = 6·(input channel 38) on hidden pixels in 150 steps, the U-Net body frozen."""
    torch.manual_seed(3)
    old = build_model("separate", 4, residual=3).eval()
    torch.save({"model": old.state_dict()}, tmp_path / "v3h.pt")
    new = build_model("separate", 4, residual=4)
    warm_start(new, tmp_path / "v3h.pt", head=True)
    x = torch.rand(4, N_CHANNELS, 16, 16)
    x[:, MASK] = 1.0
    with torch.no_grad():
        assert torch.equal(new.eval()(x), old(x))
    opt = torch.optim.Adam(new.head_lai.pixel.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        loss = ((new(x) - 6 * x[:, 38]) ** 2).mean()
        loss.backward()
        opt.step()
    assert float(loss) ** 0.5 < 0.3  # target std ≈ 1.7


def test_pixel_pretraining_fits_hidden_pixels_and_leaves_the_visible_branch(tmp_path):
    """pretrain_pixel fits the pixel path to hidden pixels of (synthetic) crops: their RMSE
    falls well below the untrained model's, and a visible prior is still copied exactly."""
    from emulators.lai.dataset import Sampler
    from emulators.lai.train import pretrain_pixel
    from emulators.lulc import split

    torch.manual_seed(4)
    torch.set_num_threads(1)
    model = build_model("separate", 4, residual=4).eval()
    sampler = Sampler(SyntheticSource(), split.TRAIN, 32)
    x, lai, valid, _, _ = (
        torch.from_numpy(a) for a in sampler.sample(np.random.default_rng(9), ratio=1.0)
    )

    def rmse() -> float:
        with torch.no_grad():
            return float(((model(x[None])[0] - lai)[valid] ** 2).mean()) ** 0.5

    before = rmse()
    pretrain_pixel(model, sampler, steps=300, crops=12)
    assert rmse() < 0.5 * before
    seen = x.clone()
    seen[MASK] = 0.0
    seen[24] = 0.25  # a visible prior of 2 m2 m-2; the untrained body adds no change
    with torch.no_grad():
        assert torch.allclose(model(seen[None])[0], torch.tensor(2.0))

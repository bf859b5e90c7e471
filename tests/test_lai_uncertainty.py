"""MC-dropout spread of the LAI U-Net: it varies between masks, needs a model trained with
dropout, and the spread–skill statistics rank and bin errors as stated."""

import numpy as np
import pytest
import torch

from emulators.lai.features import N_CHANNELS
from emulators.lai.model import LaiUNet
from emulators.lai.uncertainty import calibration_factor, coverage, mc_dropout, spread_skill


def test_mc_dropout_spread_is_positive_and_the_mean_is_near_the_deterministic_output():
    torch.manual_seed(0)
    model = LaiUNet(N_CHANNELS, 4, residual=2, dropout=0.2).eval()
    torch.nn.init.normal_(model.head_lai.conv.weight, std=0.5)  # trained heads are not 0
    torch.nn.init.constant_(model.head_lai.conv.bias, 2.0)
    x = np.random.default_rng(0).uniform(0, 1, (N_CHANNELS, 32, 32)).astype(np.float32)
    mean, std = mc_dropout(model, x, samples=64)
    with torch.no_grad():
        det = model(torch.from_numpy(x[None]))[0].numpy()
    assert mean.shape == std.shape == (32, 32) and (std > 0).mean() > 0.9
    assert np.abs(mean - det).mean() < 3 * std.mean() / np.sqrt(64) + 1e-3


def test_mc_dropout_needs_a_model_trained_with_dropout():
    model = LaiUNet(N_CHANNELS, 4, residual=2, dropout=0.0).eval()
    with pytest.raises(ValueError, match="trained without dropout"):
        mc_dropout(model, np.zeros((N_CHANNELS, 16, 16), np.float32), 4)


def test_spread_that_tracks_the_error_scores_high_and_is_calibrated():
    rng = np.random.default_rng(1)
    spread = rng.uniform(0.1, 1.0, 20000)
    err = rng.normal(0, spread)  # errors drawn with exactly this spread
    hidden = np.arange(20000) % 2 == 0
    s = spread_skill(spread, err, hidden)
    assert s["spearman_spread_abs_error"] > 0.3
    assert abs(s["coverage_1.96_spread"] - 0.95) < 0.01
    rmse = [b["rmse"] for b in s["by_spread_quintile"]]
    assert rmse == sorted(rmse) and len(rmse) == 5
    noise = spread_skill(spread, rng.normal(0, 0.5, 20000), hidden)
    assert abs(noise["spearman_spread_abs_error"]) < 0.05


def test_a_spread_ten_times_too_small_is_calibrated_to_95_percent_on_new_pixels():
    rng = np.random.default_rng(2)
    spread = rng.uniform(0.05, 0.2, (2, 20000))
    err = rng.normal(0, 10 * spread)  # the actual errors: ten times the spread
    k = calibration_factor(spread[0], err[0])
    assert 9.0 < k < 11.0
    assert coverage(spread[1], err[1], 1.0) < 0.2
    assert abs(coverage(spread[1], err[1], k) - 0.95) < 0.01


def test_pixel_path_members_give_hidden_pixels_the_spread_dropout_alone_does_not():
    """v3's hidden pixels bypass the dropout (their LAI is the per-pixel path's): refit
    members of that path (SYNTHETIC crops) give them a spread, and the model's own path is
    back in place afterwards."""
    from test_lai_train import SyntheticSource

    from emulators.lai.dataset import Sampler
    from emulators.lai.features import MASK
    from emulators.lai.train import pretrain_pixel
    from emulators.lai.uncertainty import refit_pixel_members
    from emulators.lulc import split

    torch.manual_seed(2)
    torch.set_num_threads(1)
    model = LaiUNet(N_CHANNELS, 4, residual=4, dropout=0.1).eval()
    sampler = Sampler(SyntheticSource(), split.TRAIN, 32)
    pretrain_pixel(model, sampler, steps=100, crops=4)
    own = model.head_lai.pixel
    x = sampler.sample(np.random.default_rng(9), ratio=1.0)[0]
    assert (x[MASK] == 1).all()
    _, alone = mc_dropout(model, x, samples=8)
    paths = refit_pixel_members(model, sampler, members=2, steps=100, crops=4)
    _, both = mc_dropout(model, x, samples=8, pixel_paths=paths)
    assert len(paths) == 3 and paths[0] is own and model.head_lai.pixel is own
    assert alone.max() == 0.0 and (both > 0).mean() > 0.5

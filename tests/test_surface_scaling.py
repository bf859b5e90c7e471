"""Scaling diagnostics (seed 000 §3.2): σ per box and scale, β, γ."""

import numpy as np
import pytest

from coupler.errors import FieldError
from emulators.surface.scaling import (
    SEED_SCALES,
    box_sigma,
    coarsen_mean,
    scaling_beta,
    scaling_diagnostics,
)


def test_white_noise_sigma_falls_as_one_over_scale_and_beta_is_minus_one():
    rng = np.random.default_rng(0)
    field = rng.standard_normal((3, 240, 240))  # 3 samples × 4×4 boxes of 60 cells
    result = scaling_diagnostics(field)
    ratio = np.nanmean(result.sigma / result.sigma[0], axis=(1, 2, 3))
    scales = np.asarray(SEED_SCALES, dtype=float)
    expected = np.sqrt(1.0 - (scales / 60.0) ** 2) / scales  # finite-box population std
    np.testing.assert_allclose(ratio, expected, rtol=0.04)
    assert result.beta.shape == (3, 4, 4)
    assert abs(result.beta.mean() + 1.0) < 0.03
    # γ at 12 km: 1 − 1/12 ≈ 91.7 %
    assert abs(result.gamma_at(12).mean() - (1 - expected[-1]) * 100) < 1.0


def test_smooth_field_keeps_its_variability_beta_near_zero():
    y, x = np.meshgrid(np.arange(120), np.arange(180), indexing="ij")
    field = 3.0 * x + 2.0 * y + 50.0 * np.sin(2 * np.pi * x / 600.0)
    result = scaling_diagnostics(field)
    ratio = result.sigma / result.sigma[0]
    assert np.all(ratio > 0.97) and np.all(ratio <= 1.0 + 1e-12)
    assert np.all(np.abs(result.beta) < 0.01)
    assert np.all(result.gamma_at(12) < 3.0)


def test_hand_checked_box_sigma_and_nan_cells():
    field = np.array(
        [[1.0, 3.0, 0.0, 0.0], [1.0, 3.0, 0.0, 4.0], [5.0, 5.0, np.nan, 2.0], [5.0, 5.0, 2.0, 2.0]]
    )
    coarse = coarsen_mean(field, 2)
    np.testing.assert_allclose(coarse, [[2.0, 1.0], [5.0, 2.0]])  # NaN cell left out
    sigma = box_sigma(field, box_cells=4, scales=(1, 2))
    valid = field[~np.isnan(field)]
    assert sigma.shape == (2, 1, 1)
    assert sigma[0, 0, 0] == pytest.approx(valid.std())
    assert sigma[1, 0, 0] == pytest.approx(np.std([2.0, 1.0, 5.0, 2.0]))
    assert scaling_beta((1, 2), sigma)[0, 0] == pytest.approx(
        np.log(sigma[1, 0, 0] / sigma[0, 0, 0]) / np.log(2)
    )


def test_all_nan_box_gives_nan_not_a_number():
    field = np.full((120, 60), 1.0)
    field[:60] = np.nan
    field[60:, ::2] = 2.0
    result = scaling_diagnostics(field)
    assert np.isnan(result.sigma[:, 0, 0]).all() and np.isnan(result.beta[0, 0])
    assert np.isfinite(result.beta[1, 0])


@pytest.mark.parametrize(
    ("shape", "box", "scales", "message"),
    [
        ((120, 120), 60, (2, 4), "must start with 1"),
        ((120, 120), 60, (1, 7), "do not divide the box"),
        ((100, 120), 60, SEED_SCALES, "not a whole number of 60×60 blocks"),
        ((120, 120), 60, (1, 4, 2), "strictly increasing"),
        ((120, 120), 12, (1, 12), "fewer than 2×2"),
        ((120,), 60, SEED_SCALES, "2-D"),
    ],
)
def test_bad_shapes_and_scales_are_named(shape, box, scales, message):
    with pytest.raises(FieldError, match=message):
        box_sigma(np.zeros(shape), box, scales)

"""The semi-empirical LAI target and the LAI input channels: physics sanity and bad input."""

import numpy as np
import pytest

from coupler.errors import DataFileError, FieldError
from emulators.lai import features, target


def test_sib2_fpar_increases_with_ndvi_and_is_clipped():
    f = target.fpar_from_ndvi(np.array([-0.2, 0.039, 0.4, 0.86, 1.0], np.float32))
    assert np.all(np.diff(f) >= 0)
    assert f[0] == pytest.approx(target.FPAR_MIN) and f[-1] == pytest.approx(target.FPAR_MAX)


def test_lai_from_ndvi_reaches_the_class_maximum_at_dense_ndvi():
    igbp = np.array([2, 1, 10], np.uint8)  # broadleaf evergreen, needleleaf (clumped), grass
    lai = target.lai_from_ndvi(np.full(3, 0.9, np.float32), igbp)
    np.testing.assert_allclose(lai, [6.48, 6.40, 2.90], rtol=1e-5)


def climate(h=4, w=3, t=20.0, p=100.0):
    return np.full((12, h, w), t, np.float32), np.full((12, h, w), p, np.float32)


def test_monthly_lai_is_zero_on_water_nan_without_class_and_between_min_and_max():
    igbp = np.array([[0, 255, 4], [4, 4, 15]], np.uint8)
    nmax, nmin = np.full((2, 3), 0.8, np.float32), np.full((2, 3), 0.3, np.float32)
    t, p = climate(2, 3)
    t[:6] = -10.0  # cold first half of the year: no growing season then
    lai = target.monthly_lai(nmax, nmin, igbp, t, p, np.array([45.0, 45.0]))
    assert lai.shape == (12, 2, 3)
    assert np.all(lai[:, 0, 0] == 0) and np.all(lai[:, 1, 2] == 0)
    assert np.all(np.isnan(lai[:, 0, 1]))
    lo = target.lai_from_ndvi(nmin[:1, 2], igbp[:1, 2])[0]
    hi = target.lai_from_ndvi(nmax[:1, 2], igbp[:1, 2])[0]
    assert lai[0, 0, 2] == pytest.approx(lo) and lai[6, 0, 2] == pytest.approx(hi)


def test_gsi_is_zero_in_polar_night_and_one_in_warm_wet_tropics():
    t, p = climate(2, 1)
    gsi = target.monthly_gsi(t, p, np.array([80.0, 0.0]))
    assert gsi[0, 0, 0] == 0.0 and np.all(gsi[:, 1, 0] == 1.0)


def test_t42_reader_rejects_a_truncated_file(tmp_path):
    bad = tmp_path / "N064_surf_0200.sra"
    bad.write_text("200 0 1 0 128 64 0 0\n1.0 2.0\n")
    with pytest.raises(DataFileError, match="expected 14 records"):
        target.read_t42_lai(bad)


def test_toa_shortwave_is_zero_in_polar_night_and_largest_in_polar_summer_day():
    q = features.toa_shortwave(np.array([-89.0, 0.0, 89.0]), 5)  # June
    assert q[0] == 0.0 and q[2] > 500 > q[1] > 350  # June: ~520 at the pole, ~385 at 0°


def inputs(t=None, p=None, prior=None):
    h, w = 32, 32
    tt, pp = climate(h, w)
    lu = np.full((h, w), 3, np.uint8)
    return features.assemble(
        lu,
        lu,
        tt if t is None else t,
        pp if p is None else p,
        4,
        np.linspace(10, 12, h),
        np.full((h, w), 2.0, np.float32) if prior is None else prior,
        np.zeros((h, w), bool),
        np.zeros((12, h, w), np.float32),
        features.vegetation_channels({k: np.full((h, w), 0.6) for k in features.VEGETATION}),
    )


def test_inputs_have_the_documented_channels_and_hide_unknown_prior():
    prior = np.full((32, 32), 2.0, np.float32)
    prior[0, 0] = np.nan
    x = inputs(prior=prior)
    assert x.shape == (features.N_CHANNELS, 32, 32) == (43, 32, 32)
    assert x[features.PRIOR, 1, 1] == pytest.approx(2.0 / 8.0)
    assert x[features.PRIOR, 0, 0] == 0 and x[features.MASK, 0, 0] == 1
    assert np.all(x[features.VEG] == np.float32(0.6))


def test_timing_channels_are_the_target_s_day_length_and_gsi_of_the_month():
    x = inputs()
    t, p = climate(32, 32)
    lat = np.linspace(10, 12, 32)
    gsi = target.monthly_gsi(t, p, lat)[4]
    np.testing.assert_allclose(x[features.GSI], gsi, atol=1e-6)
    assert 0 < gsi.max() <= 1
    hours = target.mid_month_day_length(lat, 4)
    np.testing.assert_allclose(x[features.DAY_LENGTH, :, 0] * 24, hours, atol=1e-5)
    assert 12.0 < hours.min() < 13.5  # mid-May, 10–12°N


def test_vegetation_out_of_range_names_the_field():
    veg = {k: np.full((4, 4), 0.5) for k in features.VEGETATION}
    veg["fapar_max"] = np.full((4, 4), 6000.0)  # the file's int16, unscaled
    with pytest.raises(FieldError, match="'fapar_max' must lie in \\[-1, 1\\]"):
        features.vegetation_channels(veg)


def test_missing_month_of_climate_is_named():
    t, _ = climate(32, 32)
    with pytest.raises(FieldError, match="12 months.*missing month"):
        inputs(t=t[:11])


def test_nan_climate_names_the_month():
    _, p = climate(32, 32)
    p[2, 5, 5] = np.nan
    with pytest.raises(FieldError, match="precipitation of month 3 holds NaN"):
        inputs(p=p)


def test_kelvin_temperature_is_rejected():
    t, _ = climate(32, 32, t=290.0)
    with pytest.raises(FieldError, match="Kelvin"):
        inputs(t=t)


def test_prior_lai_out_of_range_is_rejected():
    with pytest.raises(FieldError, match=r"prior LAI must lie in \[0.0, 12.0\].*-1"):
        inputs(prior=np.full((32, 32), -1.0, np.float32))
    with pytest.raises(FieldError, match="prior LAI must lie"):
        inputs(prior=np.full((32, 32), 50.0, np.float32))


def test_era5_bilinear_is_exact_on_a_field_linear_in_latitude_and_keeps_month_axis():
    from emulators.data.era5_climate import bilinear

    lat_rows = 90.0 - 0.25 * np.arange(721)
    field = np.stack([np.broadcast_to(lat_rows[:, None] * k, (721, 1440)) for k in (1, 2)])
    out = bilinear(field, np.array([-33.3, 0.1, 51.07]), np.array([-179.99, 10.0]))
    assert out.shape == (2, 3, 2)
    np.testing.assert_allclose(out[1, :, 0], 2 * np.array([-33.3, 0.1, 51.07]), rtol=1e-5)

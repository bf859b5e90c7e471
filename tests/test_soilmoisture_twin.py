"""Twin data of the soil-moisture forest: layer mapping, elevation adjustment, the SMCI station
correction, and a tiny twin run through the Fortran physics (TWIN data, not observations)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emulators.landmodel import soil_layers
from emulators.soilmoisture.dataset import build_table, correct_to_reference, load_cube, save_cube
from emulators.soilmoisture.features import (
    FEATURE_NAMES,
    NFEATURE,
    depth_weights,
    elm_node_depths,
    priestley_taylor_mm,
)
from emulators.soilmoisture.twin import (
    TARGET_DEPTHS_M,
    TwinSpec,
    adjust_to_elevation,
    igbp_to_pft_table,
    run_twin,
)

# 1° × 1° of central France, 2 × 2 host cells of 0.5°, 24 stations, two years
TINY_SPEC = TwinSpec(
    fine_grid="latlon:120,120:45,46,2,3", n_stations=24, n_years=2, spinup_years=0, seed=1
)


@pytest.fixture(scope="session")
def tiny_cube(tmp_path_factory) -> Path:
    """A two-year twin of 24 stations and 4 host cells (~10 s of physics)."""
    path = tmp_path_factory.mktemp("soilmoisture") / "tiny_twin.npz"
    return save_cube(path, run_twin(TINY_SPEC, progress=False))


def test_depth_weights_interpolate_linear_profiles_exactly() -> None:
    w = depth_weights()
    z = soil_layers()[0]
    np.testing.assert_allclose(elm_node_depths(), z, rtol=1e-14)  # runtime copy = host's
    assert w.shape == (10, 10)
    np.testing.assert_allclose(w.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(w @ (0.1 + 0.3 * z), 0.1 + 0.3 * TARGET_DEPTHS_M, atol=1e-12)


def test_every_igbp_class_maps_to_a_full_column_of_pfts() -> None:
    table = igbp_to_pft_table()
    assert table.shape == (18, 17)
    np.testing.assert_allclose(table.sum(axis=1), 100.0)


def test_forcing_moved_up_1000_m_is_colder_thinner_and_wetter() -> None:
    n = 3
    f = {
        "TBOT": np.full((2, n), 290.0),
        "PSRF": np.full((2, n), 1.0e5),
        "FLDS": np.full((2, n), 300.0),
        "QBOT": np.full((2, n), 0.02),  # supersaturated once cooled: capped
        "PRECTmms": np.full((2, n), 1e-4),
        "FSDS": np.zeros((2, n)),
        "WIND": np.ones((2, n)),
    }
    g = adjust_to_elevation(f, np.array([1000.0, 0.0, -200.0]))
    np.testing.assert_allclose(g["TBOT"][0], [283.5, 290.0, 291.3])
    np.testing.assert_allclose(g["PSRF"][0, 0], 1e5 * np.exp(-1000.0 / 8434.5))
    np.testing.assert_allclose(g["PRECTmms"][0], [1.5e-4, 1e-4, 0.9e-4])
    # capped at 95 % of saturation (Bolton): 0.01142 at 290 K, less at 283.5 K
    assert g["QBOT"][0, 1] == pytest.approx(0.01142, abs=1e-4)
    assert g["QBOT"][0, 0] == pytest.approx(0.0084, abs=1e-4)


def test_priestley_taylor_gives_textbook_value_at_20c() -> None:
    # Δ(20 °C) = 0.1447 kPa K-1, γ = 0.066: 1.26·0.6868·150 W m-2 / λ → 4.58 mm day-1
    assert priestley_taylor_mm(np.array(150.0), np.array(293.15)) == pytest.approx(4.58, abs=0.01)
    assert priestley_taylor_mm(np.array(-50.0), np.array(293.15)) == 0.0


def test_station_correction_takes_reference_mean_and_std_and_keeps_the_shape() -> None:
    rng = np.random.default_rng(0)
    ref = 0.3 + 0.02 * rng.standard_normal((200, 4, 10))
    obs = 0.8 * ref + 0.05 + 0.01 * rng.standard_normal((200, 4, 10))
    use = np.arange(200) < 150
    out = correct_to_reference(obs.astype(np.float32), ref.astype(np.float32), use)
    np.testing.assert_allclose(out[use].mean(axis=0), ref[use].mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(out[use].std(axis=0), ref[use].std(axis=0), rtol=1e-4)
    assert np.corrcoef(out[:, 2, 3], obs[:, 2, 3])[0, 1] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.slow
def test_tiny_twin_has_stations_reanalysis_and_sensor_errors(tiny_cube: Path) -> None:
    cube = load_cube(tiny_cube)
    assert cube["sm_station"].shape == (730, 24, 10)
    assert cube["sm_host"].shape == (730, 4, 10)
    assert sorted(set(cube["year"].tolist())) == [2001, 2002]
    truth = cube["sm_station_true"]
    assert np.isfinite(truth).all()
    assert (truth > 0.02).all() and (truth <= cube["station_porosity"][None, :, None] + 1e-6).all()
    ref = cube["sm_host"][:, cube["station_host"]]
    r = np.corrcoef(truth[:, :, 0].T, ref[:, :, 0].T).diagonal(offset=24)
    assert 0.5 < r.mean() < 0.999  # fine columns differ from their host cell, not wildly
    err = cube["sm_station"] - truth
    assert 0.02 < err.std() < 0.2  # gain, offset and noise of the sensors


@pytest.mark.slow
def test_training_table_has_the_table1_predictors_in_order(tiny_cube: Path) -> None:
    table = build_table(load_cube(tiny_cube))
    assert table.X.shape == (730 * 24, NFEATURE) and table.y.shape == (730 * 24, 10)
    assert FEATURE_NAMES[:2] == ("sm_ra_10cm", "sm_ra_20cm") and FEATURE_NAMES[-1] == "porosity"
    np.testing.assert_array_equal(table.X[:, :10], table.baseline)
    assert np.isfinite(table.X).all()

"""MdPL sites, TWIN observations, windows and metrics: the data the calibration is built on."""

from __future__ import annotations

import numpy as np
import pytest

from coupler.errors import FieldError
from emulators.landmodel import GROUP_NAMES, parameter_table
from emulators.mdpl import twin
from emulators.mdpl.dataset import WINDOW, doy_encoding, forcing_matrix, generator_inputs
from emulators.mdpl.metrics import scores
from emulators.mdpl.sites import N_ATTR, SITES, attributes, check_group, site


def test_twenty_table1_sites_in_four_groups_with_pfts_of_their_group():
    assert len(SITES) == 20
    counts = {g: sum(s.group == g for s in SITES) for g in GROUP_NAMES}
    assert counts == {"evergreen_forest": 4, "woodland": 5, "grassland": 6, "cultivation": 5}
    groups = parameter_table().pft_group
    assert all(groups[s.pft] == s.group_index + 1 for s in SITES)
    assert (site("CN-Din").lat, site("CN-Din").lon) == (23.17, 112.54)
    assert attributes(site("DE-Meh")).shape == (N_ATTR,)


def test_unknown_site_and_group_are_named():
    with pytest.raises(FieldError, match="XX-Nop"):
        site("XX-Nop")
    with pytest.raises(FieldError, match="savanna"):
        check_group("savanna")
    with pytest.raises(FieldError, match="PFT 15"):
        check_group("grassland", 15)


def test_hidden_truth_inside_ranges_and_consistent_with_pft():
    tab = parameter_table()
    for s in SITES:
        p = twin.hidden_truth(s, 0)
        assert ((p >= tab.lo) & (p <= tab.hi)).all()
        lo, hi = twin.VEGH_RANGE[s.group]
        assert lo <= p[0] <= hi
    assert not np.allclose(twin.hidden_truth(SITES[0], 0), twin.default_set(SITES[0]))


def test_twin_observations_have_gaps_nonclosure_and_heteroscedastic_noise():
    rng = np.random.default_rng(1)
    flux = np.repeat(rng.uniform(0, 400, (2000, 1)), 2, axis=1)
    obs, closure = twin.observe(flux, seed=3)
    gap = np.isnan(obs[:, 0])
    assert 0.15 <= gap.mean() < 0.25
    assert 0.85 <= closure <= 1.0
    err = obs[~gap] - closure * flux[~gap]
    small, big = flux[~gap] < 50, flux[~gap] > 300
    assert err[big].std() > 3 * err[small].std()


def test_doy_encoding_and_generator_window_shapes():
    enc = doy_encoding(96)
    assert enc.shape == (96, 8)
    assert np.allclose(enc[:, :4] ** 2 + enc[:, 4:] ** 2, 1.0)
    fn = np.zeros((200, 7), dtype=np.float32)
    obs = np.full((200, 2), np.nan, dtype=np.float32)
    x = generator_inputs(fn, np.array([0, 100]), np.zeros(N_ATTR, np.float32), obs)
    assert x.shape == (2, WINDOW, 7 + 8 + N_ATTR + 3)
    assert (x[..., -1] == 0).all()  # every step a gap: mask 0


def test_nan_forcing_is_named():
    f = {n: np.ones(10) for n in ("FSDS", "FLDS", "TBOT", "QBOT", "WIND", "PSRF", "PRECTmms")}
    f["TBOT"][4] = np.nan
    with pytest.raises(FieldError, match="TBOT is not finite at step 4"):
        forcing_matrix(f)


def test_metrics_perfect_and_biased():
    o = np.sin(np.linspace(0, 20, 500)) * 100 + 150
    perfect = scores(o, o)
    assert perfect["rmse"] == 0 and perfect["kge"] == pytest.approx(1) and perfect["nse"] == 1
    biased = scores(o + 10, np.where(np.arange(500) % 7 == 0, np.nan, o))
    assert biased["rmse"] == pytest.approx(10)
    assert biased["r"] == pytest.approx(1)
    assert biased["kge"] < 1


def test_line_search_sets_run_from_the_defaults_through_gz_inside_the_ranges():
    tab = parameter_table()
    default, p = tab.pft_defaults[7], tab.lo + 0.9 * (tab.hi - tab.lo)
    np.testing.assert_allclose(twin.along_line(default, p, 0.0), default)
    np.testing.assert_allclose(twin.along_line(default, p, 1.0), p)
    far = twin.along_line(default, p, 1.5)  # beyond g_z's set, clipped at the bounds
    assert ((far >= tab.lo) & (far <= tab.hi)).all()
    u0 = twin.to_unit(default)
    np.testing.assert_allclose(twin.to_unit(far), np.clip(u0 + 1.5 * (0.9 - u0), 0, 1))
    assert (twin.to_unit(far) == 1.0).any() and (twin.to_unit(far) < 1.0).any()

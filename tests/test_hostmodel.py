"""The ELM/ILS-style host physics through ctypes: budgets close, every parameter acts in its
documented direction, single-column and batch paths agree, and bad input is named."""

from __future__ import annotations

import numpy as np
import pytest

from coupler.errors import FieldError, LandemuRuntimeError
from emulators.data.forcing import MonthlyClimatology, generate_forcing, solar_geometry
from emulators.landmodel import (
    OUTPUT_NAMES,
    PARAM_NAMES,
    PFT_NAMES,
    HostModel,
    _lib,
    default_vegetation,
    lhs_samples,
    monthly_weights,
    oat_samples,
    parameter_table,
    run_ensemble,
    sai_from_lai,
    soil_layers,
)
from emulators.landmodel import solar_geometry as fortran_solar

pytestmark = pytest.mark.fortran

STEPS_PER_DAY = 48
# (lat, lon): temperate grassland site, boreal (snow) site, tropical site
SITES = np.array([[48.0, 10.0], [64.0, 26.0], [-3.0, -60.0]])


@pytest.fixture(scope="module", autouse=True)
def hostlib():
    """The Fortran library must have been built by `make`."""
    path = _lib.library_path()
    if not path.is_file():
        pytest.fail(f"{path} is not built: run `make` (cmake -S fortran_shim/hostmodel ...)")
    return _lib.lib()


@pytest.fixture(scope="module")
def year_forcing() -> dict[str, np.ndarray]:
    """One generated year (2001) at the three sites from the ERA5 climatology."""
    clim = MonthlyClimatology.from_era5(SITES[:, 0], SITES[:, 1])
    return generate_forcing(SITES[:, 0], SITES[:, 1], 2001, 1, climatology=clim)


def _window(forcing: dict[str, np.ndarray], day0: int, ndays: int, col: int | None = None):
    sl = slice(day0 * STEPS_PER_DAY, (day0 + ndays) * STEPS_PER_DAY)
    if col is None:
        return {k: v[sl] for k, v in forcing.items()}
    return {k: v[sl, col] for k, v in forcing.items()}


def _mixed_columns() -> np.ndarray:
    """PCT_NAT_PFT of three columns: pure grass, bare+needleleaf+grass, forest+crop."""
    pct = np.zeros((3, len(PFT_NAMES)))
    pct[0, 13] = 100.0
    pct[1, [0, 2, 12]] = [20.0, 50.0, 30.0]
    pct[2, [4, 15]] = [70.0, 30.0]
    return pct


# ---------------------------------------------------------------------------------------------
# budgets
# ---------------------------------------------------------------------------------------------
def test_energy_balance_closes_every_step(year_forcing):
    model = HostModel(_mixed_columns(), 40.0, 20.0, SITES[:, 0], SITES[:, 1])
    model.init_state(tinit=np.array([278.0, 268.0, 298.0]))
    # January (snow at the boreal site) and July
    for day0 in (0, 181):
        out = model.run(_window(year_forcing, day0, 10), start_doy=day0 + 1)
        resid = out["RNET"] - out["FSH"] - out["EFLX_LH_TOT"] - out["FGR"]
        assert np.abs(resid).max() < 1e-6
        assert np.abs(out["EBAL"]).max() < 1e-6
        np.testing.assert_allclose(out["RNET"], out["FSA"] - out["FIRA"], atol=1e-9)
        assert np.abs(out["EFLX_LH_TOT"]).max() > 100.0  # the fluxes are not trivially zero
        if day0 == 0:
            assert out["H2OSNO"][:, 1].max() > 0.0  # the boreal column holds snow


def test_water_balance_closes_over_a_year(year_forcing):
    model = HostModel(_mixed_columns(), 40.0, 20.0, SITES[:, 0], SITES[:, 1])
    model.init_state(tinit=np.array([278.0, 268.0, 298.0]), wetness=0.7)
    w0 = model.water_storage()
    out = model.run(year_forcing, start_doy=1)
    w1 = model.water_storage()
    dt = 1800.0
    p = year_forcing["PRECTmms"].sum(axis=0) * dt
    et = out["QFLX_EVAP"].sum(axis=0) * dt
    runoff = out["QOVER"].sum(axis=0) * dt
    drain = out["QDRAI"].sum(axis=0) * dt
    resid_m = ((w1 - w0) - (p - et - runoff - drain)) / 1000.0  # kg m-2 -> m
    assert np.abs(resid_m).max() < 1e-9
    assert (p > 400.0).all() and (et > 100.0).all()  # a real hydrological year
    assert out["H2OSNO"][:, 1].max() > 20.0  # the boreal column had a snowpack
    assert out["QSNOMELT"][:, 1].sum() > 0.0


def test_soil_layers_follow_elm_structure():
    z, dz, zi = soil_layers()
    i = np.arange(1, 11)
    np.testing.assert_allclose(z, 0.025 * (np.exp(0.5 * (i - 0.5)) - 1.0), rtol=1e-14)
    assert dz[0] == pytest.approx(0.5 * (z[0] + z[1]))
    np.testing.assert_allclose(dz[1:-1], 0.5 * (z[2:] - z[:-2]), rtol=1e-14)
    assert zi[-1] == pytest.approx(z[-1] + 0.5 * dz[-1])
    assert dz.sum() == pytest.approx(zi[-1])


# ---------------------------------------------------------------------------------------------
# parameter responses (one at a time, MdPL Table 2 defaults of the woodland group)
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def june_response(year_forcing) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Ten June days at the temperate site, each parameter at the bottom and top of its range."""
    base = parameter_table().pft_defaults[7]
    samples, labels = oat_samples(base, levels=2)
    rows = {f"{n}_{'lo' if i % 2 == 0 else 'hi'}": i for i, (n, _v) in enumerate(labels)}
    out = run_ensemble(
        samples,
        7,
        _window(year_forcing, 160, 10, col=0),
        48.0,
        10.0,
        start_doy=161,
        outputs=["FSA", "FSH", "EFLX_LH_TOT", "RA", "GPP", "QVEGT", "QVEGE"],
    )
    return {k: v.mean(axis=0) for k, v in out.items()}, rows


@pytest.mark.parametrize(
    ("param", "output", "sign"),
    [
        ("vegh", "RA", -1),  # taller canopy -> rougher -> lower aerodynamic resistance
        ("rlfv", "FSA", -1),  # more reflective leaves -> less absorbed shortwave
        ("rlfn", "FSA", -1),
        ("tlfn", "FSA", -1),  # more NIR scattering -> more canopy reflectance
        ("vgcov", "QVEGT", +1),  # more vegetation cover -> more transpiration
        ("cdl", "QVEGE", +1),  # easier vapour exchange -> faster wet-leaf evaporation
        ("chl", "FSH", +1),  # easier heat exchange -> more sensible heat
        ("vmax0", "GPP", +1),
        ("effcon", "GPP", +1),
        ("gradm", "EFLX_LH_TOT", +1),  # steeper Ball-Berry slope -> more open stomata
        ("binter", "EFLX_LH_TOT", +1),
        ("psicr", "EFLX_LH_TOT", -1),  # less negative closing potential -> more stress
    ],
)
def test_flux_responds_to_parameter_in_documented_direction(june_response, param, output, sign):
    means, rows = june_response
    lo, hi = means[output][rows[f"{param}_lo"]], means[output][rows[f"{param}_hi"]]
    assert sign * (hi - lo) > 0.0, f"{output}: {lo} at low {param}, {hi} at high {param}"


def test_lower_psicr_delays_water_stress(year_forcing):
    """A rainless July drydown: the lower psicr, the later btran falls below 0.5."""
    f = _window(year_forcing, 181, 40, col=0)
    f["PRECTmms"] = np.zeros_like(f["PRECTmms"])
    base = parameter_table().pft_defaults[13]
    samples = np.repeat(base[None, :], 3, axis=0)
    samples[:, PARAM_NAMES.index("psicr")] = [-80.0, -200.0, -450.0]
    pct = np.zeros((3, len(PFT_NAMES)))
    pct[:, 13] = 100.0
    params = np.repeat(parameter_table().pft_defaults[None], 3, axis=0)
    params[:, 13, :] = samples
    model = HostModel(pct, 60.0, 10.0, 48.0, 10.0, params=params)
    model.init_state(tinit=290.0, wetness=0.55)
    out = model.run(f, start_doy=182, outputs=["BTRAN", "EFLX_LH_TOT"])
    daily = out["BTRAN"].reshape(40, STEPS_PER_DAY, 3).mean(axis=1)
    first_stressed = [
        int(np.argmax(daily[:, c] < 0.5)) if (daily[:, c] < 0.5).any() else 40 for c in range(3)
    ]
    assert first_stressed[0] < first_stressed[1] < first_stressed[2]


# ---------------------------------------------------------------------------------------------
# the two call paths and batch independence
# ---------------------------------------------------------------------------------------------
def test_single_column_and_batch_paths_give_identical_fluxes(year_forcing):
    f = _window(year_forcing, 100, 2)
    batch = HostModel(_mixed_columns(), 40.0, 20.0, SITES[:, 0], SITES[:, 1])
    single = HostModel(_mixed_columns(), 40.0, 20.0, SITES[:, 0], SITES[:, 1])
    out_b = batch.run(f, start_doy=101)
    rec = np.stack(
        [f[n] for n in ("FSDS", "FLDS", "TBOT", "QBOT", "WIND", "PSRF", "PRECTmms")], axis=-1
    )  # (nstep, ncol, 7)
    out_s = np.stack(
        [
            single.step_columns(rec[k], 101 + k // STEPS_PER_DAY, (k % STEPS_PER_DAY) * 1800.0)
            for k in range(rec.shape[0])
        ]
    )
    for i, name in enumerate(OUTPUT_NAMES):
        np.testing.assert_array_equal(out_s[:, :, i], out_b[name], err_msg=name)
    np.testing.assert_array_equal(single.state, batch.state)


def test_batch_results_do_not_depend_on_batch_composition(year_forcing):
    f = _window(year_forcing, 200, 1)
    whole = HostModel(_mixed_columns(), 40.0, 20.0, SITES[:, 0], SITES[:, 1])
    out_all = whole.run(f, start_doy=201, outputs=["FSH", "EFLX_LH_TOT"])
    alone = HostModel(_mixed_columns()[1:2], 40.0, 20.0, SITES[1, 0], SITES[1, 1])
    out_one = alone.run(
        {k: v[:, 1:2] for k, v in f.items()}, start_doy=201, outputs=["FSH", "EFLX_LH_TOT"]
    )
    np.testing.assert_array_equal(out_one["FSH"][:, 0], out_all["FSH"][:, 1])
    np.testing.assert_array_equal(out_one["EFLX_LH_TOT"][:, 0], out_all["EFLX_LH_TOT"][:, 1])


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------
def test_parameter_outside_range_is_rejected_with_its_name_and_range():
    params = np.repeat(parameter_table().pft_defaults[None], 1, axis=0)
    params[0, 7, PARAM_NAMES.index("psicr")] = -600.0
    pct = np.zeros((1, len(PFT_NAMES)))
    pct[0, 7] = 100.0
    with pytest.raises(
        FieldError,
        match=r"psicr = -600.*broadleaf_deciduous_temperate_tree"
        r".*\[-500, -50\]",
    ):
        HostModel(pct, 40.0, 20.0, 48.0, 10.0, params=params)


def test_fortran_side_rejects_out_of_range_parameter_with_status_and_message(year_forcing):
    model = HostModel(_mixed_columns(), 40.0, 20.0, SITES[:, 0], SITES[:, 1])
    model.params[2, 4, PARAM_NAMES.index("gradm")] = 25.0  # bypasses the Python-side check
    with pytest.raises(
        FieldError,
        match=r"gradm = 2\.5.*E\+01.*column 3.*\[1\.0+E\+00, "
        r"2\.0+E\+01\]",
    ):
        model.run(_window(year_forcing, 0, 1))


def test_forcing_in_wrong_units_is_rejected(year_forcing):
    model = HostModel(_mixed_columns(), 40.0, 20.0, SITES[:, 0], SITES[:, 1])
    f = _window(year_forcing, 0, 1)
    f["TBOT"] = f["TBOT"] - 273.15  # Celsius
    with pytest.raises(
        FieldError,
        match=r"TBOT = .* outside the plausible range .* K "
        r"\(missing value or wrong units\?\)",
    ):
        model.run(f)
    g = _window(year_forcing, 0, 1)
    g["QBOT"] = g["QBOT"].copy()
    g["QBOT"][5, 2] = np.nan
    with pytest.raises(FieldError, match=r"QBOT = NaN at column 3"):
        model.run(g)
    with pytest.raises(FieldError, match=r"forcing is missing \['WIND'\]"):
        model.run({k: v for k, v in f.items() if k != "WIND"})
    with pytest.raises(FieldError, match=r"forcing is missing \['FSDS'\]"):
        model.run({k: v for k, v in f.items() if k != "FSDS"})


def test_pft_fractions_that_do_not_sum_to_100_percent_are_rejected():
    pct = np.zeros((1, len(PFT_NAMES)))
    pct[0, 13] = 90.0
    with pytest.raises(FieldError, match=r"PFT fractions of column 1 sum to 9\.0+E-01"):
        HostModel(pct, 40.0, 20.0, 48.0, 10.0)


def test_missing_library_tells_the_user_to_run_make(monkeypatch, tmp_path):
    monkeypatch.setenv(_lib.ENV_VAR, str(tmp_path / "nowhere.so"))
    _lib.lib.cache_clear()
    try:
        with pytest.raises(LandemuRuntimeError, match=r"nowhere\.so not found; run `make`"):
            _lib.lib()
    finally:
        monkeypatch.delenv(_lib.ENV_VAR)
        _lib.lib.cache_clear()


# ---------------------------------------------------------------------------------------------
# tables, names and helpers
# ---------------------------------------------------------------------------------------------
def test_python_names_match_the_library():
    import ctypes

    buf = ctypes.create_string_buffer(64)
    for kind, names in ((1, PARAM_NAMES), (2, OUTPUT_NAMES), (3, PFT_NAMES)):
        got = []
        for i in range(1, len(names) + 1):
            assert _lib.lib().hm_name(kind, i, buf, len(buf)) == 0
            got.append(buf.value.decode())
        assert tuple(got) == names
    assert _lib.lib().hm_name(1, 13, buf, len(buf)) != 0


def test_defaults_and_ranges_follow_mdpl_table_2():
    tab = parameter_table()
    col = {n: i for i, n in enumerate(PARAM_NAMES)}
    np.testing.assert_array_equal(tab.group_defaults[:, col["vegh"]], [35.0, 20.0, 1.0, 1.0])
    np.testing.assert_array_equal(tab.group_defaults[:, col["gradm"]], [9.0, 7.5, 4.0, 9.0])
    np.testing.assert_array_equal(tab.group_defaults[:, col["psicr"]], [-200.0] * 4)
    np.testing.assert_array_equal(tab.group_defaults[:, col["binter"]], [0.01, 0.01, 0.04, 0.01])
    assert (tab.lo[col["vegh"]], tab.hi[col["vegh"]]) == (0.5, 40.0)
    assert (tab.lo[col["vmax0"]], tab.hi[col["vmax0"]]) == (1e-6, 1e-4)
    assert (tab.lo[col["psicr"]], tab.hi[col["psicr"]]) == (-500.0, -50.0)
    # ELM PFT -> MdPL group: trees, shrubs/grasses, crops
    assert list(tab.pft_group) == [0, 1, 1, 2, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3, 3, 4, 4]
    assert ((tab.group_defaults >= tab.lo) & (tab.group_defaults <= tab.hi)).all()


def test_forcing_and_physics_share_the_sun():
    for lat, lon, doy, tod in [
        (48.0, 10.0, 172, 39600.0),
        (-33.0, 151.0, 5, 3600.0),
        (70.0, -150.0, 300, 80000.0),
    ]:
        cz_f, ecc_f = fortran_solar(lat, lon, doy, tod)
        cz_p, ecc_p = solar_geometry(lat, lon, doy, tod)
        assert cz_f == pytest.approx(float(cz_p), abs=1e-12)
        assert ecc_f == pytest.approx(float(ecc_p), abs=1e-12)


def test_monthly_lai_weights_are_elm_mid_month_interpolation():
    m1, m2, w1 = monthly_weights(16, 43200.0)  # 16 Jan 12 UTC: the middle of January
    assert (m1, m2) == (1, 2) and w1 == pytest.approx(1.0)
    m1, m2, w1 = monthly_weights(1, 0.0)  # 1 Jan: between mid-December and mid-January
    assert (m1, m2) == (12, 1) and w1 == pytest.approx(15.5 / 31.0)


def test_default_vegetation_is_seasonal_and_python_sai_matches_fortran():
    lai, sai = default_vegetation([48.0, -35.0, 0.0])
    deciduous = lai[:, :, 7]
    assert deciduous[0].argmax() == 6 and deciduous[1].argmax() == 0  # July north, Jan south
    assert np.ptp(deciduous[2]) < 1e-12  # no season at the equator
    np.testing.assert_array_equal(sai_from_lai(lai), sai)
    assert (sai[:, :, 0] == 0).all() and (sai[:, :, 13] >= 1.0).all()


def test_latin_hypercube_fills_each_stratum_once():
    s = lhs_samples(20, seed=3)
    tab = parameter_table()
    assert s.shape == (20, 12)
    u = (s - tab.lo) / (tab.hi - tab.lo)
    for k in range(12):
        assert sorted(np.floor(u[:, k] * 20).astype(int)) == list(range(20))
    np.testing.assert_array_equal(s, lhs_samples(20, seed=3))

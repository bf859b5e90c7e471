"""The ELM surface dataset: written from real data for a small host grid, checked the way
ELM's surface reader checks it, read back identically, opened by ncdump and NCO; bad
inputs named; `landemu scaling` writes its maps."""

import shutil
import subprocess

import netCDF4
import numpy as np
import pytest

from coupler.cli import main
from coupler.errors import DataFileError, GridError
from coupler.grids.latlon import LatLonGrid
from emulators.surface.surfdata import (
    DIMS,
    SURFDATA_VARS,
    build_surface,
    check_surfdata,
    write_surfdata,
)

HOST = LatLonGrid.parse("latlon:2,3:45,46,5,6.5")  # Rhône valley to the Alps foothills


@pytest.fixture(scope="module")
def surfdata(tmp_path_factory):
    fields, attrs = build_surface(HOST)
    path = write_surfdata(tmp_path_factory.mktemp("sd") / "surfdata.nc", HOST, fields, attrs)
    return path, fields, attrs


def test_surfdata_passes_the_elm_reader_checks_and_reads_back(surfdata):
    path, fields, _ = surfdata
    assert check_surfdata(path) == []
    with netCDF4.Dataset(path) as ds:
        assert {k: len(ds.dimensions[k]) for k in DIMS} == DIMS
        assert (len(ds.dimensions["lsmlat"]), len(ds.dimensions["lsmlon"])) == (2, 3)
        for name, (dims, units, _) in SURFDATA_VARS.items():
            assert ds[name].dimensions == dims and ds[name].units == units
            np.testing.assert_array_equal(ds[name][:], np.asarray(fields[name]), err_msg=name)
        assert ds.soil_synthetic == "yes" and "semi-empirical" in ds.lai_source
    land = sum(fields[k] for k in ("PCT_NATVEG", "PCT_CROP", "PCT_LAKE", "PCT_WETLAND"))
    np.testing.assert_allclose(
        land + fields["PCT_GLACIER"] + fields["PCT_URBAN"].sum(0), 100, atol=1e-10
    )
    # real data: temperate trees and grass present, July LAI above January LAI for grass
    assert fields["PCT_NAT_PFT"][7].max() > 10 and fields["PCT_NAT_PFT"][13].max() > 10
    lai = fields["MONTHLY_LAI"][:, 13]
    assert np.all(lai[6][fields["PCT_NAT_PFT"][13] > 0] > lai[0][fields["PCT_NAT_PFT"][13] > 0])
    assert fields["TOPO"][:, 2].mean() > fields["TOPO"][:, 0].mean()  # rising toward the Alps


def test_surfdata_does_not_depend_on_the_banding(surfdata):
    one_row_bands, _ = build_surface(HOST, band_cells=1)
    for name, values in surfdata[1].items():
        np.testing.assert_array_equal(one_row_bands[name], values, err_msg=name)


@pytest.mark.skipif(shutil.which("ncks") is None, reason="NCO not installed")
def test_surfdata_opens_in_ncdump_and_nco(surfdata, tmp_path):
    path = surfdata[0]
    head = subprocess.run(["ncdump", "-h", str(path)], capture_output=True, text=True, check=True)
    assert "PCT_NAT_PFT(natpft, lsmlat, lsmlon)" in head.stdout
    out = tmp_path / "lai.nc"
    subprocess.run(["ncks", "-O", "-v", "MONTHLY_LAI", str(path), str(out)], check=True)
    with netCDF4.Dataset(out) as ds:
        assert ds["MONTHLY_LAI"].shape == (12, 17, 2, 3)


def test_checker_catches_what_elm_would_stop_on(surfdata, tmp_path):
    _, fields, attrs = surfdata
    broken = dict(fields, PCT_LAKE=fields["PCT_LAKE"] + 5.0)
    broken["PCT_NAT_PFT"] = fields["PCT_NAT_PFT"] * 0.9
    bad = write_surfdata(tmp_path / "bad.nc", HOST, broken, attrs)
    problems = check_surfdata(bad)
    assert any("land units do not sum to 100 (max error 5" in p for p in problems)
    assert any("PCT_NAT_PFT does not sum to 100" in p for p in problems)
    with netCDF4.Dataset(bad, "a") as ds:
        ds["TOPO"][0, 0] = np.nan
    assert "TOPO has NaN or fill values" in check_surfdata(bad)


def test_bad_inputs_are_named(tmp_path, capsys):
    soil = tmp_path / "soil.nc"
    with netCDF4.Dataset(soil, "w") as ds:
        ds.createDimension("layer", 4)
        ds.createDimension("lat", 4)
        ds.createDimension("lon", 4)
        ds.createVariable("lat", "f8", ("lat",))[:] = [44.5, 45.5, 46.5, 47.5]
        ds.createVariable("lon", "f8", ("lon",))[:] = [4.5, 5.5, 6.5, 7.5]
        for name in ("PCT_SAND", "PCT_CLAY", "ORGANIC"):
            ds.createVariable(name, "f4", ("layer", "lat", "lon"))[:] = 10.0
    with pytest.raises(DataFileError, match="'PCT_SAND' has 4 layers; the SoilGrids layout has 6"):
        build_surface(HOST, soil_file=soil)
    assert main(["surfdata", "--grid", "latlon:2,2", "-o", str(tmp_path / "x.nc")]) != 0
    assert "grid spec 'latlon:2,2' is not of the form" in capsys.readouterr().err
    assert not (tmp_path / "x.nc").exists()
    dem = tmp_path / "dem.nc"
    with netCDF4.Dataset(dem, "w") as ds:
        ds.createDimension("lat", 2)
        ds.createDimension("lon", 2)
        ds.createVariable("lat", "f8", ("lat",))[:] = [45.25, 45.75]
        ds.createVariable("lon", "f8", ("lon",))[:] = [5.25, 5.75]
        ds.createVariable("elevation", "f4", ("lat", "lon"))[:] = 300.0
    with pytest.raises(GridError, match="covers longitudes 5.0000..6.0000; the host grid needs"):
        build_surface(HOST, dem_file=dem)


def test_scaling_cli_writes_maps_table_and_png(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "fine.nc"
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", 120)
        ds.createDimension("lon", 60)
        ds.createVariable("lat", "f8", ("lat",))[:] = 45 + (np.arange(120) + 0.5) / 120
        ds.createVariable("lon", "f8", ("lon",))[:] = 5 + (np.arange(60) + 0.5) / 120
        ds.createVariable("LH", "f4", ("lat", "lon"))[:] = rng.standard_normal((120, 60))
    out, png = tmp_path / "scaling.nc", tmp_path / "scaling.png"
    assert main(["scaling", "LH", "--file", str(path), "-o", str(out), "--png", str(png)]) == 0
    with netCDF4.Dataset(out) as ds:
        assert ds["sigma"].shape == (7, 2, 1) and ds["table_beta"].shape == (2,)
        assert ds.mean_beta == pytest.approx(-1.0, abs=0.05)
    assert png.stat().st_size > 10_000


def test_height_and_urban_density_files_and_the_pft_plot(tmp_path, surfdata):
    lat = 45 + (np.arange(12) + 0.5) / 12
    lon = 5 + (np.arange(18) + 0.5) / 12
    for name, value in (("HEIGHT_TOP", 25.0), ("URBAN_DENSITY", 2.0)):
        with netCDF4.Dataset(tmp_path / f"{name}.nc", "w") as ds:
            ds.createDimension("lat", lat.size)
            ds.createDimension("lon", lon.size)
            ds.createVariable("lat", "f8", ("lat",))[:] = lat
            ds.createVariable("lon", "f8", ("lon",))[:] = lon
            ds.createVariable(name, "f4", ("lat", "lon"))[:] = value
    fields, attrs = build_surface(
        HOST, height_file=tmp_path / "HEIGHT_TOP.nc", urban_file=tmp_path / "URBAN_DENSITY.nc"
    )
    assert fields["PCT_URBAN"][1].max() > 0 and fields["PCT_URBAN"][[0, 2]].max() == 0
    trees = fields["PCT_NAT_PFT"][7] > 0
    np.testing.assert_allclose(fields["MONTHLY_HEIGHT_TOP"][6, 7][trees], 25.0)
    np.testing.assert_allclose(fields["MONTHLY_HEIGHT_BOT"][6, 7][trees], 25.0 * 11.5 / 20.0)
    assert "HD" not in attrs["urban_source"] and "URBAN_DENSITY.nc" in attrs["urban_source"]
    png = tmp_path / "pfts.png"
    assert main(["plot", "surface", str(surfdata[0]), "-o", str(png)]) == 0
    assert png.stat().st_size > 10_000


def test_host_physics_runs_on_the_surfdata_pfts_and_lai(surfdata):
    from emulators.data.forcing import generate_forcing
    from emulators.landmodel import HostModel
    from emulators.surface.hostcolumns import host_columns_from_surfdata, host_pft_percent

    path, fields, _ = surfdata
    pct = host_pft_percent(fields)
    np.testing.assert_allclose(pct.sum(axis=0), 100.0, atol=1e-10)
    model, cells = host_columns_from_surfdata(path)
    assert model.ncol == 6 and cells.shape == (6, 2)
    np.testing.assert_allclose(model.surface[:, :17] * 100, pct.reshape(17, -1).T, atol=1e-12)
    np.testing.assert_allclose(model.monthly_lai[:, 6, 7], fields["MONTHLY_LAI"][6, 7].ravel())
    lat, lon = fields["LATIXY"].ravel(), fields["LONGXY"].ravel()
    july = {k: v[181 * 48 : 182 * 48] for k, v in generate_forcing(lat, lon).items()}
    lh = model.run(july, start_doy=182, outputs=("EFLX_LH_TOT",))["EFLX_LH_TOT"].mean(0)
    default = HostModel(pct.reshape(17, -1).T, 43.0, 18.0, lat, lon)  # the host's own LAI
    lh_default = default.run(july, start_doy=182, outputs=("EFLX_LH_TOT",))["EFLX_LH_TOT"].mean(0)
    assert np.all(np.isfinite(lh)) and np.all(lh > 0)
    assert np.abs(lh - lh_default).max() > 0.1  # the file's LAI, not the host's default, drives it


@pytest.mark.mpi
def test_surfdata_on_two_ranks_is_the_serial_file(surfdata, tmp_path):
    import os
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "mpi.nc"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PRTE_"))}
    cmd = [str(root / "run" / "mpirun.sh"), "-n", "2", sys.executable, "-m", "coupler.cli"]
    args = ["surfdata", "--grid", HOST.spec, "-o", str(out), "--band-cells", "1"]
    res = subprocess.run(cmd + args, capture_output=True, text=True, env=env, cwd=root, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    with netCDF4.Dataset(out) as ds:
        for name in SURFDATA_VARS:
            np.testing.assert_array_equal(ds[name][:], np.asarray(surfdata[1][name]), err_msg=name)

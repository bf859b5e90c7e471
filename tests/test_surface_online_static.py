"""The online static surface step (`surface_static`): soil and topography exports on the host
cells each rank owns equal `landemu surfdata`'s functions for the same host grid, whatever
cells a rank owns, and a DEM that does not cover the host fails as it does offline."""

from __future__ import annotations

import netCDF4
import numpy as np
import pytest
import yaml
from mpi4py import MPI
from surface_online_setup import DAY, FINE, static_file

from coupler.clock import ModelTime
from coupler.component import Component
from coupler.errors import ConfigError, DataFileError, GridError
from coupler.grids.latlon import LatLonGrid
from emulators.surface.online_static import TOPO_EXPORTS, SurfaceStatic, host_soil, static_fields
from emulators.surface.soil import N_ELM_LAYERS, SOIL_FIELDS, SYNTHETIC_LOAM, to_elm_layers
from emulators.surface.topography import host_topography, read_etopo5

HOST = "latlon:2,3:45,46,5,6.5"  # Rhône valley to the Alps foothills, as test_surface_surfdata
EXPORTS = [*TOPO_EXPORTS, *SOIL_FIELDS]
T0 = ModelTime.from_date(2001, 1, 1)


def config(folder, params, static) -> str:
    """A host-only run whose one step is surface_static (the fine section is unused)."""
    cfg = {
        "run": {
            "name": "static",
            "calendar": "noleap",
            "start": "2001-01-01",
            "coupling_interval": DAY,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {"grid": HOST, "imports": [], "exports": EXPORTS},
        "fine": {"grid": FINE, "tile": [60, 60], "static": str(static)},
        "steps": [
            {"name": "static", "transform": "surface_static", "schedule": "once",
             "params": {"host_grid": HOST, **params}},
        ],
    }  # fmt: skip
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return str(path)


def run(cfg: str, ids: np.ndarray) -> dict[str, np.ndarray]:
    comp = Component(MPI.COMM_WORLD, cfg)
    comp.set_decomposition(ids)
    comp.advance(T0 + DAY)
    out = {}
    for name in EXPORTS:
        out[name] = np.empty((comp.registry[name].levels, comp.n_local))
        comp.get(name, out[name])
    comp.finalize()
    return out


@pytest.fixture(scope="module")
def static(tmp_path_factory):
    return static_file(tmp_path_factory.mktemp("static") / "static.nc")


@pytest.fixture(scope="module")
def offline():
    """Topography of the whole host grid by surfdata's function, and soil of the whole grid."""
    host = LatLonGrid.parse(HOST)
    topo = host_topography(read_etopo5(), host)
    return {k: v.reshape(1, -1) for k, v in topo.items()}, host_soil(host, None)


def soil_file(path, dlat=0.25, layers=6):
    """A SoilGrids-layout file (6 layers) with texture varying across cells."""
    lat = np.arange(44.0 + dlat / 2, 47.0, dlat)
    lon = np.arange(4.0 + dlat / 2, 8.0, dlat)
    y, x = np.meshgrid(lat, lon, indexing="ij")
    with netCDF4.Dataset(path, "w") as ds:
        for name, c in (("layer", None), ("lat", lat), ("lon", lon)):
            ds.createDimension(name, layers if c is None else c.size)
            if c is not None:
                ds.createVariable(name, "f8", (name,))[:] = c
        depth = np.arange(layers)[:, None, None]
        values = {
            "PCT_SAND": 20.0 + 10.0 * (x - 4.0) + depth,
            "PCT_CLAY": 10.0 + 5.0 * (y - 44.0) + 0.0 * depth,
            "ORGANIC": 40.0 / (1.0 + depth) + 0.0 * x,
        }
        for name, v in values.items():
            ds.createVariable(name, "f8", ("layer", "lat", "lon"))[:] = v
    return path


def test_static_exports_equal_surfdata_topography_and_default_soil(tmp_path, static, offline):
    topo, soil = offline
    n = LatLonGrid.parse(HOST).size
    got = run(config(tmp_path, {}, static), np.arange(1, n + 1))
    for name in TOPO_EXPORTS:
        np.testing.assert_allclose(got[name], topo[name], rtol=0, atol=1e-12, err_msg=name)
    assert got["STD_ELEV"].max() > 50.0  # real relief: the Alps foothills
    for name in SOIL_FIELDS:
        assert got[name].shape == (N_ELM_LAYERS, n)
        np.testing.assert_allclose(got[name], soil[name], rtol=0, atol=1e-12, err_msg=name)
        default = to_elm_layers(SYNTHETIC_LOAM[name][:, None])
        np.testing.assert_allclose(got[name], np.broadcast_to(default, (10, n)), atol=1e-12)


def test_static_exports_do_not_depend_on_which_cells_a_rank_owns(tmp_path, static, offline):
    """Host cells in a permuted order, and the scattered half of them a rank of a 2-rank run
    could own, get the values of the whole grid, with a user soil file as the soil."""
    topo, _ = offline
    soil = soil_file(tmp_path / "soil.nc")
    host = LatLonGrid.parse(HOST)
    whole = host_soil(host, soil)
    ids = np.array([6, 1, 3, 2, 5, 4])  # 1-based, permuted
    got = run(config(tmp_path, {"soil": str(soil)}, static), ids)
    half = static_fields(host, np.array([1, 0, 0]), np.array([2, 0, 2]), read_etopo5(), soil)
    for name in TOPO_EXPORTS:
        np.testing.assert_allclose(got[name][0], topo[name][0, ids - 1], rtol=0, atol=1e-12)
        np.testing.assert_allclose(half[name], topo[name][0, [5, 0, 2]], rtol=0, atol=1e-12)
    for name in SOIL_FIELDS:
        np.testing.assert_allclose(got[name], whole[name][:, ids - 1], rtol=0, atol=1e-12)
        np.testing.assert_allclose(half[name], whole[name][:, [5, 0, 2]], rtol=0, atol=1e-12)
    assert np.ptp(got["PCT_SAND"][0]) > 1.0  # the file's texture varies across the cells


def test_a_dem_that_does_not_cover_the_host_is_named(tmp_path, static):
    dem = tmp_path / "dem.nc"
    lat, lon = np.arange(45.05, 46.0, 0.1), np.arange(5.05, 6.0, 0.1)  # host reaches 6.5°E
    with netCDF4.Dataset(dem, "w") as ds:
        for name, c in (("lat", lat), ("lon", lon)):
            ds.createDimension(name, c.size)
            ds.createVariable(name, "f8", (name,))[:] = c
        ds.createVariable("elevation", "f8", ("lat", "lon"))[:] = 100.0
    with pytest.raises(GridError, match="covers longitudes .* the host grid needs"):
        run(config(tmp_path, {"dem": str(dem)}, static), np.arange(1, 7))


def test_a_soil_file_with_the_wrong_layers_is_named(tmp_path, static):
    soil = soil_file(tmp_path / "soil5.nc", layers=5)
    with pytest.raises(DataFileError, match="has 5 layers; the SoilGrids layout has 6"):
        run(config(tmp_path, {"soil": str(soil)}, static), np.arange(1, 7))


def test_a_host_grid_param_that_is_not_latlon_is_named():
    from coupler.clock import Schedule

    with pytest.raises(ConfigError, match="params.host_grid"):
        SurfaceStatic("static", Schedule.parse("once", "x"), params={})


def no_puts(ids: np.ndarray, step: int) -> dict[str, np.ndarray]:
    """The step has no imports (for tests/mpi/state_run.py --puts)."""
    return {}


@pytest.mark.mpi
def test_static_exports_bit_for_bit_on_1_and_2_ranks_and_equal_to_surfdata(
    tmp_path, static, offline
):
    from conftest import REPO, run_mpi

    topo, soil = offline
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"e{n}.npz"
        folder = tmp_path / f"r{n}"
        folder.mkdir()
        cfg = config(folder, {}, static)
        script = str(REPO / "tests" / "mpi" / "state_run.py")
        run_mpi(n, script, cfg, str(DAY), "1", "1", str(out), "--puts", f"{__name__}:no_puts")
        with np.load(out) as z:
            runs[n] = {k: z[k][-1] for k in z.files}
    for name in EXPORTS:
        np.testing.assert_array_equal(runs[2][name], runs[1][name], err_msg=name)
        want = topo[name] if name in TOPO_EXPORTS else soil[name]
        np.testing.assert_allclose(runs[2][name], want, rtol=0, atol=1e-12, err_msg=name)


def test_a_cells_values_depend_on_its_block_only_not_on_the_other_cells(monkeypatch):
    """Blocks of 2 host columns: a rank's scattered subset gets, bit for bit, the values of
    the whole grid computed in the same blocks (what makes any rank count give one answer)."""
    import emulators.surface.online_static as online_static

    monkeypatch.setattr(online_static, "CHUNK", 2)
    host, dem = LatLonGrid.parse(HOST), read_etopo5(lat_range=(44.0, 47.0))
    rows, cols = np.divmod(np.arange(host.size), host.nlon)
    whole = static_fields(host, rows, cols, dem, None)
    subset = np.array([5, 0, 4])  # row 0: only column 0 of its block [0, 2)
    part = static_fields(host, rows[subset], cols[subset], dem, None)
    for name in EXPORTS:
        np.testing.assert_array_equal(part[name], whole[name][..., subset], err_msg=name)
    assert part["TOPO"].shape == (3,) and part["PCT_SAND"].shape == (N_ELM_LAYERS, 3)

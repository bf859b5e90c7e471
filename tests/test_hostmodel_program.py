"""The ELM/ILS-style host program (landemu_landmodel): bit-for-bit on 1 and 2 ranks and
across a restart, the same fluxes as the ctypes path, clear errors for bad input, and LAI
from landemu changing the latent heat it produces."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from conftest import MPIRUN, REPO, base_config, write_config

from emulators.data.forcing import VAR_NAMES, CellSet, write_forcing

pytestmark = pytest.mark.fortran

NS = 48
START_DOY = 152  # 1 June


def program() -> Path:
    path = Path(
        os.environ.get("LANDEMU_LANDMODEL_EXE", REPO / "build/install/bin/landemu_landmodel")
    )
    if not path.exists():
        pytest.fail(f"{path} is not built: run `make fortran`")
    return path


def run_program(
    folder: Path, nranks: int, check: bool = True, **values
) -> subprocess.CompletedProcess:
    """Write a &landmodel namelist in `folder` and run the program on `nranks` ranks."""
    lines = []
    for key, val in values.items():
        if isinstance(val, bool):
            lines.append(f"  {key} = {'.true.' if val else '.false.'}")
        elif isinstance(val, str):
            lines.append(f"  {key} = '{val}'")
        elif isinstance(val, dict):
            lines.extend(f"  {key}({k}) = {v}" for k, v in val.items())
        else:
            lines.append(f"  {key} = {val}")
    nml = folder / f"{values.get('history_file', 'run')}.nml"
    nml.write_text("&landmodel\n" + "\n".join(lines) + "\n/\n")
    # a clean MPI environment: the test process may itself be an MPI singleton (mpi4py)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "OPAL_"))}
    proc = subprocess.run(
        [str(MPIRUN), "-n", str(nranks), str(program()), str(nml)],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"landemu_landmodel failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def read_all(path: Path) -> dict[str, np.ndarray]:
    with netCDF4.Dataset(path) as ds:
        return {v: ds[v][:].filled(np.nan) for v in ds.variables}


def assert_same_files(a: Path, b: Path) -> None:
    da, db = read_all(a), read_all(b)
    assert da.keys() == db.keys()
    for v in da:
        np.testing.assert_array_equal(da[v], db[v], err_msg=v)


PFTS = {0: 10, 7: 30, 13: 60}  # bare, deciduous temperate tree, C3 grass (%)


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    """A 0.5° 4 x 4 domain in the Alps with two ocean cells, and its forcing for 2001."""
    from coupler.grids.host import HostGrid
    from coupler.grids.latlon import LatLonGrid

    folder = tmp_path_factory.mktemp("landmodel")
    mask = np.ones((4, 4), int)
    mask[0, 0] = mask[3, 2] = 0
    HostGrid.from_latlon(LatLonGrid.parse("latlon:4,4:46,48,6,8"), mask=mask).write_domain(
        folder / "domain.nc"
    )
    write_forcing(folder / "forcing.nc", CellSet.from_domain(folder / "domain.nc"), 2001, 1)
    return folder


def standalone(case: Path, name: str, nranks: int = 1, **extra) -> Path:
    values = dict(
        domain_file="domain.nc",
        forcing_file="forcing.nc",
        ndays=6,
        start_ymd=20010601,
        history_file=f"{name}.nc",
        restart_out=f"{name}_r.nc",
        default_pct_nat_pft=PFTS,
    )
    values.update(extra)
    run_program(case, nranks, **values)
    return case / f"{name}.nc"


def test_program_is_bit_for_bit_on_one_and_two_ranks(case):
    h1 = standalone(case, "one", 1)
    h2 = standalone(case, "two", 2, decomposition="roundrobin")
    assert_same_files(h1, h2)
    assert_same_files(case / "one_r.nc", case / "two_r.nc")
    fsh = read_all(h1)["FSH"]
    assert np.isnan(fsh[:, 0, 0]).all() and np.isfinite(fsh[:, 1, 1]).all()  # ocean / land


def test_program_restart_continues_bit_for_bit(case):
    whole = read_all(standalone(case, "whole", 1))
    standalone(case, "first", 1, ndays=3)
    second = read_all(
        standalone(case, "second", 2, ndays=3, start_ymd=20010604, restart_in="first_r.nc")
    )
    for v in ("FSH", "EFLX_LH_TOT", "H2OSOI", "TSKIN", "TWS"):
        np.testing.assert_array_equal(second[v], whole[v][3:], err_msg=v)
    assert_same_files(case / "whole_r.nc", case / "second_r.nc")


def test_program_and_ctypes_paths_give_identical_fluxes(case):
    from emulators.landmodel import HostModel

    hist = read_all(standalone(case, "ctypes", 1))
    with netCDF4.Dataset(case / "domain.nc") as d:
        land = np.nonzero(d["mask"][:].ravel())[0]
        lat, lon = d["yc"][:].ravel()[land], d["xc"][:].ravel()[land]
    k0, n = (START_DOY - 1) * NS, 6 * NS
    with netCDF4.Dataset(case / "forcing.nc") as f:
        forc = {
            v: np.asarray(f[v][k0 : k0 + n], np.float64).reshape(n, -1)[:, land] for v in VAR_NAMES
        }
    pct = np.zeros((land.size, 17))
    for p, v in PFTS.items():
        pct[:, p] = v
    model = HostModel(pct, 40.0, 20.0, lat, lon)
    model.init_state(tinit=np.clip(forc["TBOT"][:NS].sum(axis=0) / NS, 250, 305), wetness=0.6)
    out = model.run(forc, start_doy=START_DOY, outputs=["FSH", "EFLX_LH_TOT", "GPP", "QDRAI"])
    for v, series in out.items():
        acc = np.zeros(land.size)
        daily = []
        for k in range(n):  # the program's order of summation
            acc = acc + series[k]
            if (k + 1) % NS == 0:
                daily.append(acc / NS)
                acc = np.zeros(land.size)
        np.testing.assert_array_equal(np.array(daily), hist[v].reshape(6, -1)[:, land], err_msg=v)


def _bad_forcing(case: Path, name: str, drop: str | None = None, units: dict | None = None) -> str:
    with netCDF4.Dataset(case / "forcing.nc") as a, netCDF4.Dataset(case / name, "w") as b:
        for d, dim in a.dimensions.items():
            b.createDimension(d, len(dim))
        for v, var in a.variables.items():
            if v == drop:
                continue
            w = b.createVariable(v, var.dtype, var.dimensions)
            w.setncatts({k: var.getncattr(k) for k in var.ncattrs()})
            if units and v in units:
                w.units = units[v]
            w[:] = var[:]
    return name


@pytest.mark.parametrize(
    ("what", "kwargs", "message"),
    [
        ("missing", {"drop": "WIND"}, r"has no variable 'WIND'"),
        ("units", {"units": {"QBOT": "g/kg"}}, r"QBOT has units 'g/kg'; expected 'kg kg-1'"),
    ],
)
def test_program_rejects_bad_forcing_with_a_clear_message(case, what, kwargs, message):
    import re

    bad = _bad_forcing(case, f"bad_{what}.nc", **kwargs)
    proc = run_program(
        case,
        1,
        check=False,
        domain_file="domain.nc",
        forcing_file=bad,
        ndays=1,
        history_file=f"bad_{what}_h.nc",
    )
    assert proc.returncode != 0
    assert re.search(message, proc.stderr), proc.stderr
    assert not (case / f"bad_{what}_h.nc").exists()


def test_program_rejects_a_domain_that_does_not_match_the_forcing(case):
    from coupler.grids.host import HostGrid
    from coupler.grids.latlon import LatLonGrid

    HostGrid.from_latlon(LatLonGrid.parse("latlon:3,4:46,47.5,6,8")).write_domain(
        case / "small_domain.nc"
    )
    proc = run_program(
        case,
        1,
        check=False,
        domain_file="small_domain.nc",
        forcing_file="forcing.nc",
        ndays=1,
        history_file="small_h.nc",
    )
    assert proc.returncode != 0
    assert "has 16 cells (16 x 1) but the domain 'small_domain.nc' has 12 (4 x 3)" in proc.stderr
    HostGrid.from_latlon(LatLonGrid.parse("latlon:4,4:40,42,6,8")).write_domain(
        case / "moved_domain.nc"
    )
    proc = run_program(
        case,
        1,
        check=False,
        domain_file="moved_domain.nc",
        forcing_file="forcing.nc",
        ndays=1,
        history_file="moved_h.nc",
    )
    assert "does not match the domain 'moved_domain.nc': cell id 1 is at 46.2500" in proc.stderr


def test_program_rejects_a_run_outside_the_forcing_period(case):
    proc = run_program(
        case,
        1,
        check=False,
        domain_file="domain.nc",
        forcing_file="forcing.nc",
        ndays=10,
        start_ymd=20011225,
        history_file="late_h.nc",
    )
    assert proc.returncode != 0
    assert (
        "covers 17520 steps of 1800 s from 2001-01-01 00:00:00; the run needs 480 steps "
        "from 2001-12-25" in proc.stderr
    )


# ---------------------------------------------------------------------------------------------
# coupled to landemu
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def coupled_case(tmp_path_factory, coast_static, coast_domain) -> Path:
    """The coast window: landemu's GSI phenology exports LAI to the host (daily coupling)."""
    folder = tmp_path_factory.mktemp("coupled")
    cfg = base_config(
        coast_static,
        coast_domain,
        folder / "out",
        run={"start": "2001-05-01"},
        host={"imports": ["TBOT", "PRECTmms"], "exports": ["LAI"]},
        steps=[{"name": "phenology", "transform": "phenology_gsi", "schedule": "daily"}],
    )
    write_config(folder / "landemu.yaml", cfg)
    write_forcing(folder / "forcing.nc", CellSet.from_domain(coast_domain), 2001, 1)
    return folder


def coupled(folder: Path, coast_domain: Path, name: str, nranks: int, **extra) -> dict:
    values = dict(
        config="landemu.yaml",
        domain_file=str(coast_domain),
        forcing_file="forcing.nc",
        ndays=8,
        start_ymd=20010501,
        history_file=f"{name}.nc",
        landemu_restart="none",
        default_pct_nat_pft=PFTS,
    )
    values.update(extra)
    proc = run_program(folder, nranks, **values)
    assert "landemu_landmodel: uses LAI" in proc.stdout
    return read_all(folder / f"{name}.nc")


def test_coupled_run_is_bit_for_bit_on_one_and_two_ranks(coupled_case, coast_domain):
    one = coupled(coupled_case, coast_domain, "c1", 1)
    two = coupled(coupled_case, coast_domain, "c2", 2)
    for v in one:
        np.testing.assert_array_equal(one[v], two[v], err_msg=v)


def test_lai_from_landemu_changes_the_hosts_latent_heat(coupled_case, coast_domain):
    got = coupled(coupled_case, coast_domain, "lai", 1)
    const = coupled(coupled_case, coast_domain, "const", 1, constant_lai=0.5)
    land = np.isfinite(got["EFLX_LH_TOT"][0])
    # the host used exactly the LAI landemu sent (shared among PFTs, cell mean preserved)
    np.testing.assert_allclose(got["LAI"][:, land], got["landemu_LAI"][:, land], rtol=1e-12)
    assert got["landemu_LAI"][:, land].mean() > 1.0
    np.testing.assert_allclose(const["LAI"][:, land], 0.5, rtol=1e-12)
    d_le = got["EFLX_LH_TOT"][:, land].mean() - const["EFLX_LH_TOT"][:, land].mean()
    d_tr = got["QVEGT"][:, land].mean() - const["QVEGT"][:, land].mean()
    assert d_le > 2.0 and d_tr > 0.0  # more leaves, more transpiration and latent heat

"""The Fortran side: the `landemu` module and the Fortran test host, run under MPI.

Every program here runs in a hostile environment — PATH without the project's venv,
PYTHONHOME and PYTHONPATH pointing nowhere — to show that liblandemu.so finds its own
Python environment whatever the host's. The test host writes its exports (and the imports
it put) with 17 significant digits, so comparing the text of two runs compares the
doubles bit for bit.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import pytest
from conftest import COAST_HOST, MPIRUN, REPO
from test_capi import onnx_config, write_three_channel_model

pytestmark = pytest.mark.fortran

INSTALL = REPO / "build" / "install"
BIN = INSTALL / "bin"
HOSTILE_ENV = {
    "PATH": "/usr/bin:/bin",
    "HOME": os.environ.get("HOME", "/root"),
    "PYTHONHOME": "/nonexistent/python-home",
    "PYTHONPATH": "/nonexistent/python-path",
    "LANG": "C.UTF-8",
}


def program(name: str) -> Path:
    path = BIN / name
    if not path.exists():
        pytest.fail(f"{path} is not built: run `make fortran`")
    return path


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 300):
    proc = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=HOSTILE_ENV,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        pytest.fail(
            f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


def run_testhost(folder: Path, nranks: int, config: Path, check: bool = True, **namelist):
    """Write a &testhost namelist in `folder` and run the test host on `nranks` ranks."""
    folder.mkdir(parents=True, exist_ok=True)
    values = {
        "config": str(config),
        "start_ymd": 20010101,
        "ndays": 3,
        "exports_file": "exports.txt",
        "dump_every": 1,
        **namelist,
    }
    lines = [f"  {k} = {_fortran(v)}" for k, v in values.items()]
    (folder / "testhost.nml").write_text("&testhost\n" + "\n".join(lines) + "\n/\n")
    return run(
        [MPIRUN, "-n", nranks, program("landemu_testhost"), "testhost.nml"], folder, check=check
    )


def _fortran(value) -> str:
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, (list, tuple)):
        return ", ".join(_fortran(v) for v in value)
    return repr(value)


def lines(path: Path, tag: str) -> list[str]:
    """The exports-file lines of one kind ('get' exports or 'put' imports)."""
    return [line for line in path.read_text().splitlines() if line.split()[2] == tag]


def domain_config(make_config, name: str, **overrides) -> Path:
    """The coast configuration (domain file host grid) with its own output folder."""
    out = Path(make_config().parent) / f"out_{Path(name).stem}"
    run = {"output_dir": str(out), **overrides.pop("run", {})}
    return make_config(name, run=run, **overrides)


# ---- reproducibility ---------------------------------------------------------------------


@pytest.mark.mpi
def test_exports_are_bit_for_bit_identical_on_1_2_and_4_ranks(make_config, coast_domain, tmp_path):
    config = domain_config(make_config, "bfb.yaml")
    layouts = [(1, "block"), (2, "block"), (4, "roundrobin")]
    exports = {}
    for nranks, decomposition in layouts:
        folder = tmp_path / f"ranks{nranks}"
        proc = run_testhost(
            folder,
            nranks,
            config,
            domain_file=str(coast_domain),
            decomposition=decomposition,
            ndays=4,
            roundtrip_import="TBOT",
            roundtrip_export="TBOT_FINE_CHECK",
            roundtrip_tolerance=1e-12,
        )
        assert "checks failed 0" in proc.stdout
        exports[nranks] = lines(folder / "exports.txt", "get")
    assert len(exports[1]) == 4 * 12 * 2  # days x land cells x (LAI, TBOT_FINE_CHECK)
    assert exports[2] == exports[1]
    assert exports[4] == exports[1]


@pytest.mark.mpi
def test_2n_steps_equal_n_steps_restart_n_steps_bit_for_bit(make_config, coast_domain, tmp_path):
    n = 3
    grid = {
        "domain_file": str(coast_domain),
        "decomposition": "roundrobin",
        "roundtrip_import": "TBOT",
        "roundtrip_export": "TBOT_FINE_CHECK",
        "roundtrip_tolerance": 1e-12,
    }
    straight = run_testhost(
        tmp_path / "2n", 2, domain_config(make_config, "2n.yaml"), ndays=2 * n, **grid
    )
    assert "checks failed 0" in straight.stdout
    restart = tmp_path / "first_half" / "landemu.r.nc"
    run_testhost(
        tmp_path / "first_half",
        2,
        domain_config(make_config, "first.yaml"),
        ndays=n,
        restart_file=str(restart),
        **grid,
    )
    assert restart.is_file()
    second = domain_config(make_config, "second.yaml", restart={"read": str(restart)})
    run_testhost(tmp_path / "second_half", 2, second, start_ymd=20010101 + n, ndays=n, **grid)

    whole = lines(tmp_path / "2n" / "exports.txt", "get")
    resumed = lines(tmp_path / "second_half" / "exports.txt", "get")
    assert len(resumed) == n * 12 * 2
    assert whole[-len(resumed) :] == resumed


# ---- layout through the real Fortran module ----------------------------------------------


@pytest.mark.mpi
def test_fortran_n_by_nlev_arrays_reach_landemu_as_nlev_by_n(make_config, coast_domain, tmp_path):
    """H2OSOI(n_local, 10) put from Fortran must appear in landemu's history as (level, cell)."""
    out = tmp_path / "out_layout"
    config = make_config(
        "layout.yaml",
        run={"output_dir": str(out)},
        host={"imports": ["TBOT", "PRECTmms", "H2OSOI"]},
        history={"fields": ["H2OSOI"], "frequency": "daily"},
    )
    folder = tmp_path / "layout"
    run_testhost(
        folder, 2, config, domain_file=str(coast_domain), decomposition="roundrobin", ndays=2
    )
    put = {}
    for line in lines(folder / "exports.txt", "put"):
        ymd, _, _, name, cell, level, value = line.split()
        if name == "H2OSOI":
            put[int(ymd), int(cell), int(level)] = float(value)
    assert len(put) == 2 * 12 * 10
    # Asymmetric: the 10 levels of a cell differ, and so do the cells of a level.
    day, cell, _ = next(iter(put))
    assert len({v for (d, c, _), v in put.items() if (d, c) == (day, cell)}) == 10
    assert len({v for (d, _, k), v in put.items() if (d, k) == (day, 1)}) == 12

    (history,) = out.glob("*.h.*.nc")
    with netCDF4.Dataset(history) as ds:
        h2osoi = np.ma.filled(ds["H2OSOI"][:], np.nan)  # (time, level, lat, lon)
    h2osoi = h2osoi.reshape(h2osoi.shape[0], 10, -1)  # cell id - 1 = j * nlon + i
    for (ymd, cell, level), value in put.items():
        assert h2osoi[ymd - 20010102, level - 1, cell - 1] == value, (ymd, cell, level)


# ---- bad input from Fortran; the host goes on or stops -----------------------------------


@pytest.mark.mpi
def test_fortran_module_reports_bad_input_and_the_host_goes_on(make_config, tmp_path):
    # All 16 cells of the regular host grid are land for the host; with dstarea, cells over
    # the sea get LAI 0 (the round-trip check, which needs land under every cell, is off).
    config = make_config(
        "api.yaml",
        host={"grid": COAST_HOST, "exports": ["LAI"]},
        remap={"normalization": "dstarea"},
        history={"fields": ["LAI"]},
        steps=[{"name": "phenology", "transform": "phenology_gsi", "schedule": "daily"}],
    )
    # Configurations landemu_init must refuse, each with the culprit its message must name.
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"not an onnx model" * 10)
    mismatched = write_three_channel_model(tmp_path / "three_channels.onnx")
    bad = {
        make_config("typo.yaml", run={"calender": "noleap"}): "calender",
        onnx_config(make_config, tmp_path / "missing.onnx"): "missing.onnx",
        onnx_config(make_config, corrupt): "corrupt.onnx",
        onnx_config(make_config, mismatched): "3 channels",
    }
    pairs = [str(x) for item in bad.items() for x in item]
    proc = run([MPIRUN, "-n", 2, program("landemu_api_checks"), config, 16, *pairs], tmp_path)
    assert "0 check(s) failed" in proc.stdout, proc.stdout
    assert proc.stdout.count("ok: ") == 24 + len(bad) and "FAILED" not in proc.stdout
    # The one call without ierr printed its message and returned.
    assert "landemu error (status 4): landemu_put: unknown field 'NOT_A_FIELD'" in proc.stderr
    # landemu_write_restart() without a path: the default name at the model time reached.
    assert (tmp_path / "out" / "t.landemu.r.2001-01-02-00000.nc").is_file()


@pytest.mark.mpi
def test_testhost_stops_with_landemus_message_on_a_domain_mismatch(make_config, tmp_path):
    # The host's grid has 5 x 4 cells, landemu's domain file 4 x 4: ids 17..20 do not exist.
    config = domain_config(make_config, "mismatch.yaml")
    proc = run_testhost(
        tmp_path / "mismatch",
        2,
        config,
        check=False,
        nlat=5,
        nlon=4,
        south=47.0,
        north=49.5,
        west=-5.0,
        east=-3.0,
    )
    assert proc.returncode != 0
    assert "landemu_set_decomposition failed with status 5" in proc.stderr, proc.stderr
    assert "coast_domain.nc" in proc.stderr


@pytest.mark.mpi
def test_on_error_abort_ends_the_run_with_mpi_abort_and_the_message(make_config, tmp_path):
    config = domain_config(make_config, "abort.yaml", run={"on_error": "abort"})
    proc = run_testhost(
        tmp_path / "abort",
        2,
        config,
        check=False,
        nlat=5,
        nlon=4,
        south=47.0,
        north=49.5,
        west=-5.0,
        east=-3.0,
    )
    assert proc.returncode != 0
    assert "on_error = abort: calling MPI_Abort with error code 5" in proc.stderr
    assert "coast_domain.nc" in proc.stderr
    assert "landemu test host" not in proc.stderr  # landemu stopped it, not the host


# ---- loading the library ---------------------------------------------------------------------


def test_host_loading_the_library_with_rtld_local_works(make_config, tmp_path):
    config = make_config("dlopen.yaml")
    library = REPO / "build" / "lib" / "liblandemu.so"
    proc = run([program("landemu_dlopen_local"), library, config], tmp_path)
    assert "0 check(s) failed" in proc.stdout
    assert proc.stdout.count("ok: ") == 4, proc.stdout


CONSUMER = """\
program consumer
   use landemu
   implicit none
   integer :: ierr
   real(8) :: tbot(3) = 280.0d0
   call landemu_put("TBOT", tbot, ierr)
   if (ierr /= LANDEMU_ERR_CALL_ORDER) stop 1
   print '(a)', landemu_last_error_message()
end program consumer
"""


def test_installed_package_builds_a_host_with_cmake_and_pkg_config(tmp_path):
    """find_package(landemu) and pkg-config each build a Fortran program that runs."""
    (tmp_path / "consumer.f90").write_text(CONSUMER)
    (tmp_path / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.20)\nproject(consumer LANGUAGES Fortran)\n"
        "find_package(landemu 0.1 REQUIRED)\nadd_executable(consumer consumer.f90)\n"
        "target_link_libraries(consumer PRIVATE landemu::landemu_fortran)\n"
    )
    build = tmp_path / "build"
    run(["cmake", "-S", tmp_path, "-B", build, f"-DCMAKE_PREFIX_PATH={INSTALL}"], tmp_path)
    run(["cmake", "--build", build], tmp_path)
    expected = "landemu_put: called before landemu_init"
    assert run([build / "consumer"], tmp_path).stdout.strip() == expected

    env = {**os.environ, "PKG_CONFIG_PATH": str(INSTALL / "lib" / "pkgconfig")}
    flags = subprocess.run(
        ["pkg-config", "--cflags", "--libs", "landemu"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    run(["gfortran", tmp_path / "consumer.f90", "-o", tmp_path / "consumer_pc", *flags], tmp_path)
    assert run([tmp_path / "consumer_pc"], tmp_path).stdout.strip() == expected

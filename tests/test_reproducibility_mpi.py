"""Reproducibility tests that can fail: host cells straddle tiles owned by different ranks
(70×50 fine tiles under 0.5° = 60×60-cell host cells), so a host cell's value sums partial
contributions from several ranks; any rank-dependent summation order changes its bits.
Exact lat-lon weights and map files, 1–4 ranks; ranks without tiles or host cells; restart
mid-accumulation (hourly coupling, daily steps) read on another rank count."""

from pathlib import Path

import netCDF4
import numpy as np
import pytest
from conftest import COAST_FINE, COAST_HOST, REPO, run_mpi
from onnx_graphs import affine_columns
from test_component_mapfiles import unstructured

from coupler.cli import main as landemu
from coupler.clock import ModelTime

SCRIPT = str(REPO / "tests" / "mpi" / "component_run.py")
STRADDLING_TILES = [70, 50]
pytestmark = pytest.mark.mpi


def run(nranks: int, config: Path, first: int, last: int, out: Path, *extra: str) -> dict:
    """Run component_run.py; its exports by host id, checked to come from `nranks` ranks."""
    run_mpi(nranks, SCRIPT, str(config), str(first), str(last), str(out), *extra)
    assert Path(f"{out}.nranks").read_text() == str(nranks)
    with np.load(out) as z:
        return {k: z[k] for k in z.files}


def assert_same(got: dict, want: dict, what: str) -> None:
    assert set(got) == set(want)
    for name, values in want.items():
        np.testing.assert_array_equal(got[name], values, err_msg=f"{name}: {what}")


def history_values(out_dir: Path) -> dict[str, np.ndarray]:
    """The history file's records, with times in days since 2001-01-01."""
    (path,) = sorted(out_dir.glob("*.landemu.h.*.nc"))
    with netCDF4.Dataset(path) as ds:
        origin = ModelTime.parse(ds["time"].units.removeprefix("days since "))
        days = (origin - ModelTime.from_date(2001, 1, 1)) / 86400.0
        values = {k: np.asarray(ds[k][:]) for k in ("LAI", "TBOT")}
        values["time"] = np.asarray(ds["time"][:]) + days
        values["time_bounds"] = np.asarray(ds["time_bounds"][:]) + days
    return values


@pytest.mark.slow
def test_exports_are_bit_for_bit_on_1_to_4_ranks_when_host_cells_straddle_tiles(
    make_config, tmp_path
):
    ref = None
    for n in (1, 2, 3, 4):
        cfg = make_config(
            f"c{n}.yaml",
            run={"output_dir": str(tmp_path / f"o{n}")},
            fine={"tile": STRADDLING_TILES},
        )
        got = run(n, cfg, 1, 4, tmp_path / f"e{n}.npz")
        if ref is None:
            ref = got
            assert np.nanmax(ref["LAI"]) > 0 and ref["LAI"].shape == (4, 1, 16)
        else:
            assert_same(got, ref, f"{n} ranks vs 1")


@pytest.mark.slow
def test_map_file_path_is_bit_for_bit_on_1_to_4_ranks(make_config, coast_domain, tmp_path):
    scrip = unstructured(coast_domain).write_scrip(tmp_path / "host_scrip.nc")
    h2f, f2h = tmp_path / "h2f.nc", tmp_path / "f2h.nc"
    common = ["--normalization", "dstarea", "--no-progress"]
    assert landemu(["regrid", COAST_HOST, COAST_FINE, "-o", str(h2f), *common]) == 0
    assert landemu(["regrid", COAST_FINE, COAST_HOST, "-o", str(f2h), *common]) == 0
    ref = None
    for n in (1, 2, 3, 4):
        cfg = make_config(
            f"m{n}.yaml",
            run={"output_dir": str(tmp_path / f"o{n}")},
            host={"grid": str(scrip)},
            fine={"tile": STRADDLING_TILES},
            remap={"host_to_fine_map": str(h2f), "fine_to_host_map": str(f2h)},
        )
        got = run(n, cfg, 1, 3, tmp_path / f"m{n}.npz")
        if ref is None:
            ref = got
            assert np.nanmax(ref["LAI"]) > 0
        else:
            assert_same(got, ref, f"map files, {n} ranks vs 1")


@pytest.mark.slow
def test_ranks_without_tiles_or_host_cells_work_bit_for_bit(make_config, tmp_path):
    """One 240×240 tile (ranks 1, 2 own none) and rank 1 owns no host cells, with a
    host-column ONNX step next to the fine steps."""
    model = affine_columns(tmp_path / "affine.onnx", [0.5, -0.25], 1.0)
    host_step = {
        "name": "net",
        "onnx": str(model),
        "grid": "host",
        "schedule": "daily",
        "inputs": [
            {"name": "TBOT", "units": "K", "offset": 273.15, "scale": 10.0},
            {"name": "PRECTmms", "units": "kg m-2 s-1", "scale": 1e-5},
        ],
        "outputs": [{"name": "NET_OUT", "units": "1", "scale": 2.0, "offset": 1.0}],
    }
    steps = [
        {"name": "phenology", "transform": "phenology_gsi", "schedule": "daily"},
        {"name": "roundtrip", "transform": "roundtrip", "schedule": "daily"},
        host_step,
    ]
    ref = None
    for n in (1, 2, 3):
        cfg = make_config(
            f"e{n}.yaml",
            run={"output_dir": str(tmp_path / f"o{n}")},
            fine={"tile": [240, 240]},
            steps=steps,
            host={"exports": ["LAI", "TBOT_FINE_CHECK", "NET_OUT"]},
        )
        got = run(n, cfg, 1, 3, tmp_path / f"e{n}.npz", "--empty-rank", "1")
        if ref is None:
            ref = got
            owned = np.isfinite(ref["LAI"])  # the active host cells (12 of 16)
            assert owned.sum() == 12 * 3 and np.isfinite(ref["NET_OUT"][owned]).all()
        else:
            assert_same(got, ref, f"{n} ranks (no tiles on ranks >= 1, no host cells on rank 1)")


@pytest.mark.slow
def test_restart_mid_accumulation_equals_the_uninterrupted_run_on_another_rank_count(
    make_config, tmp_path
):
    """Hourly coupling, daily steps, history every 2 days: the restart is written at 05:00
    of day 3 (accumulators of the daily mean and of the history period half full) on 3
    ranks and read on 2; exports and the history file equal the uninterrupted run."""
    hourly = ["--steps-per-day", "24"]

    def config(name: str, **extra):
        return make_config(
            f"{name}.yaml",
            run={"output_dir": str(tmp_path / name), "coupling_interval": 3600},
            fine={"tile": STRADDLING_TILES},
            history={"frequency": "every 2 days"},
            **extra,
        )

    whole = run(1, config("whole"), 1, 4, tmp_path / "whole.npz", *hourly)
    restart = tmp_path / "mid.nc"
    first = run(
        3,
        config("first"),
        1,
        2,
        tmp_path / "first.npz",
        *hourly,
        "--stop-hour",
        "5",
        "--write-restart",
        str(restart),
    )
    second = run(
        2,
        config("second", restart={"read": str(restart)}),
        3,
        4,
        tmp_path / "second.npz",
        *hourly,
        "--start-hour",
        "6",
    )
    for name in whole:
        np.testing.assert_array_equal(
            np.concatenate([first[name], second[name]]), whole[name], err_msg=name
        )
    want = history_values(tmp_path / "whole")
    got = [history_values(tmp_path / k) for k in ("first", "second")]
    for key in want:
        np.testing.assert_array_equal(np.concatenate([g[key] for g in got]), want[key], key)

"""The yearly land-use step coupled, under mpirun: a 1° host (5 × 5 cells) over a 0.05° grid
(100 × 100, real data of 40–45° N, 95–90° W) whose host's cropland grows 0.1 a year.
Tiles of 40 px on 1, 2 and 4 ranks equal one whole-region tile (fine classes and host
fractions, bit for bit), and a run split by a restart (3 ranks, then 2) equals the
unbroken one."""

import numpy as np
import pytest
import yaml
from conftest import REPO, run_mpi

from emulators.lulc.infer import MODEL_PATH
from emulators.lulc.scenario import CROP, cropland_growth, host_fractions
from emulators.lulc.staticfile import grid_string, prior_maps, write_static_file
from tests.test_lulc_online import open_cube

SCRIPT = str(REPO / "tests" / "mpi" / "lulc_online_run.py")
REGION = (40.0, 45.0, -95.0, -90.0)
CELL = 20  # 1° host cells over the 0.05° grid
LAST = 5  # 73-day steps: the step runs on 2001-01-01 (first advance) and 2002-01-01
pytestmark = [
    pytest.mark.mpi,
    pytest.mark.slow,
    pytest.mark.skipif(not MODEL_PATH.is_file(), reason="no shipped lulc.onnx"),
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The static file and the scenario (2 years, cropland +0.1 a year)."""
    cube = open_cube(tmp_path_factory)
    folder = tmp_path_factory.mktemp("lulc_online")
    static = write_static_file(cube, REGION, folder / "lc_static.nc")
    r0, c0 = round((REGION[0] + 90) / 0.05), round((REGION[2] + 180) / 0.05)
    land_use = prior_maps(cube.window(r0, r0 + 100, c0, c0 + 100))[0]
    scenario = cropland_growth(host_fractions(land_use, REGION[0], CELL), 2, 0.1)
    np.save(folder / "scenario.npy", scenario)
    return folder, static, scenario


def config(folder, static, name: str, tile: int, **more):
    path = folder / f"{name}.yaml"
    cfg = {
        "run": {
            "name": name,
            "calendar": "noleap",
            "start": "2001-01-01",
            "coupling_interval": 73 * 86400,
            "output_dir": str(folder / name),
            "log_level": "warning",
        },
        "host": {
            "grid": "latlon:5,5:40,45,-95,-90",
            "imports": ["LANDUSE_FRAC"],
            "exports": ["LANDUSE_FINE", "LANDCOVER_FINE"],
        },
        "fine": {"grid": grid_string(REGION)},
        "grids": {"lc": {"grid": grid_string(REGION), "tile": [tile, tile], "static": str(static)}},
        "steps": [
            {
                "name": "lulc",
                "transform": "lulc_yearly",
                "schedule": "yearly on 01-01",
                "aggregation": {"LANDUSE_FRAC": "last"},
                "params": {"cell": CELL},
            }
        ],
        **more,
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return str(path)


def run(n, cfg, folder, out, first=1, last=LAST, *extra):
    path = str(folder / f"{out}.npz")
    run_mpi(n, SCRIPT, cfg, str(folder / "scenario.npy"), str(first), str(last), path, *extra)
    with np.load(path) as z:
        exports = {k: z[k] for k in z.files}
    return exports, np.load(path + ".fine.npy")


@pytest.fixture(scope="module")
def runs(setup):
    """One whole-region tile on 1 rank, and 40-px tiles on 1, 2 and 4 ranks."""
    folder, static, _ = setup
    out = {"whole": run(1, config(folder, static, "whole", 100), folder, "whole")}
    for n in (1, 2, 4):
        out[n] = run(n, config(folder, static, f"t{n}", 40), folder, f"t{n}")
    return out


def test_yearly_step_bit_for_bit_on_1_2_4_ranks_equal_to_one_whole_tile(setup, runs):
    whole, whole_fine = runs["whole"]
    assert whole_fine.min() >= 0  # every pixel mapped
    for n in (1, 2, 4):
        exports, fine = runs[n]
        assert np.mean(fine == whole_fine) >= 0.995, n
        np.testing.assert_array_equal(fine, whole_fine, err_msg=f"{n} ranks")
        for name, values in whole.items():
            np.testing.assert_array_equal(exports[name], values, err_msg=f"{name}, {n} ranks")
    # the host receives the fine map's fractions, which follow the scenario's cropland
    lu = whole["LANDUSE_FINE"]  # (steps, 8, 25)
    np.testing.assert_allclose(lu.sum(axis=1), 1.0, atol=1e-9)
    scenario = setup[2]
    for step, year in ((0, 0), (4, 1)):  # after the runs of 2001 and 2002
        np.testing.assert_allclose(lu[step, CROP], scenario[year, CROP], atol=0.01)


def test_yearly_step_bit_for_bit_across_a_restart(setup, runs):
    folder, static, _ = setup
    ref, ref_fine = runs[2]
    restart = folder / "mid.nc"
    first, _ = run(
        3, config(folder, static, "a", 40), folder, "a", 1, 3, "--write-restart", str(restart)
    )
    cfg_b = config(folder, static, "b", 40, restart={"read": str(restart)})
    second, fine = run(2, cfg_b, folder, "b", 4, LAST)
    np.testing.assert_array_equal(fine, ref_fine)
    for name, values in ref.items():
        joined = np.concatenate([first[name], second[name]])
        np.testing.assert_array_equal(joined, values, err_msg=name)

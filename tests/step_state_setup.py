"""A small configuration for the step-contract tests: a 0.5° host (4 × 4 cells) over a
1/120° fine grid (240 × 240) cut into 70 × 50 tiles, which do not line up with the host
cells, and no static file (every fine cell is land). Steps run small ONNX graphs whose
outputs are known analytically (tests/onnx_graphs.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from onnx_graphs import add_constant_image, window_sum

HOST = "latlon:4,4:47,49,-5,-3"
FINE = "latlon:240,240:47,49,-5,-3"
WINDOW = 48
HALF_HOUR = 1800


def config(folder: Path, steps: list, exports, imports=("TBOT",), interval=HALF_HOUR, **more):
    """Write `folder`/cfg.yaml and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = {
        "run": {
            "name": "s",
            "calendar": "noleap",
            "start": "2001-01-01",
            "coupling_interval": interval,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {"grid": HOST, "imports": list(imports), "exports": exports},
        "fine": {"grid": FINE, "tile": [70, 50]},
        "steps": steps,
        **more,
    }
    path = folder / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def counter_step(folder: Path, schedule: str = "daily", init=10.0) -> dict:
    """A fine-grid autoregressive counter: COUNT = previous COUNT + 1 (first: init + 1)."""
    model = add_constant_image(folder / "counter.onnx", 1.0)
    return {
        "name": "counter",
        "onnx": str(model),
        "grid": "fine",
        "schedule": schedule,
        "inputs": [{"name": "COUNT", "units": "1", "from": "previous", "init": init}],
        "outputs": [{"name": "COUNT", "units": "1"}],
    }


def window_step(folder: Path) -> dict:
    """A host-column step: TSUM = the sum of TBOT over the last 48 coupling intervals."""
    model = window_sum(folder / "wsum.onnx", WINDOW)
    return {
        "name": "wsum",
        "onnx": str(model),
        "grid": "host",
        "schedule": "every step",
        "aggregation": {"TBOT": {"window": WINDOW}},
        "inputs": [{"name": "TBOT", "units": "K"}],
        "outputs": [{"name": "TSUM", "units": "K"}],
    }


def tbot(ids: np.ndarray, step: int) -> np.ndarray:
    """Whole-number temperatures (sums are exact in float64): (1, n) for 1-based ids."""
    return (200.0 + (step * 7 + ids * 3) % 101).reshape(1, -1).astype(np.float64)


def expected_window_sum(ids: np.ndarray, step: int) -> np.ndarray:
    """The sum of the last 48 values put up to `step` (1-based), the oldest repeated while
    fewer than 48 exist."""
    steps = [max(s, 1) for s in range(step - WINDOW + 1, step + 1)]
    return sum(tbot(ids, s) for s in steps)


PLUGIN_SOURCE = '''
"""A test-only transform with a kind of state landemu has never seen: three int32
counters per fine cell."""
import numpy as np
from coupler.steps.base import Transform, Var
from coupler.stepstate import StateVar


class CellCounter(Transform):
    transform_name = "cell_counter"
    input_vars = {}
    output_vars = {"HITS": Var("1", long_name="runs * 10 + the cell's initial tag")}
    state_vars = {"hits": StateVar(shape=(3,), dtype="int32", init=0)}
    default_grid = "fine"

    def compute(self, inputs, state, ctx):
        hits = state["hits"]  # (3, ny, nx) int32
        hits[0] += 1
        hits[2] = hits[0] * hits[1]
        return {"HITS": (hits[0] * 10 + hits[1]).astype(np.float64)}
'''


def install_plugin(folder: Path) -> Path:
    """A distribution on `folder` (put it on sys.path / PYTHONPATH) that registers the
    transform 'cell_counter' through the entry-point group landemu.transforms."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "landemu_testplugin.py").write_text(PLUGIN_SOURCE)
    info = folder / "landemu_testplugin-0.1.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: landemu-testplugin\nVersion: 0.1\n"
    )
    (info / "entry_points.txt").write_text(
        "[landemu.transforms]\ncell_counter = landemu_testplugin:CellCounter\n"
    )
    return folder


def tags_file(path: Path) -> Path:
    """Initial values of the plugin's state on the fine grid: (3, 240, 240) int32, tag in
    [1] = (j + 2 i) % 7 + 1."""
    import netCDF4

    j, i = np.mgrid[0:240, 0:240]
    values = np.zeros((3, 240, 240), np.int32)
    values[1] = (j + 2 * i) % 7 + 1
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("k", 3)
        ds.createDimension("lat", 240)
        ds.createDimension("lon", 240)
        ds.createVariable("hits0", "i4", ("k", "lat", "lon"))[:] = values
    return path


def counter_plugin_step(folder: Path) -> dict:
    return {
        "name": "cells",
        "transform": "cell_counter",
        "schedule": "daily",
        "state": {"hits": {"init": {"file": str(tags_file(folder / "t.nc")), "variable": "hits0"}}},
    }

"""Benchmark: what one coupling call costs a Fortran/C host, next to a plain memcpy.

A host of 100,000 cells couples half-hourly to a pipeline whose step runs daily (a
host-column ONNX model turning the 7 single-level forcing imports of the field dictionary
into 10 exports). The C driver `landemu_bench_overhead` (fortran_shim/testhost/
bench_overhead.c, built by `make fortran`) runs day 1 the way a model does — put every
import, advance half an hour, get every export — timing each call with clock_gettime on
the C side, so the figures are the host's real cost: C call, embedded Python, zero-copy
view, the Component's checks and state update. In the same loop it times a memcpy of the
same 800,000 bytes. A second run on 100 cells shows the fixed per-call cost.

Prints a few context lines, then one JSON line (medians, microseconds):
  put_us, get_us         one landemu_put / landemu_get of a 100,000-cell field
  memcpy_us              memcpy of the same bytes, same process, same loop
  put_get_vs_memcpy      max(put_us, get_us) / memcpy_us            (aim: <= 2)
  advance_idle_us        landemu_advance with nothing due            (aim: < 100)
  advance_idle_us_2ranks the same on 2 ranks (each holding half the cells), where the
                         advance agrees on its inputs across the ranks (one Allreduce)
  put_fixed_us, get_fixed_us   the same calls for a 100-cell field (fixed cost per call)

Usage: .venv/bin/python run/bench/coupling_overhead.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[2]
DRIVER = REPO / "build" / "install" / "bin" / "landemu_bench_overhead"
MPIRUN = REPO / "run" / "mpirun.sh"

N_CELLS = 100_000
IMPORTS = {  # the single-level forcing fields of the field dictionary, with their units
    "TBOT": "K",
    "PRECTmms": "kg m-2 s-1",
    "FSDS": "W m-2",
    "FLDS": "W m-2",
    "QBOT": "kg kg-1",
    "WIND": "m s-1",
    "PSRF": "Pa",
}
EXPORTS = [f"BENCH_{k:02d}" for k in range(1, 11)]


def write_model(path: Path) -> None:
    """y = x @ W + b for host columns: (N, 7) -> (N, 10), a stand-in daily emulator."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = np.full((len(IMPORTS), len(EXPORTS)), 1.0e-9)
    b = np.arange(1.0, len(EXPORTS) + 1.0)
    x = helper.make_tensor_value_info("x", TensorProto.DOUBLE, ["N", len(IMPORTS)])
    y = helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["N", len(EXPORTS)])
    nodes = [
        helper.make_node("MatMul", ["x", "W"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "bench",
        [x],
        [y],
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, path)


def write_config(folder: Path, nlat: int, nlon: int) -> Path:
    """Half-hourly coupling, one daily step, on a regular host grid of nlat x nlon cells."""
    grid = f"latlon:{nlat},{nlon}:30,55,-10,30"
    config = {
        "run": {
            "name": "bench",
            "calendar": "noleap",
            "start": "2001-01-01",
            "coupling_interval": 1800,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {"grid": grid, "imports": list(IMPORTS), "exports": EXPORTS},
        "fine": {"grid": grid},  # required by the schema; no step runs on it
        "steps": [
            {
                "name": "daily_model",
                "onnx": str(folder / "bench.onnx"),
                "grid": "host",
                "schedule": "daily",
                "inputs": [{"name": n, "units": u} for n, u in IMPORTS.items()],
                "outputs": [{"name": n, "units": "1"} for n in EXPORTS],
            }
        ],
    }
    path = folder / f"bench_{nlat * nlon}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_driver(config: Path, n_cells: int, ranks: int = 1) -> dict:
    cmd = [str(MPIRUN), "-n", str(ranks), str(DRIVER), str(config), str(n_cells)]
    cmd += [*IMPORTS, "--", *EXPORTS]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=config.parent)
    if proc.returncode != 0:
        sys.exit(f"coupling_overhead: {' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    if not DRIVER.exists():
        sys.exit(f"coupling_overhead: {DRIVER} is missing; run `make fortran`")
    with tempfile.TemporaryDirectory(prefix="landemu_bench_") as tmp:
        folder = Path(tmp)
        write_model(folder / "bench.onnx")
        big = run_driver(write_config(folder, 250, 400), N_CELLS)
        small = run_driver(write_config(folder, 10, 10), 100)
        two = run_driver(write_config(folder, 250, 400), N_CELLS, ranks=2)
    ratio = max(big["put_us"], big["get_us"]) / big["memcpy_us"]
    print(
        f"host cells {big['n_cells']}, {len(IMPORTS)} import and {len(EXPORTS)} export "
        f"fields, half-hourly coupling, one daily ONNX step"
    )
    print(
        f"medians over {big['put_calls']} puts, {big['get_calls']} gets, "
        f"{big['advance_calls']} idle advances (C driver, clock_gettime per call)"
    )
    print(
        f"put {big['put_us']:.1f} us, get {big['get_us']:.1f} us, memcpy {big['memcpy_us']:.1f} "
        f"us -> {ratio:.2f}x memcpy (aim <= 2); idle advance {big['advance_idle_us']:.1f} us "
        "(aim < 100)"
    )
    print(
        f"fixed cost per call (100 cells): put {small['put_us']:.1f} us, "
        f"get {small['get_us']:.1f} us"
    )
    result = {
        "n_cells": big["n_cells"],
        "put_us": big["put_us"],
        "get_us": big["get_us"],
        "memcpy_us": big["memcpy_us"],
        "put_get_vs_memcpy": round(ratio, 3),
        "advance_idle_us": big["advance_idle_us"],
        "advance_idle_us_2ranks": two["advance_idle_us"],
        "put_fixed_us": small["put_us"],
        "get_fixed_us": small["get_us"],
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: writing and reading a restart whose fine state is 1.44 M cells × 4 levels
(a 10°×10° window at 1/120°, 100 tiles of 120×120; ~46 MB of float64), on 1 and 2 ranks.

Every rank writes its own tiles at fixed offsets at the same time and reads back only the
tiles it owns (coupler/restart.py), so the time per rank should fall with the rank count
while the file is identical. The state is an autoregressive input (`from: previous`) of a
4-channel ONNX step, i.e. what a land-cover prior or a multi-level emulator state costs.

  write_s_N / read_s_N   median wall time of write_restart / read_restart on N ranks
  fine_bytes             size of the fine data file
  identical_files        the files written on 1 and 2 ranks are byte-identical
Prints one JSON line last.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

LEVELS = 4
REPEAT = 3


def write_inputs(folder: Path) -> Path:
    """The ONNX model (y = x + 1 on 4 channels) and the configuration."""
    import onnx
    import yaml
    from onnx import TensorProto, helper, numpy_helper

    one = numpy_helper.from_array(np.ones(1, np.float32), "one")
    shape = [1, LEVELS, "H", "W"]
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])],
        "add_one",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)],
        initializer=[one],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "add_one.onnx"))
    field = {"name": "STATE", "units": "1", "levels": LEVELS}
    cfg = {
        "run": {
            "name": "bench",
            "start": "2001-01-01",
            "coupling_interval": 86400,
            "output_dir": str(folder / "out"),
            "log_level": "warning",
        },
        "host": {"grid": "latlon:20,20:30,40,10,20", "imports": ["TBOT"], "exports": ["STATE"]},
        "fine": {"grid": "latlon:1200,1200:30,40,10,20", "tile": [120, 120]},
        "steps": [
            {
                "name": "prior",
                "onnx": str(folder / "add_one.onnx"),
                "grid": "fine",
                "schedule": "daily",
                "inputs": [{**field, "from": "previous", "init": 0.0}],
                "outputs": [field],
            }
        ],
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def worker(config: Path, restart: Path) -> None:
    """Under mpirun: one advance, then timed writes and reads; rank 0 prints JSON."""
    from mpi4py import MPI

    from coupler.clock import ModelTime
    from coupler.component import Component
    from coupler.driver import host_cells
    from coupler.restart import read_restart

    comm = MPI.COMM_WORLD
    comp = Component(comm, config)
    ids = host_cells(comp.host.mask, comm.rank, comm.size, "blocks")
    comp.set_decomposition(ids)
    comp.put("TBOT", np.full(ids.size, 280.0))
    comp.advance(ModelTime.from_date(2001, 1, 2))

    def timed(fn) -> float:
        ts = []
        for _ in range(REPEAT):
            comm.Barrier()
            t = time.perf_counter()
            fn()
            comm.Barrier()
            ts.append(time.perf_counter() - t)
        return float(np.median(ts))

    write_s = timed(lambda: comp.write_restart(restart))
    read_s = timed(lambda: read_restart(comp, restart))
    ok = all(np.all(t == 1.0) for t in comp.previous["prior"]["STATE"])
    comp.finalize()
    if comm.rank == 0:
        print(json.dumps({"write_s": write_s, "read_s": read_s, "state_ok": ok}))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--worker", nargs=2, metavar=("CONFIG", "RESTART"))
    args = p.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), Path(args.worker[1]))
        return
    figures: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_inputs(folder)
        for n in (1, 2):
            restart = folder / f"r{n}.nc"
            cmd = [
                str(ROOT / "run" / "mpirun.sh"),
                "-n",
                str(n),
                sys.executable,
                __file__,
                "--worker",
                str(config),
                str(restart),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT)
            got = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{n} rank(s): {got}")
            figures[f"write_s_{n}"] = round(got["write_s"], 4)
            figures[f"read_s_{n}"] = round(got["read_s"], 4)
            figures[f"state_ok_{n}"] = got["state_ok"]
        fine = [folder / f"r{n}.nc.fine" for n in (1, 2)]
        figures["fine_bytes"] = fine[0].stat().st_size
        figures["identical_files"] = filecmp.cmp(fine[0], fine[1], shallow=False)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

"""Failure scenarios through the C API on however many ranks mpirun gives: one rank fails
(bad input, or a fault injected with LANDEMU_FAULT), and every rank must come back with the
same status and a message naming the failing rank. Run as a C host would (ctypes over
liblandemu.so), each scenario in turn in one process (landemu is initialised again after
each finalize).

usage: fault_run.py CONFIG OUT_DIR FAILING_RANK OUT.json [SCENARIO ...]

OUT.json (written by rank 0): {scenario: {"ranks": [per-rank record]}}, where a record is
{"events": [[call, status, message], ...] (non-zero statuses only), "matches_reference":
bool or null, "seconds": float, "partial_files": [...]}.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from mpi4py import MPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_capi import LIBRARY, CHost

from coupler.clock import ModelTime
from coupler.driver import analytic_forcing, host_cells
from coupler.grids.host import HostGrid

DAYS = 6
FAIL_DAY = 3
EXPORTS = ("LAI", "TBOT_FINE_CHECK")
IMPORTS = ("TBOT", "PRECTmms")


class Host:
    """A daily-coupled C host on this rank, recording every failure it is told about."""

    def __init__(self, lib, config: Path, ids: np.ndarray, lat, lon) -> None:
        self.c = CHost(lib)
        self.config, self.ids, self.lat, self.lon = config, ids, lat, lon
        self.events: list[list] = []
        self.exports: list[np.ndarray] = []

    def call(self, what: str, status: int) -> int:
        if status:
            self.events.append([what, status, self.c.error()])
        return status

    def forcing(self, name: str, day: int) -> np.ndarray:
        t = ModelTime.from_date(2001, 1, 1) + 86400 * day
        return np.ascontiguousarray(analytic_forcing(name, self.lat, self.lon, t)[0])

    def start(self) -> bool:
        if self.call("init", self.c.init(self.config)):
            return False
        return not self.call("set_decomposition", self.c.set_decomposition(self.ids))

    def put_all(self, day: int, skip: str | None = None) -> None:
        for name in IMPORTS:
            if name != skip:
                self.call(f"put {name}", self.c.put(name, self.forcing(name, day)))

    def advance(self, day: int) -> int:
        t = ModelTime.from_date(2001, 1, 1) + 86400 * day
        return self.call("advance", self.c.advance(t.ymd_int(), t.tod))

    def get_all(self) -> None:
        out = []
        for name in EXPORTS:
            buf = np.zeros(self.ids.size)
            self.call(f"get {name}", self.c.get(name, buf))
            out.append(buf)
        self.exports.append(np.stack(out))


def scenario_config(base: dict, out_dir: Path, name: str, **run) -> Path:
    cfg = {**base, "run": {**base["run"], "output_dir": str(out_dir / name), **run}}
    cfg["history"] = {**base["history"], "frequency": "every 2 days"}
    path = out_dir / f"{name}.yaml"
    if MPI.COMM_WORLD.rank == 0:
        path.write_text(yaml.safe_dump(cfg))
    MPI.COMM_WORLD.Barrier()
    return path


def run_scenario(name: str, host: Host, failing: int, out_dir: Path) -> None:
    """One scenario: the host's calls, with rank `failing` misbehaving as `name` says."""
    me = MPI.COMM_WORLD.rank == failing
    if not host.start():
        return
    for day in range(1, DAYS + 1):
        if day == FAIL_DAY and name in INPUT_FAULTS:
            INPUT_FAULTS[name](host, day, me)
            if host.advance(day):  # every rank fails; the failing rank corrects its call
                if me:
                    fixed = {"missing_put": ["PRECTmms"], "advance_fault": []}
                    for field in fixed.get(name, ["TBOT"]):
                        host.call(f"put {field}", host.c.put(field, host.forcing(field, day)))
                host.advance(day)  # and every rank retries
        else:
            host.put_all(day)
            if host.advance(day):
                host.advance(day)  # says whether landemu stopped
                break
        host.get_all()
    restart_to = RESTART_PATHS.get(name)
    if restart_to is not None:
        path = (out_dir / restart_to) if restart_to != "/proc" else Path("/proc/landemu_r.nc")
        host.call("write_restart", host.c.lib.landemu_write_restart(str(path).encode()))
        host.put_all(DAYS + 1)  # the host goes on after a failed restart write
        host.advance(DAYS + 1)
    host.call("finalize", host.c.finalize())


INPUT_FAULTS = {
    "nan_put": lambda h, d, me: (
        h.put_all(d, skip="TBOT" if me else None),
        me and h.call("put TBOT", h.c.put("TBOT", np.full(h.ids.size, np.nan))),
    ),
    "missing_put": lambda h, d, me: h.put_all(d, skip="PRECTmms" if me else None),
    "wrong_size": lambda h, d, me: (
        h.put_all(d, skip="TBOT" if me else None),
        me and h.call("put TBOT", h.c.put("TBOT", np.zeros(h.ids.size + 1))),
    ),
    "put_fault": lambda h, d, me: h.put_all(d),
    "advance_fault": lambda h, d, me: h.put_all(d),
}
ENV_FAULTS = {  # scenario: LANDEMU_FAULT phase (on the failing rank)
    "put_fault": f"put#{2 * FAIL_DAY - 1}",  # the TBOT put of day 3
    "advance_fault": f"advance#{FAIL_DAY}",
    "remap_fault": f"remap#{FAIL_DAY}",
    "step_fault": f"step:phenology#{FAIL_DAY}",
    "abort_on_step_fault": f"step:phenology#{FAIL_DAY}",  # with on_error: abort
    "history_fault": "history#1",
    "restart_fault": "restart#1",
    "finalize_fault": "finalize#1",
}
RESTART_PATHS = {
    "restart_to_directory": ".",
    "restart_unwritable": "/proc",
    "restart_fault": "r.nc",
}
SCENARIOS = [
    "reference",
    *INPUT_FAULTS,
    "remap_fault",
    "step_fault",
    "history_fault",
    "restart_to_directory",
    "restart_unwritable",
    "restart_fault",
    "unusable_output_dir",
    "finalize_fault",
]


def main() -> None:
    config, out_dir, failing, out_json = Path(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:5]
    failing = int(failing)
    chosen = sys.argv[5:] or SCENARIOS
    comm = MPI.COMM_WORLD

    lib = ctypes.CDLL(str(LIBRARY))
    base = yaml.safe_load(config.read_text())
    grid = HostGrid.from_file(base["host"]["grid"])
    ids = host_cells(grid.mask, comm.rank, comm.size, "round_robin")
    lat, lon = grid.center_lat[ids - 1], grid.center_lon[ids - 1]
    results, reference = {}, None
    for name in ["reference", *[s for s in chosen if s != "reference"]]:
        phase = ENV_FAULTS.get(name)
        if phase:
            what, _, count = phase.partition("#")
            os.environ["LANDEMU_FAULT"] = f"{what}@{failing}#{count}"
        else:
            os.environ.pop("LANDEMU_FAULT", None)
        extra = {"on_error": "abort"} if name == "abort_on_step_fault" else {}
        if name == "unusable_output_dir":
            if comm.rank == 0:
                (out_dir / "a_file").write_text("not a directory")
            extra = {"output_dir": str(out_dir / "a_file" / "out")}
        cfg = scenario_config(base, out_dir, name, **extra)
        host = Host(lib, cfg, ids, lat, lon)
        t0 = time.perf_counter()
        run_scenario(name, host, failing, out_dir)
        seconds = time.perf_counter() - t0
        comm.Barrier()
        exports = np.stack(host.exports) if host.exports else None
        if name == "reference":
            reference = exports
        matches = None
        if name in INPUT_FAULTS and exports is not None:
            matches = bool(np.array_equal(exports, reference))
        record = {
            "events": host.events,
            "matches_reference": matches,
            "seconds": round(seconds, 3),
            "partial_files": sorted(str(p) for p in out_dir.rglob("*.partial")),
        }
        gathered = comm.gather(record, root=0)
        if comm.rank == 0:
            results[name] = {"ranks": gathered}
    if comm.rank == 0:
        Path(out_json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()

"""Benchmark: landemu's share of a coupled run — the demo configuration for 60 days.

The ELM/ILS-style host land model (build/install/bin/landemu_landmodel) runs the demo
(France and the Alps, 0.5° host, 368 land columns, half-hourly physics) on 2 MPI ranks,
coupled daily to landemu (daily GSI phenology on 1200 × 1200 fine cells in 100 tiles, LAI
back to the host). landemu's own per-phase timers (printed at finalize; mean over ranks)
say where its time goes; the host's wall time is the rest. The same 60 days are run again
without landemu as a check of the host's own cost.

Prints the timer table, then one JSON line:
  wall_s            the coupled run's wall time (the host's own clock, MPI_Wtime)
  landemu_s         time in landemu's coupling calls (put + advance + get), mean over ranks
  landemu_setup_s   init + set_decomposition + write_restart + finalize (once per run)
  landemu_startup_s start of the embedded Python and its imports (a separate process
                    importing what landemu_init imports; not in landemu's own timers)
  host_s            wall_s - landemu_s - landemu_setup_s - landemu_startup_s: the host's
                    own work
  share             landemu_s / (landemu_s + host_s)                (aim <= 0.10)
  host_alone_s      wall time of the same 60 days without landemu
  phases            {timer: mean seconds over ranks} for the advance sub-phases, put, get
  share_phenology_only, landemu_s_phenology_only, host_s_phenology_only
                    the same for issue 7's original configuration, run a second time: the
                    demo with the daily phenology step only (no monthly surface steps;
                    exports LAI, history LAI, TBOT, PRECTmms), which the 44 % was measured on.
                    Its host_s is close to host_alone_s; the demo's is larger because the
                    host then runs on landemu's PFT composition (more PFTs per column)

Needs the demo data (run/data/demo_*.nc; made here if missing, as `make demo` does).
Usage: .venv/bin/python run/bench/coupled_share.py [--days 60] [--ranks 2]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
HOST = REPO / "build" / "install" / "bin" / "landemu_landmodel"
MPIRUN = REPO / "run" / "mpirun.sh"
DATA = REPO / "run" / "data"
LANDEMU = Path(sys.executable).parent / "landemu"
FINE, HOST_GRID = "latlon:1200,1200:42,52,0,10", "latlon:20,20:42,52,0,10"
CALLS = ("put", "advance", "get")
SETUP = ("init", "set_decomposition", "write_restart")
TIMER_LINE = re.compile(r"^(\S+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)$")


def demo_data() -> dict[str, Path]:
    """The demo's static data, domain and forcing (made once, cached in run/data)."""
    files = {k: DATA / f"demo_{k}.nc" for k in ("static", "domain", "forcing", "climate")}
    DATA.mkdir(parents=True, exist_ok=True)
    steps = {
        "static": ["prepare-static", "--grid", FINE, "-o", str(files["static"])],
        "domain": ["domain", "--grid", HOST_GRID, "--static", str(files["static"])],
        "forcing": ["forcing", "--domain", str(files["domain"]), "--start-year", "2001"],
        "climate": ["surface-climate", "--grid", str(files["domain"])],
    }
    steps["domain"] += ["-o", str(files["domain"])]
    steps["forcing"] += ["--years", "1", "-o", str(files["forcing"])]
    steps["climate"] += ["-o", str(files["climate"])]
    for key, args in steps.items():
        if not files[key].exists():
            subprocess.run([str(LANDEMU), *args], check=True)
    return files


def namelist(folder: Path, name: str, files: dict[str, Path], days: int, config: str) -> Path:
    path = folder / f"{name}.nml"
    path.write_text(
        "&landmodel\n"
        f"  config = '{config}'\n"
        f"  domain_file = '{files['domain']}'\n"
        f"  forcing_file = '{files['forcing']}'\n"
        f"  start_ymd = 20010101\n  ndays = {days}\n"
        f"  history_file = '{name}.nc'\n"
        f"  landemu_restart = 'none'\n"
        "/\n"
    )
    return path


def landemu_config(folder: Path, files: dict[str, Path], phenology_only: bool = False) -> Path:
    """The demo's landemu.yaml with absolute data paths and the timers printed; with
    phenology_only, as issue 7 measured it: the daily phenology step alone, LAI exported."""
    cfg = yaml.safe_load((REPO / "run" / "demo" / "landemu.yaml").read_text())
    if phenology_only:
        cfg["steps"] = [s for s in cfg["steps"] if s["transform"] == "phenology_gsi"]
        cfg["host"]["exports"] = {"LAI": {}}
        cfg["history"]["fields"] = ["LAI", "TBOT", "PRECTmms"]
    cfg["host"]["grid"] = str(files["domain"])
    cfg["fine"]["static"] = str(files["static"])
    cfg["run"]["log_level"] = "info"
    demo_dir = REPO / "run" / "out" / "demo"  # where make demo runs the config from
    for step in cfg["steps"]:  # state initial values from files: relative to demo_dir
        for var in step.get("state", {}).values():
            source = var.get("init", {}) if isinstance(var, dict) else {}
            if isinstance(source, dict) and "file" in source:
                source["file"] = str((demo_dir / source["file"]).resolve())
    path = folder / ("landemu_phenology.yaml" if phenology_only else "landemu.yaml")
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def run_host(nml: Path, ranks: int) -> tuple[float, str]:
    """Run the host; (its own wall time, its stdout)."""
    proc = subprocess.run(
        [str(MPIRUN), "-n", str(ranks), str(HOST), nml.name],
        cwd=nml.parent,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"coupled_share: {HOST} {nml.name} failed:\n{proc.stdout}\n{proc.stderr}")
    wall = re.search(r"rank\(s\), ([\d.]+) s", proc.stdout)
    if wall is None:
        sys.exit(f"coupled_share: no wall time in the host's output:\n{proc.stdout}")
    return float(wall.group(1)), proc.stdout


def startup_seconds() -> float:
    """Wall time of a Python process importing what the embedded landemu imports at init."""
    code = "import bindings.api, coupler.component, coupler.steps.onnx_step"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    return time.perf_counter() - t0


def timers(output: str) -> dict[str, float]:
    """{timer: mean seconds over ranks} from the table landemu prints at finalize."""
    means = {}
    for line in output.splitlines():
        m = TIMER_LINE.match(line.strip())
        if m:
            means[m.group(1)] = float(m.group(4))
    if not means:
        sys.exit(f"coupled_share: no landemu timer table in the output:\n{output}")
    return means


def landemu_seconds(output: str) -> tuple[float, float, dict[str, float]]:
    """(time in the coupling calls, in the once-per-run calls, all timers) of a coupled run."""
    means = timers(output)
    return sum(means.get(k, 0.0) for k in CALLS), sum(means.get(k, 0.0) for k in SETUP), means


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--ranks", type=int, default=2)
    args = parser.parse_args()
    if not HOST.exists():
        sys.exit(f"coupled_share: {HOST} is missing; run `make fortran`")
    files = demo_data()
    with tempfile.TemporaryDirectory(prefix="landemu_share_") as tmp:
        folder = Path(tmp)
        config = landemu_config(folder, files)
        coupled = namelist(folder, "coupled", files, args.days, str(config))
        alone = namelist(folder, "alone", files, args.days, "")
        config_phenology = landemu_config(folder, files, phenology_only=True)
        phenology = namelist(folder, "phenology", files, args.days, str(config_phenology))
        wall, output = run_host(coupled, args.ranks)
        alone_wall, _ = run_host(alone, args.ranks)
        phenology_wall, phenology_output = run_host(phenology, args.ranks)
    landemu_s, setup_s, means = landemu_seconds(output)
    startup_s = startup_seconds()
    host_s = wall - landemu_s - setup_s - startup_s
    phen_s, phen_setup_s, _ = landemu_seconds(phenology_output)
    phen_host_s = phenology_wall - phen_s - phen_setup_s - startup_s
    phases = {k: round(v, 3) for k, v in means.items() if k.startswith("advance/") or k in CALLS}
    print("\n".join(line for line in output.splitlines() if TIMER_LINE.match(line.strip())))
    result = {
        "days": args.days,
        "ranks": args.ranks,
        "wall_s": round(wall, 2),
        "landemu_s": round(landemu_s, 3),
        "landemu_setup_s": round(setup_s, 3),
        "landemu_startup_s": round(startup_s, 2),
        "host_s": round(host_s, 2),
        "share": round(landemu_s / (landemu_s + host_s), 4),
        "host_alone_s": round(alone_wall, 2),
        "phases": phases,
        "share_phenology_only": round(phen_s / (phen_s + phen_host_s), 4),
        "landemu_s_phenology_only": round(phen_s, 3),
        "host_s_phenology_only": round(phen_host_s, 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

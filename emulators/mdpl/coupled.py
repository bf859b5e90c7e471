"""Coupled twin experiment: the Fortran host program (landemu_landmodel) on K MPI ranks taking
landemu's online MdPL parameters, against the same run with its defaults, both scored against
TWIN observations.

    python -m emulators.mdpl.coupled --site US-Bar --days 365 --ranks 2 [-o DIR]

Why: the calibration only counts if the host's own fluxes move towards the observations. The
case is a 2 x 2 block of 0.5° host cells centred on one of the 20 sites, all land, with the
site's soil and ELM PFT (namelist) and ERA5-climatology forcing written for the block (a
weather realisation g_z never saw). The "observations" are the host physics (ctypes path,
bit-identical to the program) run with the site's hidden true parameters from the same cold
start, plus the twin observation error (non-closure, AR(1) noise, gaps). landemu's step
`mdpl_params` runs g_z on the last 48 half-hourly forcing means of every host column
(no observed fluxes online) and exports the 12 parameters, which the host applies to every
vegetated PFT of the column from the interval it gets them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path

import netCDF4
import numpy as np
import yaml

from coupler.errors import DataFileError, LandemuRuntimeError
from emulators.landmodel import FORCING_NAMES, PARAM_NAMES, HostModel
from emulators.mdpl import twin
from emulators.mdpl.sites import Site, site

REPO = Path(__file__).resolve().parents[2]
PROGRAM = REPO / "build" / "install" / "bin" / "landemu_landmodel"
MPIRUN = REPO / "run" / "mpirun.sh"
STEPS_PER_DAY = 48
WETNESS = 0.6  # the program's default initial soil wetness


def block_spec(s: Site, n: int = 2, res: float = 0.5) -> str:
    """latlon spec of an n x n block of `res`° cells whose centre is the site."""
    half = n * res / 2
    return f"latlon:{n},{n}:{s.lat - half},{s.lat + half},{s.lon - half},{s.lon + half}"


def write_case(folder: Path, s: Site, schedule: str, start_ymd: int) -> None:
    """Domain, one year of half-hourly forcing and landemu's configuration in `folder`."""
    from coupler.grids.host import HostGrid
    from coupler.grids.latlon import LatLonGrid
    from emulators.data.forcing import CellSet, write_forcing

    folder.mkdir(parents=True, exist_ok=True)
    spec = block_spec(s)
    HostGrid.from_latlon(LatLonGrid.parse(spec)).write_domain(folder / "domain.nc")
    cells = CellSet.from_domain(folder / "domain.nc")
    elevation = np.full(cells.lat.size, s.elevation)
    write_forcing(folder / "forcing.nc", cells, start_ymd // 10000, 1, seed=29, elevation=elevation)
    y, m, d = start_ymd // 10000, start_ymd // 100 % 100, start_ymd % 100
    statics = {"sand": s.sand, "clay": s.clay, "elevation": s.elevation, "pft": float(s.pft)}
    cfg = {
        "run": {
            "name": "mdpl",
            "calendar": "noleap",
            "start": f"{y:04d}-{m:02d}-{d:02d}",
            "coupling_interval": 1800,
            "output_dir": "out",
            "log_level": "warning",
        },
        "host": {"grid": "domain.nc", "imports": list(FORCING_NAMES), "exports": PARAM_NAMES},
        "fine": {"grid": spec.replace("latlon:2,2", "latlon:12,12"), "tile": [12, 12]},
        "steps": [
            {
                "name": "mdpl",
                "transform": "mdpl_params",
                "schedule": schedule,
                "aggregation": {n: {"window": 48} for n in FORCING_NAMES},
                "state": {k: {"init": v} for k, v in statics.items()},
            }
        ],
    }
    (folder / "landemu.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def run_host(
    folder: Path, s: Site, name: str, nranks: int, ndays: int, start_ymd: int, coupled: bool
) -> Path:
    """Run the host program (with landemu's parameters, or alone); returns its history."""
    if not PROGRAM.exists():
        raise DataFileError(f"{PROGRAM} is not built: run `make setup`")
    values = {
        "domain_file": "'domain.nc'",
        "forcing_file": "'forcing.nc'",
        "start_ymd": start_ymd,
        "ndays": ndays,
        "coupling_seconds": 1800,
        "history_file": f"'{name}.nc'",
        "sand": s.sand,
        "clay": s.clay,
        "landemu_restart": "'none'",
        "default_pct_nat_pft": ", ".join("100" if p == s.pft else "0" for p in range(17)),
    }
    if coupled:
        values["config"] = "'landemu.yaml'"
    nml = folder / f"{name}.nml"
    nml.write_text("&landmodel\n" + "\n".join(f"  {k} = {v}" for k, v in values.items()) + "\n/\n")
    # a clean MPI environment: the caller may itself be an MPI singleton (mpi4py)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "OPAL_"))}
    proc = subprocess.run(
        [str(MPIRUN), "-n", str(nranks), str(PROGRAM), nml.name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise LandemuRuntimeError(f"landemu_landmodel failed:\n{proc.stdout}\n{proc.stderr}")
    return folder / f"{name}.nc"


def twin_observations(
    folder: Path, s: Site, ndays: int, start_ymd: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(nstep, ncell, 2) TWIN observations of H and LE (NaN gaps) and the noise-free truth:
    the physics with the site's hidden true parameters, from the program's cold start."""
    from emulators.landmodel import default_params

    day0 = (
        np.cumsum([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30])[start_ymd // 100 % 100 - 1]
        + start_ymd % 100
        - 1
    )
    k0, n = day0 * STEPS_PER_DAY, ndays * STEPS_PER_DAY
    with netCDF4.Dataset(folder / "forcing.nc") as f:
        forc = {v: np.asarray(f[v][k0 : k0 + n], np.float64).reshape(n, -1) for v in FORCING_NAMES}
        ncell = forc["TBOT"].shape[1]
    with netCDF4.Dataset(folder / "domain.nc") as d:
        lat, lon = d["yc"][:].ravel(), d["xc"][:].ravel()
    pct = np.zeros((ncell, 17))
    pct[:, s.pft] = 100.0
    params = default_params(ncell).copy()
    params[:, 1:, :] = twin.hidden_truth(s, seed)  # as the host applies a set: every PFT
    model = HostModel(pct, s.sand, s.clay, lat, lon, params=params)
    tinit = np.clip(forc["TBOT"][:STEPS_PER_DAY].sum(axis=0) / STEPS_PER_DAY, 250, 305)
    model.init_state(tinit=tinit, wetness=WETNESS)
    out = model.run(forc, start_doy=int(day0) + 1, outputs=list(twin.FLUXES))
    truth = np.stack([out[v] for v in twin.FLUXES], axis=2)
    obs = np.stack([twin.observe(truth[:, c], seed * 1000 + c)[0] for c in range(ncell)], axis=1)
    return obs, truth


def rmse(history: Path, obs: np.ndarray, skip_days: int) -> dict[str, float]:
    """RMSE of the history's H and LE against the observations (gaps and the first
    `skip_days` days excluded)."""
    with netCDF4.Dataset(history) as h:
        sim = np.stack([np.asarray(h[v][:]).reshape(len(h[v]), -1) for v in twin.FLUXES], axis=2)
    k = skip_days * STEPS_PER_DAY
    err = sim[k:] - obs[k:]
    return {lab: float(np.sqrt(np.nanmean(err[..., j] ** 2))) for j, lab in enumerate(("H", "LE"))}


def experiment(
    folder: Path,
    site_name: str = "US-Bar",
    ndays: int = 6,
    nranks: int = 2,
    start_ymd: int = 20010601,
    schedule: str = "daily",
) -> dict:
    """Run the coupled and the default host runs; RMSE of each against TWIN observations,
    from the second day (the first full window) on."""
    s = site(site_name)
    write_case(folder, s, schedule, start_ymd)
    obs, _ = twin_observations(folder, s, ndays, start_ymd)
    result = {"site": s.name, "days": ndays, "ranks": nranks, "start": start_ymd}
    for name, coupled in (("default", False), ("mdpl", True)):
        hist = run_host(folder, s, name, nranks, ndays, start_ymd, coupled)
        result[name] = rmse(hist, obs, skip_days=1)
    with netCDF4.Dataset(folder / "mdpl.nc") as h:
        result["parameters_last"] = {
            p: float(np.asarray(h[f"landemu_{p}"][-1]).mean()) for p in PARAM_NAMES
        }
    result["truth"] = dict(zip(PARAM_NAMES, map(float, twin.hidden_truth(s, 0)), strict=True))
    return result


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--site", default="US-Bar")
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--start", type=int, default=20010101)
    ap.add_argument("--schedule", default="monthly")
    ap.add_argument("-o", "--output", type=Path, default=REPO / "run" / "data" / "mdpl_coupled")
    a = ap.parse_args(argv)
    res = experiment(a.output, a.site, a.days, a.ranks, a.start, a.schedule)
    print(json.dumps(res))


if __name__ == "__main__":
    main()

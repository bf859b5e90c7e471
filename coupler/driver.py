"""`landemu run CONFIG`: a Python stand-in for the Fortran host, for coupled runs and tests
without a compiler.

It does what a host does through the C API — decompose the host grid over the ranks of
MPI_COMM_WORLD, then at every coupling step put forcing, advance, get exports — reading its
own settings from the `driver:` section of the same YAML:

    driver:
      stop: 2002-01-01        # or steps: 365
      forcing: analytic       # or a forcing netCDF file (see coupler.forcing_file)
      decomposition: blocks   # or round_robin
      restart_at_end: true

A progress bar over simulated time shows on a terminal (rank 0 only) and stays quiet in
batch logs; at the end the driver prints where the outputs are and host-mean exports.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from coupler.clock import ModelTime, days_in_year
from coupler.config import Config, load_config
from coupler.errors import ConfigError

# --- the host's side: decomposition and forcing ----------------------------------------------


def host_cells(mask: np.ndarray, rank: int, size: int, how: str) -> np.ndarray:
    """1-based ids of the active host cells this rank owns ('blocks' or 'round_robin')."""
    active = np.flatnonzero(mask != 0) + 1
    if how == "round_robin":
        return active[rank::size]
    bounds = np.linspace(0, active.size, size + 1).round().astype(int)
    return active[bounds[rank] : bounds[rank + 1]]


def analytic_forcing(
    name: str, lat: np.ndarray, lon: np.ndarray, time: ModelTime, nlev: int = 1
) -> np.ndarray:
    """A synthetic but realistic daily-mean climate (the Fortran test host's formulas):
    warm tropics and cold poles with a latitude-dependent seasonal cycle, insolation from
    solar geometry, a wet tropical belt. For tests and demos without forcing data.
    Returns (nlev, n)."""
    deg = np.pi / 180.0
    ndays = days_in_year(time.year, time.calendar)
    doy = time.day_of_year - 0.5  # the mean of the day just completed
    season = 2.0 * np.pi * doy / ndays
    phi = lat * deg
    t = (
        301.0
        - 45.0 * np.sin(phi) ** 2
        - (2.0 + 18.0 * np.abs(np.sin(phi))) * np.sign(lat) * np.cos(season - 2 * np.pi * 15 / 365)
        + 1.5 * np.sin(lon * deg)
    )
    p = 100000.0 + 1000.0 * np.cos(phi)
    if name == "TBOT":
        v = t
    elif name == "FSDS":
        dec = 23.44 * deg * np.sin(2 * np.pi * (284.0 + doy) / ndays)
        dist = 1.0 + 0.033 * np.cos(2 * np.pi * doy / ndays)
        h = np.arccos(np.clip(-np.tan(phi) * np.tan(dec), -1.0, 1.0))
        toa = (
            1361.0
            / np.pi
            * dist
            * (h * np.sin(phi) * np.sin(dec) + np.cos(phi) * np.cos(dec) * np.sin(h))
        )
        v = (0.625 + 0.075 * np.cos(2 * lon * deg)) * toa
    elif name == "PRECTmms":
        v = (
            1.0
            + 5.0 * np.exp(-((lat / 12.0) ** 2))
            + 2.0 * (1.0 + np.sin(season + lon * deg)) * np.maximum(0.0, np.cos(phi))
        ) / 86400.0
    elif name == "FLDS":
        v = (0.75 + 0.1 * np.cos(phi)) * 5.670374419e-8 * t**4
    elif name == "QBOT":
        v = 0.7 * 0.622 * 611.2 * np.exp(17.67 * (t - 273.15) / (t - 29.65)) / p
    elif name == "PSRF":
        v = p
    elif name == "WIND":
        v = 3.0 + 2.0 * np.abs(np.sin(phi)) + np.cos(season) + 0 * lat
    elif name == "H2OSOI":
        k = np.arange(1, nlev + 1)[:, None]
        return 0.12 + 0.02 * k + 0.05 * np.sin(season + lon * deg) * np.cos(phi)
    else:
        raise ConfigError(f"driver.forcing: the analytic forcing has no field {name}")
    return np.broadcast_to(v, (nlev, lat.size)).copy()


# --- the run ---------------------------------------------------------------------------------


def run(config: Config, comm, quiet: bool = False) -> dict[str, float]:
    """Run the coupled loop; return host means of the exports at the last step."""
    from tqdm import tqdm

    from coupler.component import Component
    from coupler.forcing_file import ForcingFile

    drv = config.driver
    comp = Component(comm, config)
    ids = host_cells(comp.host.mask, comm.rank, comm.size, drv["decomposition"])
    comp.set_decomposition(ids)
    lat, lon = comp.host.center_lat[ids - 1], comp.host.center_lon[ids - 1]
    interval = config.run["coupling_interval"]
    if interval is None or comp.start is None:
        raise ConfigError("landemu run needs run.start and run.coupling_interval")
    now = comp.now or comp.start
    nsteps = _number_of_steps(drv, now, interval, config.calendar)
    forcing = None
    if drv["forcing"] != "analytic":
        forcing = ForcingFile(config.resolve(drv["forcing"]), ids, config.calendar)
    imports = list(comp.pipeline.imports)
    exports = {n: np.zeros((comp.registry[n].levels, ids.size)) for n in comp.pipeline.exports}
    bar = tqdm(
        total=nsteps,
        unit="step",
        desc="landemu run",
        disable=quiet or comm.rank != 0 or not sys.stdout.isatty(),
    )
    for _ in range(nsteps):
        t_next = now + interval
        for name in imports:
            nlev = comp.registry[name].levels
            values = (
                forcing.mean(name, now, t_next)
                if forcing is not None
                else analytic_forcing(name, lat, lon, t_next, nlev)
            )
            comp.put(name, values)
        comp.advance(t_next)
        for name, buf in exports.items():
            comp.get(name, buf)
        now = t_next
        bar.set_postfix_str(now.isoformat()[:10], refresh=False)
        bar.update()
    bar.close()
    restart = comp.write_restart() if drv["restart_at_end"] else None
    comp.finalize()
    summary = _host_means(comm, exports, comp.host.area[ids - 1])
    if comm.rank == 0 and not quiet:
        print(f"landemu run '{config.run['name']}': {nsteps} steps to {now}")
        for name, value in summary.items():
            print(f"  host-mean {name} at the last step: {value:.6g} {comp.registry[name].units}")
        if comp.history.path is not None:
            print(f"  history: {comp.history.path}")
        if restart is not None:
            print(f"  restart: {restart}")
    return summary


def _number_of_steps(drv: dict, start: ModelTime, interval: int, calendar: str) -> int:
    if (drv["stop"] is None) == (drv["steps"] is None):
        raise ConfigError("driver: give exactly one of driver.stop (a date) or driver.steps")
    if drv["steps"] is not None:
        return int(drv["steps"])
    stop = ModelTime.parse(drv["stop"], calendar)
    if (stop - start) % interval or stop <= start:
        raise ConfigError(
            f"driver.stop: {stop} is not a whole number of coupling intervals after {start}"
        )
    return (stop - start) // interval


def _host_means(comm, exports: dict[str, np.ndarray], area: np.ndarray) -> dict[str, float]:
    """Area-weighted host mean of each export's first level (ordered reduction on root)."""
    parts = comm.gather({n: (v[0] * area).sum() for n, v in exports.items()}, root=0)
    total_area = comm.gather(area.sum(), root=0)
    if comm.rank != 0:
        return {}
    return {n: sum(p[n] for p in parts) / sum(total_area) for n in exports}


# --- CLI -------------------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a coupled simulation with the Python host driver",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", type=Path, help="the run's YAML configuration")
    p.add_argument("--steps", type=int, help="override driver.steps")
    p.add_argument("--stop", help="override driver.stop (a date)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    config = load_config(args.config)
    if args.steps is not None or args.stop is not None:
        config.driver["steps"], config.driver["stop"] = args.steps, args.stop
    run(config, MPI.COMM_WORLD, quiet=args.quiet)
    return 0

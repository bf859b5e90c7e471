"""`landemu surfdata` (an ELM surface dataset for a host grid) and `landemu scaling FIELD`
(how much of a fine field's spatial variability a coarse host loses).

  landemu surfdata --grid HOST --year Y -o surfdata.nc [--lai F] [--soil F] [--dem F]
                   [--height F] [--urban-density F]
  landemu surfdata --check surfdata.nc
  landemu scaling FIELD --file FINE.nc -o scaling.nc [--png scaling.png] [--box 60]
  landemu plot surface surfdata.nc -o pfts.png [--month 7]
  landemu surface-climate --grid HOST -o climate.nc   (start of the online step's climate)

HOST: `latlon:NLAT,NLON:S,N,W,E` or a SCRIP / E3SM domain file of a regular lat-lon grid.
surfdata runs in parallel under MPI (run/mpirun.sh -n K landemu surfdata ...): ranks share the
bands of host rows, rank 0 writes the same file as a serial run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from coupler.errors import DataFileError, GridError
from coupler.grids.host import HostGrid, detect_latlon
from coupler.grids.latlon import LatLonGrid
from emulators.surface.scaling import SEED_BOX_CELLS, SEED_SCALES

LAND_COVER_YEAR = 2019  # the only MODIS year that installs offline


def host_latlon(spec: str) -> LatLonGrid:
    """A lat-lon host grid from a spec or a grid file (GridError for other grids)."""
    if spec.startswith("latlon:"):
        return LatLonGrid.parse(spec)
    grid = detect_latlon(HostGrid.from_file(spec))
    if grid is None:
        raise GridError(
            f"host grid '{spec}' is not a regular lat-lon grid; surfdata supports lat-lon hosts"
        )
    return grid


def run_surfdata(args: argparse.Namespace) -> int:
    from emulators.surface.surfdata import (
        MAX_FINE_CELLS_PER_BAND,
        build_surface,
        check_surfdata,
        write_surfdata,
    )

    if args.check:
        problems = check_surfdata(args.check)
        for p in problems:
            print(f"{args.check}: {p}")
        if not problems:
            print(f"{args.check}: passes ELM's surface-reader checks")
        return 1 if problems else 0
    if not args.grid or not args.output:
        raise GridError("surfdata needs --grid HOST and -o OUTPUT (or --check FILE)")
    host = host_latlon(args.grid)
    if args.year != LAND_COVER_YEAR:
        print(
            f"note: land cover is MODIS {LAND_COVER_YEAR} (the only year installed); "
            f"--year {args.year} is recorded but does not change it",
            file=sys.stderr,
        )
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    built = build_surface(
        host,
        lai_file=args.lai,
        soil_file=args.soil,
        dem_file=args.dem,
        height_file=args.height,
        urban_file=args.urban_density,
        progress=not args.no_progress and sys.stderr.isatty() and comm.rank == 0,
        comm=comm,
        band_cells=args.band_cells or MAX_FINE_CELLS_PER_BAND,
    )
    if built is None:  # not rank 0
        return 0
    fields, attrs = built
    attrs["year"] = str(args.year)
    attrs["land_cover_year"] = str(LAND_COVER_YEAR)
    path = write_surfdata(args.output, host, fields, attrs)
    print(f"wrote {path}: {host.nlat} x {host.nlon} cells")
    return 0


def run_scaling(args: argparse.Namespace) -> int:
    from emulators.surface.report import scaling_of_file, write_scaling

    if not args.file or not args.output:
        raise DataFileError("scaling needs --file FINE.nc and -o OUTPUT.nc")
    scales = tuple(int(s) for s in args.scales.split(","))
    result, box_lat, box_lon, box_deg = scaling_of_file(args.file, args.field, args.box, scales)
    write_scaling(args.output, result, box_lat, box_lon, args.field, args.png, box_deg)
    import numpy as np

    print(
        f"{args.field}: mean beta {np.nanmean(result.beta):.3f}, mean gamma at "
        f"{scales[-1]} cells {np.nanmean(result.gamma[-1]):.1f} % over "
        f"{int(np.isfinite(result.beta).sum())} boxes; wrote {args.output}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu surfdata` and `landemu scaling`."""
    p = subparsers.add_parser(
        "surfdata",
        help="write (or check) an ELM surface dataset for a host grid",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--grid", help="host grid: latlon spec or grid file")
    p.add_argument("--year", type=int, default=LAND_COVER_YEAR)
    p.add_argument("-o", "--output", type=Path)
    p.add_argument("--lai", type=Path, help="monthly LAI file (LAI(12, lat, lon))")
    p.add_argument(
        "--soil", type=Path, help="soil file (PCT_SAND, PCT_CLAY, ORGANIC (6, lat, lon))"
    )
    p.add_argument("--dem", type=Path, help="DEM (netCDF or GeoTIFF; default ETOPO5)")
    p.add_argument("--height", type=Path, help="canopy top height file (HEIGHT_TOP(lat, lon), m)")
    p.add_argument(
        "--urban-density", type=Path, help="urban density file (URBAN_DENSITY: 1 TBD, 2 HD, 3 MD)"
    )
    p.add_argument("--check", type=Path, metavar="FILE", help="check an existing file")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument(
        "--band-cells",
        type=int,
        help="fine cells per band of host rows (default 500000, ~1 GB per rank; the file "
        "does not change)",
    )
    p.set_defaults(func=run_surfdata)

    s = subparsers.add_parser(
        "scaling",
        help="spatial scaling diagnostics (sigma, beta, gamma) of a fine field",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    s.add_argument("field", help="variable name in --file")
    s.add_argument("--file", type=Path, help="netCDF file with the fine field (..., lat, lon)")
    s.add_argument("-o", "--output", type=Path)
    s.add_argument("--png", type=Path)
    s.add_argument("--box", type=int, default=SEED_BOX_CELLS, help="fine cells per box side")
    s.add_argument("--scales", default=",".join(map(str, SEED_SCALES)))
    s.set_defaults(func=run_scaling)

    c = subparsers.add_parser(
        "surface-climate",
        help="the ERA5 monthly climate on a host grid: where the online surface_climate "
        "step's record starts",
    )
    c.add_argument("--grid", required=True, help="host grid: latlon spec or grid file")
    c.add_argument("-o", "--output", type=Path, required=True)
    c.set_defaults(func=run_surface_climate)


def run_surface_climate(args: argparse.Namespace) -> int:
    from emulators.surface.online import write_climate_file

    n = write_climate_file(args.grid, str(args.output))
    print(f"wrote {args.output}: 12 months of tbot and prect on {n} host cells")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    from emulators.surface.report import plot_surfdata

    present = plot_surfdata(args.file, args.output, args.month)
    print(f"wrote {args.output}: {len(present)} PFTs")
    return 0


def register_plot(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu plot surface`: PFT cover and monthly LAI per PFT of a surfdata file."""
    p = subparsers.add_parser("surface", help="PCT_NAT_PFT and LAI per PFT of a surfdata file")
    p.add_argument("file", type=Path, help="ELM surface dataset")
    p.add_argument("-o", "--output", type=Path, default=Path("surfdata_pfts.png"))
    p.add_argument("--month", type=int, default=7, choices=range(1, 13))
    p.set_defaults(func=run_plot)

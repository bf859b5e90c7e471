"""`landemu domain`: an E3SM-style domain file for a lat-lon host grid whose land mask and
land fraction come from the fine static land mask, so host and fine grid agree on where the
land is (a host cell is active when any fine land lies under it).

The fraction is the exact area-weighted share of fine land cells in each host cell
(first-order conservative overlaps), accumulated over fine row blocks so memory stays
bounded by one block whatever the grid size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from coupler.errors import GridError
from coupler.grids.host import HostGrid
from coupler.grids.latlon import LatLonGrid
from coupler.regrid.overlaps import latlon_overlaps
from coupler.static import StaticFineData

BLOCK_ROWS = 240


def land_fraction(
    host: LatLonGrid, static: StaticFineData, mask_var: str = "landmask"
) -> np.ndarray:
    """(host.nlat, host.nlon) fraction of each host cell covered by fine land."""
    fine = static.grid
    land_area = np.zeros(host.size)
    covered = np.zeros(host.size)
    for j0 in range(0, fine.nlat, BLOCK_ROWS):
        window = fine.window(j0, min(j0 + BLOCK_ROWS, fine.nlat), 0, fine.nlon)
        land = static.read(mask_var, window).ravel() != 0
        dst, src, area = latlon_overlaps(window, host)
        np.add.at(covered, dst, area)
        np.add.at(land_area, dst, area * land[src])
    cell_area = host.areas().ravel()
    if np.any(covered < cell_area * (1 - 1e-9)):
        raise GridError(
            f"the static file '{static.path}' ({fine.spec}) does not cover the host grid "
            f"{host.spec}: every host cell must lie inside the fine grid"
        )
    return (land_area / cell_area).reshape(host.shape)


def make_domain(
    grid: LatLonGrid, static_path: Path, output: Path, mask_var: str = "landmask"
) -> HostGrid:
    """Write the domain file and return the host grid it describes."""
    with StaticFineData(static_path) as static:
        frac = np.clip(land_fraction(grid, static, mask_var), 0.0, 1.0)
    host = HostGrid.from_latlon(grid, mask=(frac > 0).astype(np.int32), frac=frac)
    host.write_domain(output)
    return host


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "domain",
        help="write an E3SM domain file whose land mask matches the fine static data",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--grid", required=True, metavar="latlon:NLAT,NLON:S,N,W,E", help="host grid")
    p.add_argument("--static", required=True, type=Path, help="static fine-grid file")
    p.add_argument("--mask-var", default="landmask", help="land mask variable of the static file")
    p.add_argument("-o", "--output", required=True, type=Path, help="domain file to write")
    p.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    host = make_domain(LatLonGrid.parse(args.grid), args.static, args.output, args.mask_var)
    active = int(np.count_nonzero(host.mask))
    print(f"wrote {args.output}: {host.n} host cells, {active} with land")
    return 0

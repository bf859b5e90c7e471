"""Conservative regridding between the fine emulator grid and host grids: exact lat-lon
overlaps, ESMF/SCRIP map files, and an MPI router with bit-for-bit reproducible application."""

from coupler.regrid.mapfile import read_map, read_map_distributed, write_esmf
from coupler.regrid.overlaps import latlon_overlaps, window_ids
from coupler.regrid.regridder import Regridder, lapse_rate_adjust
from coupler.regrid.router import SparseRemap
from coupler.regrid.weights import (
    Weights,
    bilinear_nonzeros,
    conservative_weights,
    interpolation_weights,
    nearest_nonzeros,
)

__all__ = [
    "Regridder",
    "SparseRemap",
    "Weights",
    "bilinear_nonzeros",
    "conservative_weights",
    "interpolation_weights",
    "lapse_rate_adjust",
    "latlon_overlaps",
    "nearest_nonzeros",
    "read_map",
    "read_map_distributed",
    "window_ids",
    "write_esmf",
]

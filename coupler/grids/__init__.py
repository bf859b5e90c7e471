"""Grids landemu knows: regular lat-lon grids (fine emulator grid, regular hosts) and host grids
read from E3SM domain or SCRIP grid files."""

from coupler.grids.host import HostGrid
from coupler.grids.latlon import LatLonGrid

__all__ = ["HostGrid", "LatLonGrid"]

"""Regular latitude-longitude grids described by their cell edges (the fine emulator grid and
regular host grids): everything about them is computed from six numbers, never stored per cell.

Convention: cell (j, i) has id j*nlon + i, j counted from the south. Longitudes
increase eastwards; a spec with W > E crosses the dateline and is stored with east = E + 360.
Edge k of n equal intervals of [lo, hi] is computed as (lo·n + (hi − lo)·k) / n: for the usual
grids (integer or decimal bounds) the numerator is exact, so the edge is the double nearest the
true value and nominally equal edges of different grids (a 1/120° grid nested in a 0.5° grid)
compare exactly equal. A window keeps its parent's formula, so tile edges are the parent's.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from coupler.errors import GridError

_SPEC = re.compile(
    r"^\s*latlon:\s*(\d+)\s*,\s*(\d+)\s*:\s*([^,]+),([^,]+),([^,]+),([^,]+?)\s*$", re.IGNORECASE
)


def _edges(base: tuple[int, float, float, int], k0: int, k1: int) -> np.ndarray:
    """Edges k0..k1 (inclusive) of base = (n, lo, hi, offset): n equal intervals of [lo, hi]."""
    n, lo, hi, off = base
    k = np.arange(k0 + off, k1 + off + 1, dtype=np.float64)
    return (lo * n + (hi - lo) * k) / n


@dataclass(frozen=True)
class LatLonGrid:
    """A regular lat-lon grid: nlat × nlon equal cells between south/north and west/east edges.

    Attributes are cell *edges* in degrees; ``east`` may exceed 180 (dateline crossing).
    """

    nlat: int
    nlon: int
    south: float
    north: float
    west: float
    east: float
    # (n, lo, hi, offset) of the parent grid's edge formula for windows; None for a parent
    lat_base: tuple | None = field(default=None, compare=False, repr=False)
    lon_base: tuple | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.lat_base is None:
            object.__setattr__(self, "lat_base", (int(self.nlat), self.south, self.north, 0))
        if self.lon_base is None:
            object.__setattr__(self, "lon_base", (int(self.nlon), self.west, self.east, 0))
        if int(self.nlat) < 1 or int(self.nlon) < 1:
            raise GridError(f"lat-lon grid needs nlat, nlon >= 1, got {self.nlat}, {self.nlon}")
        if not (-90.0 <= self.south < self.north <= 90.0):
            raise GridError(
                f"lat-lon grid needs -90 <= south < north <= 90, got south={self.south}, "
                f"north={self.north}"
            )
        if not (self.west < self.east <= self.west + 360.0 + 1e-9):
            raise GridError(
                f"lat-lon grid needs west < east <= west + 360, got west={self.west}, "
                f"east={self.east}"
            )

    # -- construction -------------------------------------------------------------------
    @classmethod
    def parse(cls, spec: str) -> LatLonGrid:
        """Grid from ``latlon:NLAT,NLON:S,N,W,E`` (edges in degrees; W > E crosses the dateline)."""
        m = _SPEC.match(spec)
        if not m:
            raise GridError(
                f"grid spec '{spec}' is not of the form latlon:NLAT,NLON:S,N,W,E "
                "(e.g. latlon:360,720:-90,90,-180,180)"
            )
        try:
            nlat, nlon = int(m.group(1)), int(m.group(2))
            s, n, w, e = (float(m.group(k)) for k in range(3, 7))
        except ValueError as exc:
            raise GridError(f"grid spec '{spec}': {exc}") from exc
        if w >= e:
            e += 360.0
        return cls(nlat, nlon, s, n, w, e)

    @property
    def spec(self) -> str:
        """The ``latlon:`` spec string of this grid (east given modulo the dateline rule)."""
        e = self.east - 360.0 if self.east > 180.0 and self.east - 360.0 <= self.west else self.east
        return f"latlon:{self.nlat},{self.nlon}:{self.south!r},{self.north!r},{self.west!r},{e!r}"

    # -- sizes -------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return int(self.nlat) * int(self.nlon)

    @property
    def shape(self) -> tuple[int, int]:
        """(nlat, nlon): the (ny, nx) shape of a field on this grid."""
        return (int(self.nlat), int(self.nlon))

    @property
    def dlat(self) -> float:
        return (self.north - self.south) / self.nlat

    @property
    def dlon(self) -> float:
        return (self.east - self.west) / self.nlon

    @property
    def is_global_lon(self) -> bool:
        """True when the cells wrap all the way round (east = west + 360)."""
        return abs(self.east - self.west - 360.0) < 1e-9

    # -- coordinates -------------------------------------------------------------------
    def lat_edges(self, j0: int = 0, j1: int | None = None) -> np.ndarray:
        """Latitude edges of rows j0..j1-1: shape (j1-j0+1,), degrees, south → north."""
        j1 = self.nlat if j1 is None else j1
        return _edges(self.lat_base, j0, j1)

    def lon_edges(self, i0: int = 0, i1: int | None = None) -> np.ndarray:
        """Longitude edges of columns i0..i1-1: shape (i1-i0+1,), degrees, increasing."""
        i1 = self.nlon if i1 is None else i1
        return _edges(self.lon_base, i0, i1)

    def lat_centres(self, j0: int = 0, j1: int | None = None) -> np.ndarray:
        """Latitude of row centres, shape (j1-j0,), degrees (mid-point of the edges)."""
        e = self.lat_edges(j0, j1)
        return 0.5 * (e[:-1] + e[1:])

    def lon_centres(self, i0: int = 0, i1: int | None = None) -> np.ndarray:
        """Longitude of column centres, shape (i1-i0,), degrees (mid-point of the edges)."""
        e = self.lon_edges(i0, i1)
        return 0.5 * (e[:-1] + e[1:])

    def cell_area_sr(self, j0: int = 0, j1: int | None = None) -> np.ndarray:
        """Cell area in steradians for rows j0..j1-1, shape (j1-j0,) (area depends on lat only).

        dlon·(sin φ1 − sin φ0), with the difference of sines written as 2·cos·sin of the
        half-sum/half-difference so that thin rows keep full relative precision.
        """
        e = np.deg2rad(self.lat_edges(j0, j1))
        return math.radians(self.dlon) * sin_diff(e[:-1], e[1:])

    def areas(self, j0: int = 0, j1: int | None = None) -> np.ndarray:
        """Cell areas of rows j0..j1-1, shape (j1-j0, nlon), steradians.

        Uses each column's actual edge difference, so a cell's area equals the sum of its exact
        overlaps to rounding (cell_area_sr uses the nominal width; they differ by ~1e-13).
        """
        e = np.deg2rad(self.lat_edges(j0, j1))
        width = np.deg2rad(np.diff(self.lon_edges()))
        return sin_diff(e[:-1], e[1:])[:, None] * width[None, :]

    def window(self, j0: int, j1: int, i0: int, i1: int) -> LatLonGrid:
        """The sub-grid of rows j0..j1-1 and columns i0..i1-1 (edges identical to this grid's)."""
        if not (0 <= j0 < j1 <= self.nlat and 0 <= i0 < i1 <= self.nlon):
            raise GridError(
                f"window rows {j0}:{j1}, cols {i0}:{i1} is outside grid {self.nlat}x{self.nlon}"
            )
        la = self.lat_edges(j0, j1)
        lo = self.lon_edges(i0, i1)
        lb, ob = self.lat_base, self.lon_base
        return LatLonGrid(
            j1 - j0,
            i1 - i0,
            float(la[0]),
            float(la[-1]),
            float(lo[0]),
            float(lo[-1]),
            (lb[0], lb[1], lb[2], lb[3] + j0),
            (ob[0], ob[1], ob[2], ob[3] + i0),
        )

    def ids(
        self, j0: int = 0, j1: int | None = None, i0: int = 0, i1: int | None = None
    ) -> np.ndarray:
        """Global 0-based ids (j*nlon + i) of a window, shape ((j1-j0)*(i1-i0),), row-major."""
        j1 = self.nlat if j1 is None else j1
        i1 = self.nlon if i1 is None else i1
        j = np.arange(j0, j1, dtype=np.int64)[:, None]
        i = np.arange(i0, i1, dtype=np.int64)[None, :]
        return (j * self.nlon + i).ravel()

    def corners(self, j0: int = 0, j1: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Corner (lat, lon) of rows j0..j1-1, each ((j1-j0)*nlon, 4), counter-clockwise from SW."""
        j1 = self.nlat if j1 is None else j1
        la = self.lat_edges(j0, j1)
        lo = self.lon_edges()
        nj, ni = j1 - j0, self.nlon
        clat = np.empty((nj, ni, 4))
        clon = np.empty((nj, ni, 4))
        clat[:, :, 0] = clat[:, :, 1] = la[:-1, None]
        clat[:, :, 2] = clat[:, :, 3] = la[1:, None]
        clon[:, :, 0] = clon[:, :, 3] = lo[None, :-1]
        clon[:, :, 1] = clon[:, :, 2] = lo[None, 1:]
        return clat.reshape(-1, 4), clon.reshape(-1, 4)

    def centres(self, j0: int = 0, j1: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Centre (lat, lon) of rows j0..j1-1, each ((j1-j0)*nlon,), degrees."""
        j1 = self.nlat if j1 is None else j1
        la = self.lat_centres(j0, j1)
        lo = self.lon_centres()
        return np.repeat(la, self.nlon), np.tile(lo, j1 - j0)


def sin_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sin(b) − sin(a) for radians, as 2·cos((a+b)/2)·sin((b−a)/2) (no cancellation)."""
    return 2.0 * np.cos(0.5 * (a + b)) * np.sin(0.5 * (b - a))

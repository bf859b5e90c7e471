"""Horizontal grids of xarray objects: find the CF latitude/longitude of a Dataset or DataArray
and turn them into the engine's `LatLonGrid` (and back, for output coordinates).

The engine counts rows from the south; a grid stored north → south (ERA5, many GeoTIFFs) is
described by the same `LatLonGrid` plus `flip_lat`, and the xarray face reverses rows on the
way in and out. Edges come from CF bounds when present, else from equally spaced centres,
snapped to the grid's own lattice (so a 1/120° grid read from float32 centres gets exactly the
edges `latlon:` specs give).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from coupler.errors import GridError
from coupler.grids.latlon import LatLonGrid

LAT_NAMES = ("lat", "latitude", "nav_lat")
LON_NAMES = ("lon", "longitude", "nav_lon")
LAT_UNITS = ("degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn")
LON_UNITS = ("degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese")
_SPACING_TOL = 1e-3  # centres this close (in cells) to equal spacing are regular (float32)
_SNAP_TOL = 1e-3  # edges within this fraction of a cell of the grid lattice are snapped to it


@dataclass(frozen=True)
class Horizontal:
    """Where a field's horizontal grid lives: its dims (in the engine's order), sizes, the
    coordinates to give an output on it, and how it maps onto the engine's grid.

    dims : e.g. ('lat', 'lon') — (rows, columns), or one dim for an unstructured grid.
    coords : coordinate variables to attach to fields on this grid (name → DataArray).
    grid : the engine grid (None for a grid known only from a map file).
    flip_lat : rows stored north → south (reversed on the way into / out of the engine).
    """

    dims: tuple[str, ...]
    shape: tuple[int, ...]
    coords: dict = field(default_factory=dict, compare=False)
    grid: LatLonGrid | None = None
    flip_lat: bool = False
    bounds: tuple[str, ...] = ()  # names of bounds variables belonging to this grid

    def to_engine(self, values: np.ndarray) -> np.ndarray:
        """(..., *shape) in storage order → the engine's south → north order."""
        return values[..., ::-1, :] if self.flip_lat else values

    def from_engine(self, values: np.ndarray) -> np.ndarray:
        """Inverse of to_engine."""
        return self.to_engine(values)

    def check_shape(self, sizes: dict, what: str) -> None:
        """GridError quoting both sides when `sizes` lacks a dim or has the wrong sizes."""
        missing = [d for d in self.dims if d not in sizes]
        if missing:
            raise GridError(
                f"{what} has dims {tuple(sizes)}, but the regridder needs horizontal dims "
                f"{self.dims} (missing {', '.join(map(repr, missing))})"
            )
        got = tuple(int(sizes[d]) for d in self.dims)
        if got != self.shape:
            raise GridError(
                f"{what} has horizontal shape {got} ({', '.join(self.dims)}), the regridder "
                f"was built for {self.shape}"
            )


def _is(coord: xr.DataArray, names: tuple[str, ...], units: tuple[str, ...], std: str) -> bool:
    unit = str(coord.attrs.get("units", "")).lower().replace(" ", "")
    return (
        coord.attrs.get("standard_name") == std or unit in units or str(coord.name).lower() in names
    )


def find_latlon(
    obj: xr.Dataset | xr.DataArray, curvilinear: bool = False
) -> tuple[xr.DataArray, xr.DataArray]:
    """The latitude and longitude coordinates of obj (CF standard_name, units, or name);
    1-D unless `curvilinear`."""
    found = {}
    for axis, names, units in (
        ("latitude", LAT_NAMES, LAT_UNITS),
        ("longitude", LON_NAMES, LON_UNITS),
    ):
        hits = [c for c in obj.coords.values() if _is(c, names, units, axis)]
        if not hits:
            raise GridError(
                f"no {axis} coordinate found among {sorted(map(str, obj.coords))}: give it "
                f"standard_name '{axis}', units '{units[0]}', or name it '{names[0]}'"
            )
        found[axis] = min(hits, key=lambda c: c.ndim)
    lat, lon = found["latitude"], found["longitude"]
    if not curvilinear and (lat.ndim != 1 or lon.ndim != 1):
        raise GridError(
            f"latitude '{lat.name}' has dims {lat.dims} and longitude '{lon.name}' {lon.dims}: "
            "a curvilinear grid needs a map file (coupler.Regridder.from_map) made by ESMF, "
            "cdo or ncremap"
        )
    return lat, lon


def _snap(x: float, width: float) -> float:
    """x moved onto the grid lattice k·width when within _SNAP_TOL cells of it, where width
    divides one degree (1/120°, 0.05°, 0.25°…); else x rounded to 1e-9°."""
    per_degree = 1.0 / width
    n = round(per_degree)
    if n >= 1 and abs(per_degree - n) < 1e-6 * per_degree:
        k = x * n
        if abs(k - round(k)) < _SNAP_TOL:
            return round(k) / n
    return round(x, 9)


def _edges_1d(obj, coord: xr.DataArray, axis: str) -> tuple[float, float, bool, str | None]:
    """(first edge, last edge, reversed?, bounds name) of a regular 1-D coordinate."""
    c = np.asarray(coord.values, np.float64)
    n = c.size
    name = str(coord.name)
    if not np.all(np.isfinite(c)):
        raise GridError(f"{axis} coordinate '{name}' has NaN or infinite values")
    reverse = n > 1 and c[0] > c[-1]
    if reverse and axis == "longitude":
        raise GridError(f"longitude '{name}' decreases ({c[0]} → {c[-1]}); sort it first")
    cs = c[::-1] if reverse else c
    width = (cs[-1] - cs[0]) / (n - 1) if n > 1 else 0.0
    if n > 1:
        off = np.abs(cs - (cs[0] + width * np.arange(n))).max() / width
        if np.any(np.diff(cs) <= 0) or off > _SPACING_TOL:
            raise GridError(
                f"{axis} '{name}' is not equally spaced (a centre is {off:.3g} cells off the "
                "straight line): the xarray face builds weights for regular lat-lon grids; "
                "for others pass a map file (coupler.Regridder.from_map)"
            )
    bname = coord.attrs.get("bounds")
    if isinstance(obj, xr.Dataset) and bname in obj.variables:
        b = np.asarray(obj[bname].values, np.float64)
        if b.shape != (n, 2):
            raise GridError(
                f"bounds '{bname}' of {axis} '{name}' have shape {b.shape}, not {(n, 2)}"
            )
        first, last = (b[-1], b[0]) if reverse else (b[0], b[-1])
        return float(first.min()), float(last.max()), reverse, str(bname)
    if n == 1:
        raise GridError(
            f"{axis} '{name}' has a single value and no bounds: add CF bounds "
            f"({name}.attrs['bounds']) so the cell width is known"
        )
    return _snap(cs[0] - width / 2, width), _snap(cs[-1] + width / 2, width), reverse, None


def horizontal_of(obj: xr.Dataset | xr.DataArray) -> Horizontal:
    """The horizontal grid of a Dataset/DataArray with 1-D CF lat/lon (regular spacing)."""
    lat, lon = find_latlon(obj)
    south, north, flip, lat_b = _edges_1d(obj, lat, "latitude")
    west, east, _, lon_b = _edges_1d(obj, lon, "longitude")
    grid = LatLonGrid(lat.size, lon.size, south, north, west, east)
    dims = (str(lat.dims[0]), str(lon.dims[0]))
    coords = {str(lat.name): lat.variable, str(lon.name): lon.variable}
    if isinstance(obj, xr.Dataset):
        coords |= {b: obj[b].variable for b in (lat_b, lon_b) if b is not None}
    bounds = tuple(b for b in (lat_b, lon_b) if b is not None)
    return Horizontal(dims, grid.shape, coords, grid, flip, bounds)


def grid_dataset(grid: LatLonGrid | str, *, bounds: bool = True) -> xr.Dataset:
    """An empty Dataset with CF lat/lon coordinates (and lat_bnds/lon_bnds) for a grid spec:
    a regridding target for `coupler.Regridder`, or a template for new fields."""
    g = LatLonGrid.parse(grid) if isinstance(grid, str) else grid
    lat = xr.Variable(
        "lat",
        g.lat_centres(),
        {"standard_name": "latitude", "units": "degrees_north", "axis": "Y"},
    )
    lon = xr.Variable(
        "lon",
        g.lon_centres(),
        {"standard_name": "longitude", "units": "degrees_east", "axis": "X"},
    )
    ds = xr.Dataset(coords={"lat": lat, "lon": lon})
    if bounds:
        la, lo = g.lat_edges(), g.lon_edges()
        ds["lat"].attrs["bounds"], ds["lon"].attrs["bounds"] = "lat_bnds", "lon_bnds"
        ds = ds.assign_coords(
            lat_bnds=(("lat", "nv"), np.stack([la[:-1], la[1:]], 1)),
            lon_bnds=(("lon", "nv"), np.stack([lo[:-1], lo[1:]], 1)),
        )
    return ds


def horizontal_from_grid(grid: LatLonGrid) -> Horizontal:
    """The Horizontal of a spec grid (coordinates and bounds as grid_dataset makes them)."""
    return horizontal_of(grid_dataset(grid))


def as_horizontal(target: xr.Dataset | xr.DataArray | LatLonGrid | str) -> Horizontal:
    """Horizontal of a Dataset, DataArray, LatLonGrid or `latlon:` spec string."""
    if isinstance(target, str | LatLonGrid):
        return horizontal_from_grid(LatLonGrid.parse(target) if isinstance(target, str) else target)
    if isinstance(target, xr.Dataset | xr.DataArray):
        return horizontal_of(target)
    raise GridError(
        f"a grid must be an xarray Dataset/DataArray, a LatLonGrid or a 'latlon:' spec, "
        f"got {type(target).__name__}"
    )


def horizontal_from_centres(
    dims: tuple[int, ...], lat: np.ndarray | None, lon: np.ndarray | None, side: str
) -> Horizontal:
    """Horizontal of a grid known only from a map file: 1-D lat/lon when the stored centres
    are separable (a rectilinear grid), else dims (y, x) with 2-D lat/lon coordinates, or
    one dim `n_<side>` for an unstructured grid."""
    n = int(np.prod(dims))
    attrs_lat = {"standard_name": "latitude", "units": "degrees_north"}
    attrs_lon = {"standard_name": "longitude", "units": "degrees_east"}
    if len(dims) == 1 or lat is None or lon is None:
        name = f"n_{side}"
        coords = {}
        if lat is not None and lon is not None:
            coords = {
                "lat": xr.Variable(name, np.asarray(lat).reshape(n), attrs_lat),
                "lon": xr.Variable(name, np.asarray(lon).reshape(n), attrs_lon),
            }
        return Horizontal((name,), (n,), coords)
    la, lo = np.asarray(lat).reshape(dims), np.asarray(lon).reshape(dims)
    if np.all(la == la[:, :1]) and np.all(lo == lo[:1, :]):
        coords = {
            "lat": xr.Variable("lat", la[:, 0], attrs_lat),
            "lon": xr.Variable("lon", lo[0, :], attrs_lon),
        }
        return Horizontal(("lat", "lon"), tuple(dims), coords)
    coords = {
        "lat": xr.Variable(("y", "x"), la, attrs_lat),
        "lon": xr.Variable(("y", "x"), lo, attrs_lon),
    }
    return Horizontal(("y", "x"), tuple(dims), coords)


def horizontal_as_stored(obj: xr.Dataset | xr.DataArray) -> Horizontal:
    """Horizontal of obj's lat/lon exactly as stored (any spacing, 1-D or 2-D, no flip): for
    a map file, whose cells are numbered in the order of the grid it was made on."""
    lat, lon = find_latlon(obj, curvilinear=True)
    dims = tuple(dict.fromkeys(map(str, (*lat.dims, *lon.dims))))
    sizes = dict(zip(lat.dims + lon.dims, lat.shape + lon.shape, strict=True))
    coords = {str(lat.name): lat.variable, str(lon.name): lon.variable}
    bounds = []
    for c in (lat, lon):
        b = c.attrs.get("bounds")
        if isinstance(obj, xr.Dataset) and b in obj.variables:
            coords[str(b)] = obj[b].variable
            bounds.append(str(b))
    return Horizontal(dims, tuple(int(sizes[d]) for d in dims), coords, None, False, tuple(bounds))

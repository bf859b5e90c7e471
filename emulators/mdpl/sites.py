"""The 20 PLUMBER2 sites of MdPL Table 1, their attributes and their generated forcing.

Why: the surrogate, the parameter generator and every evaluation work per site. Coordinates
and PFT groups are the paper's (Table 1; its "lon, lat" header is swapped, the values are
lat, lon). Real PLUMBER2 forcing, fluxes and soil data are not installable offline
(REFERENCES.md), so forcing comes from landemu's ERA5-climatology weather generator at each
site and soil texture / elevation are *assumed* round values (documented as such): this is a
twin experiment, not a reproduction of the paper's observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupler.errors import FieldError
from emulators.landmodel import GROUP_NAMES, parameter_table


@dataclass(frozen=True)
class Site:
    """One flux site: location, ELM PFT (inside its MdPL group), assumed soil and elevation."""

    name: str
    lat: float
    lon: float
    group: str  # one of GROUP_NAMES
    pft: int  # ELM PFT index 1..16 belonging to `group`
    sand: float  # % (assumed)
    clay: float  # % (assumed)
    elevation: float  # m (approximate)

    @property
    def group_index(self) -> int:
        """0-based index of the PFT group (evergreen_forest, woodland, grassland, cultivation)."""
        return GROUP_NAMES.index(self.group)


_EF, _WD, _GR, _CU = GROUP_NAMES
SITES: tuple[Site, ...] = (
    Site("CN-Din", 23.17, 112.54, _EF, 5, 35.0, 35.0, 300.0),
    Site("ID-Pag", -2.32, 113.90, _EF, 4, 30.0, 45.0, 30.0),
    Site("PT-Esp", 38.64, -8.60, _EF, 5, 60.0, 15.0, 95.0),
    Site("PT-Mi1", 38.54, -8.00, _EF, 5, 65.0, 12.0, 260.0),
    Site("AR-SLu", -33.46, -66.46, _WD, 7, 70.0, 10.0, 1000.0),
    Site("CN-Cha", 42.40, 128.10, _WD, 7, 40.0, 20.0, 760.0),
    Site("DE-Meh", 51.28, 10.66, _WD, 7, 20.0, 35.0, 290.0),
    Site("JP-SMF", 35.26, 137.08, _WD, 7, 45.0, 20.0, 210.0),
    Site("US-Bar", 44.06, -71.29, _WD, 7, 55.0, 10.0, 270.0),
    Site("AU-Emr", -23.86, 148.47, _GR, 14, 35.0, 40.0, 175.0),
    Site("CN-Dan", 30.85, 91.08, _GR, 12, 50.0, 15.0, 4300.0),
    Site("CN-Du2", 42.05, 116.28, _GR, 13, 70.0, 8.0, 1350.0),
    Site("DK-Lva", 55.68, 12.08, _GR, 13, 55.0, 12.0, 15.0),
    Site("IE-Dri", 51.99, -8.75, _GR, 13, 40.0, 22.0, 185.0),
    Site("PL-wet", 52.76, 16.31, _GR, 13, 30.0, 10.0, 55.0),
    Site("DE-Seh", 50.87, 6.45, _CU, 15, 20.0, 25.0, 100.0),
    Site("DK-Fou", 56.48, 9.59, _CU, 15, 60.0, 10.0, 50.0),
    Site("IE-Ca1", 52.86, -6.92, _CU, 15, 40.0, 25.0, 50.0),
    Site("IT-BCi", 40.52, 14.96, _CU, 15, 35.0, 30.0, 20.0),
    Site("IT-CA2", 42.38, 12.03, _CU, 15, 30.0, 35.0, 200.0),
)
SITE_NAMES: tuple[str, ...] = tuple(s.name for s in SITES)
# attributes handed to the parameter generator: lat, sin/cos lon, sand, clay, elevation, group
N_ATTR = 6 + len(GROUP_NAMES)


def site(name: str) -> Site:
    """The site called `name` (FieldError listing the known ones otherwise)."""
    for s in SITES:
        if s.name == name:
            return s
    raise FieldError(f"unknown MdPL site '{name}'; expected one of {SITE_NAMES}")


def check_group(group: str, pft: int | None = None) -> None:
    """Raise FieldError unless `group` is an MdPL PFT group (and `pft` belongs to it)."""
    if group not in GROUP_NAMES:
        raise FieldError(f"unknown PFT group '{group}'; expected one of {GROUP_NAMES}")
    if pft is not None and parameter_table().pft_group[pft] != GROUP_NAMES.index(group) + 1:
        raise FieldError(f"ELM PFT {pft} does not belong to PFT group '{group}'")


def attributes(s: Site) -> np.ndarray:
    """Static attribute vector (N_ATTR,) of a site, scaled to O(1) for the generator."""
    one = [np.array([v], dtype=float) for v in (s.lat, s.lon, s.sand, s.clay, s.elevation)]
    return attribute_matrix(*one, np.array([s.group_index]))[0]


def attribute_matrix(
    lat: np.ndarray,
    lon: np.ndarray,
    sand: np.ndarray,
    clay: np.ndarray,
    elevation: np.ndarray,
    group_index: np.ndarray,
) -> np.ndarray:
    """Attribute vectors (n, N_ATTR) of n columns or sites: lat/90, sin/cos lon, sand and
    clay fractions, elevation in km, PFT group one-hot (0-based group_index)."""
    lon_r = np.deg2rad(np.asarray(lon, dtype=float))
    onehot = np.eye(len(GROUP_NAMES))[np.asarray(group_index, dtype=int)]
    head = [np.asarray(lat) / 90.0, np.sin(lon_r), np.cos(lon_r)]
    head += [np.asarray(sand) / 100.0, np.asarray(clay) / 100.0, np.asarray(elevation) / 1000.0]
    return np.concatenate([np.stack(head, axis=1), onehot], axis=1).astype(np.float32)


for _s in SITES:
    check_group(_s.group, _s.pft)

"""The 12 MdPL PFT parameters, their ranges and defaults, and ELM's 17 PFTs.

Why in Python as well as in Fortran: ensemble design (sampling, scaling to ranges, naming
columns of training data) happens in Python, but the numbers must be the Fortran ones, so
`parameter_table()` reads them from the library and a test checks the names agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from coupler.errors import FieldError
from emulators.landmodel import _lib

PARAM_NAMES: tuple[str, ...] = (
    "vegh",
    "rlfv",
    "rlfn",
    "tlfn",
    "vgcov",
    "cdl",
    "chl",
    "vmax0",
    "gradm",
    "binter",
    "effcon",
    "psicr",
)
PARAM_UNITS: tuple[str, ...] = (
    "m",
    "1",
    "1",
    "1",
    "1",
    "1",
    "1",
    "mol m-2 s-1",
    "1",
    "mol m-2 s-1",
    "mol mol-1",
    "kPa",
)
GROUP_NAMES: tuple[str, ...] = ("evergreen_forest", "woodland", "grassland", "cultivation")
PFT_NAMES: tuple[str, ...] = (
    "not_vegetated",
    "needleleaf_evergreen_temperate_tree",
    "needleleaf_evergreen_boreal_tree",
    "needleleaf_deciduous_boreal_tree",
    "broadleaf_evergreen_tropical_tree",
    "broadleaf_evergreen_temperate_tree",
    "broadleaf_deciduous_tropical_tree",
    "broadleaf_deciduous_temperate_tree",
    "broadleaf_deciduous_boreal_tree",
    "broadleaf_evergreen_shrub",
    "broadleaf_deciduous_temperate_shrub",
    "broadleaf_deciduous_boreal_shrub",
    "c3_arctic_grass",
    "c3_non-arctic_grass",
    "c4_grass",
    "c3_crop",
    "c3_irrigated",
)
NPARAM = len(PARAM_NAMES)
NPFT = len(PFT_NAMES)
CROP_PFTS = (15, 16)


@dataclass(frozen=True)
class ParameterTable:
    """Ranges and defaults as compiled into the library (MdPL Table 2)."""

    lo: np.ndarray  # (12,)
    hi: np.ndarray  # (12,)
    group_defaults: np.ndarray  # (4, 12): evergreen forest, woodland, grassland, cultivation
    pft_group: np.ndarray  # (17,) int: 1..4, 0 = bare soil
    pft_defaults: np.ndarray  # (17, 12)

    def index(self, name: str) -> int:
        """Position of a parameter name (FieldError naming the valid ones otherwise)."""
        if name not in PARAM_NAMES:
            raise FieldError(f"unknown PFT parameter '{name}'; expected one of {PARAM_NAMES}")
        return PARAM_NAMES.index(name)


@lru_cache(maxsize=1)
def parameter_table() -> ParameterTable:
    """Read ranges, group defaults and the PFT → group map from the Fortran library."""
    lo = np.zeros(NPARAM)
    hi = np.zeros(NPARAM)
    defaults = np.zeros((4, NPARAM))
    groups = np.zeros(NPFT, dtype=np.int32)
    _lib.lib().hm_param_table(lo, hi, defaults, groups)
    pft = np.zeros((NPFT, NPARAM))
    _lib.lib().hm_default_params(pft)
    for arr in (lo, hi, defaults, groups, pft):
        arr.setflags(write=False)
    return ParameterTable(lo, hi, defaults, groups, pft)


def default_params(ncol: int) -> np.ndarray:
    """Default parameter records for `ncol` columns, shape (ncol, 17, 12), C order, writable
    (a copy, also for one column)."""
    base = parameter_table().pft_defaults
    return np.broadcast_to(base, (ncol, NPFT, NPARAM)).copy()


def check_params(params: np.ndarray) -> None:
    """Raise FieldError naming the first parameter outside its range (same rule as Fortran)."""
    tab = parameter_table()
    bad = ~((params >= tab.lo) & (params <= tab.hi))
    if bad.any():
        c, p, k = (int(v) for v in np.argwhere(bad)[0])
        raise FieldError(
            f"parameter {PARAM_NAMES[k]} = {params[c, p, k]:g} {PARAM_UNITS[k]} for PFT {p} "
            f"({PFT_NAMES[p]}) of column {c} is outside its range "
            f"[{tab.lo[k]:g}, {tab.hi[k]:g}] (MdPL Table 2)"
        )

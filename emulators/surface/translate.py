"""One block of fine cells from emulator output to ELM per-cell parameters (pure, no I/O).

Land cover (emulators/lulc's scheme) + monthly climate → surface class (pft.py); monthly
LAI → LAI of the cell's PFT (0 on bare soil), SAI by the Zeng recursion with explicit
state (vegetation.py); canopy heights; soil from six source layers to ELM's ten, filled
over cells without soil (soil.py). A pipeline step calls `translate_block` on its tile and
keeps `SaiState` in its restart; `aggregate.SurfaceSums` then integrates the result over
host cells.
"""

from __future__ import annotations

import numpy as np

from coupler.errors import FieldError
from emulators.surface.aggregate import FineCells
from emulators.surface.pft import N_PFT, NODATA, landcover_to_surface_class
from emulators.surface.soil import SOIL_FIELDS, check_soil, fill_nearest, to_elm_layers
from emulators.surface.vegetation import SaiState, canopy_heights, sai_step, sai_year


def translate_block(
    land_cover: np.ndarray,
    t_monthly_c: np.ndarray,
    p_monthly_mm: np.ndarray,
    lai_monthly: np.ndarray,
    soil_source: dict[str, np.ndarray],
    *,
    height_top: np.ndarray | None = None,
    urban_density: np.ndarray | None = None,
    irrigated: np.ndarray | None = None,
    sai_state: SaiState | None = None,
) -> tuple[FineCells, SaiState]:
    """Translate a (ny, nx) block; arrays with a month/layer axis have it first.

    Returns the flattened FineCells and the SAI state after December (for the next year).
    """
    land_cover = np.asarray(land_cover)
    shape = land_cover.shape
    lai = np.asarray(lai_monthly, dtype=np.float64)
    if lai.shape != (12, *shape):
        raise FieldError(f"monthly LAI has shape {lai.shape}, expected (12, {shape})")
    if np.any(lai < 0) or not np.all(np.isfinite(lai[:, land_cover != NODATA])):
        raise FieldError("monthly LAI has negative or non-finite values on land")
    check_soil(soil_source, "soil source")
    surface = landcover_to_surface_class(
        land_cover,
        t_monthly_c,
        p_monthly_mm,
        lai_monthly=lai,
        urban_density=urban_density,
        irrigated=irrigated,
    )
    pft = np.where((surface >= 0) & (surface < N_PFT), surface, 0)
    lai = np.where(pft > 0, np.nan_to_num(lai), 0.0)
    sai, state = sai_year(lai, pft, sai_state)
    top, bot = canopy_heights(pft, height_top)
    soil = fine_soil(soil_source, surface >= 0)
    n = land_cover.size
    cells = FineCells(
        surface.reshape(-1),
        lai.reshape(12, n),
        sai.reshape(12, n),
        top.reshape(-1),
        bot.reshape(-1),
        soil,
    )
    return cells, state


#: What an online step exports per fine cell each month, before aggregation (level axes:
#: pft = 17 for the PCT/LAI/SAI fields after `SurfaceSums`, month = 12, levsoi = 10).
MONTHLY_STEP_STATE = ("sai_prev_lai", "sai_prev_sai")


def monthly_step(
    surface_class: np.ndarray, lai: np.ndarray, state: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """One month of the online translation: this month's fine LAI (from the LAI emulator) on
    the cells' PFTs, and SAI by one step of the Zeng recursion from the step's state.

    surface_class : (...) from `landcover_to_surface_class` (computed once a year).
    state : {"sai_prev_lai", "sai_prev_sai"} (...) arrays the step owns and restarts carry;
        updated in place. Start them at LAI_Dec and the PFT's SAI_min (or spin up with
        `sai_year`). Returns {"LAI": ..., "SAI": ...} per cell (0 where no PFT).
    """
    missing = [k for k in MONTHLY_STEP_STATE if k not in state]
    if missing:
        raise FieldError(f"monthly surface step: state {missing} missing")
    pft = np.where((surface_class >= 0) & (surface_class < N_PFT), surface_class, 0)
    lai = np.where(pft > 0, np.asarray(lai, dtype=np.float64), 0.0)
    if lai.shape != pft.shape:
        raise FieldError(f"LAI has shape {lai.shape}, the surface classes {pft.shape}")
    prev = SaiState(state["sai_prev_lai"], state["sai_prev_sai"])
    sai = sai_step(lai, pft, prev)
    state["sai_prev_lai"][...] = lai
    state["sai_prev_sai"][...] = sai
    return {"LAI": lai, "SAI": sai}


def fine_soil(soil_source: dict[str, np.ndarray], land: np.ndarray) -> dict[str, np.ndarray]:
    """Soil on ELM's ten layers {name: (10, n)} of a (ny, nx) block, filled from the nearest
    cell with soil on `land` (lakes included: their soil comes from that nearest cell)."""
    soil = {}
    for name in SOIL_FIELDS:
        layers = to_elm_layers(soil_source[name])
        filled = fill_nearest(np.where(land, layers, np.nan), needed=land)
        soil[name] = filled.reshape(len(layers), -1)
    return soil

"""Per-PFT vegetation structure: stem area index by the Zeng (2002) recursion, canopy heights.

SAI, as ELM/CTSM's satellite-phenology tools implement Zeng et al. (2002), follows leaf loss:
each month keeps a fraction α of last month's stems and gains the leaf area lost since then,

    SAI_m = max(α·SAI_{m−1} + max(LAI_{m−1} − LAI_m, 0), SAI_min)

with α = 0.5 and SAI_min = 1.0 for natural PFTs, α = 0 and SAI_min = 0.1 for crops, and
SAI = 0 on bare soil (PFT 0). The recursion carries state (last month's LAI and SAI) from
one month to the next and across years, so it is a pure function of explicit state that a
pipeline step can keep in its restart. Without state (an offline year) the year is spun up
by running it once from (LAI_Dec, SAI_min) and keeping the second pass, the cycle-stationary
answer to within α^12 ≈ 2e-4.

Heights: canopy top from a height field when given, otherwise the CLM5/ELM PFT defaults
(mksurfdata's table: trees 14–35 m, shrubs 0.5 m, grasses and crops 0.5 m); canopy bottom =
top × the PFT's default bottom/top ratio (seed 000 §2.2.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from coupler.errors import FieldError
from emulators.surface.pft import CROP_PFTS, N_PFT

HEIGHT_TOP_DEFAULT = np.array(
    [0.0, 17.0, 17.0, 14.0, 35.0, 35.0, 18.0, 20.0, 20.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
)
HEIGHT_BOT_DEFAULT = np.array(
    [0.0, 8.5, 8.5, 7.0, 1.0, 1.0, 10.0, 11.5, 11.5, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01, 0.01]
)
BOTTOM_RATIO = np.divide(
    HEIGHT_BOT_DEFAULT, HEIGHT_TOP_DEFAULT, out=np.zeros(N_PFT), where=HEIGHT_TOP_DEFAULT > 0
)

SAI_ALPHA = np.where(np.isin(np.arange(N_PFT), CROP_PFTS), 0.0, 0.5)
SAI_MIN = np.where(np.isin(np.arange(N_PFT), CROP_PFTS), 0.1, 1.0)
SAI_MIN[0] = 0.0
SAI_ALPHA[0] = 0.0


@dataclass(frozen=True)
class SaiState:
    """What the recursion needs from the previous month: its LAI and SAI (per cell)."""

    lai: np.ndarray
    sai: np.ndarray


def _pft_index(pft: np.ndarray) -> np.ndarray:
    pft = np.asarray(pft)
    if pft.size and (pft.min() < 0 or pft.max() >= N_PFT):
        raise FieldError(f"PFT indices must be 0..{N_PFT - 1}; got {pft.min()}..{pft.max()}")
    return pft.astype(np.int64)


def sai_step(lai: np.ndarray, pft: np.ndarray, state: SaiState) -> np.ndarray:
    """SAI of this month from this month's LAI and last month's state (one recursion step)."""
    p = _pft_index(pft)
    lai = np.asarray(lai, dtype=np.float64)
    sai = SAI_ALPHA[p] * state.sai + np.maximum(state.lai - lai, 0.0)
    return np.where(p == 0, 0.0, np.maximum(sai, SAI_MIN[p]))


def sai_year(
    lai_monthly: np.ndarray, pft: np.ndarray, state: SaiState | None = None
) -> tuple[np.ndarray, SaiState]:
    """Monthly SAI (12, ...) for a year of monthly LAI (12, ...), and the state after December.

    Without `state`, the year is spun up once (see the module docstring).
    """
    lai_monthly = np.asarray(lai_monthly, dtype=np.float64)
    if lai_monthly.shape[0] != 12:
        raise FieldError(f"monthly LAI must have 12 months first; got shape {lai_monthly.shape}")
    if state is None:
        p = _pft_index(pft)
        _, state = sai_year(lai_monthly, pft, SaiState(lai_monthly[11], SAI_MIN[p] + 0.0 * p))
    out = np.empty_like(lai_monthly)
    for m in range(12):
        out[m] = sai_step(lai_monthly[m], pft, state)
        state = SaiState(lai_monthly[m], out[m])
    return out, state


def canopy_heights(
    pft: np.ndarray, height_top: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(top, bottom) canopy heights in m per cell: the height field (where finite) or the PFT
    default for the top, bottom = top × the PFT's default ratio; 0 on bare soil."""
    p = _pft_index(pft)
    top = HEIGHT_TOP_DEFAULT[p]
    if height_top is not None:
        h = np.asarray(height_top, dtype=np.float64)
        if h.shape != p.shape:
            raise FieldError(f"canopy height has shape {h.shape}, the PFT map {p.shape}")
        if np.any(h < 0):
            raise FieldError("canopy height has negative values")
        top = np.where(np.isfinite(h) & (p > 0), h, top)
    return top, top * BOTTOM_RATIO[p]

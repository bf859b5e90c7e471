"""Default vegetation for host-model columns: monthly LAI per PFT and SAI from LAI.

Why: the host needs LAI/SAI for every PFT when landemu does not (yet) export them, and
perturbed-parameter ensembles need a plausible seasonal canopy. The rules live in Fortran
(hm_vegetation.f90: a cosine season peaking in July north of the equator and in January
south of it, flat within 30° of the equator; SAI by the Zeng 2002 recursion of CLM/ELM) so
that the host program and Python use one implementation; these functions call them.
"""

from __future__ import annotations

import numpy as np

from emulators.landmodel import _lib
from emulators.landmodel.params import NPFT


def default_vegetation(lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Default monthly (LAI, SAI) per PFT at latitudes `lat`, each (ncol, 12, 17)."""
    lat = np.ascontiguousarray(np.atleast_1d(np.asarray(lat, dtype=np.float64)))
    mlai = np.zeros((lat.size, 12, NPFT))
    msai = np.zeros((lat.size, 12, NPFT))
    _lib.lib().hm_default_vegetation(lat.size, lat, mlai, msai)
    return mlai, msai


def default_monthly_lai(lat: np.ndarray) -> np.ndarray:
    """Default monthly LAI per PFT, (ncol, 12, 17) (see hm_vegetation.f90)."""
    return default_vegetation(lat)[0]


def sai_from_lai(monthly_lai: np.ndarray) -> np.ndarray:
    """Monthly SAI from monthly LAI by the Zeng (2002) recursion, shape (ncol, 12, 17).

    SAI_m = max(a SAI_{m-1} + max(LAI_{m-1} - LAI_m, 0), SAI_min), a = 0.5 and SAI_min = 1
    for natural PFTs, a = 0 and SAI_min = 0.1 for crops (PFTs 15, 16), iterated over three
    years (cyclic); bare soil has no stems. Same rule as hm_vegetation.f90's sai_from_lai.
    """
    lai = np.asarray(monthly_lai, dtype=float)
    a = np.full(NPFT, 0.5)
    smin = np.full(NPFT, 1.0)
    a[15:], smin[15:] = 0.0, 0.1
    sai = np.broadcast_to(smin, lai[..., 0, :].shape).copy()
    out = np.empty_like(lai)
    for _ in range(3):
        for m in range(12):
            sai = np.maximum(a * sai + np.maximum(lai[..., m - 1, :] - lai[..., m, :], 0.0), smin)
            out[..., m, :] = sai
    out[..., 0] = 0.0
    return out

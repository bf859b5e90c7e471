"""The host physics on an ELM surface dataset: one host column per land cell of the file.

Why: the host must run on landemu's PFTs and LAI end to end. The Fortran host program takes
them online as exports (PCT_PFT — this module's merge, made by the `surface_elm` step — or
PCT_NAT_PFT, MONTHLY_LAI/SAI/HEIGHT_TOP with 17 levels); offline, this builds the
same columns from a `landemu surfdata` file for the ctypes batch model (emulators/landmodel).
The host has one vegetated land unit, so the natural-vegetation and crop land units are
merged (PCT_NAT_PFT·PCT_NATVEG + PCT_CFT·PCT_CROP, renormalised to 100 %); lake, wetland,
glacier and urban shares are left out (the host physics has no such units).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from coupler.errors import DataFileError
from emulators.landmodel import HostModel
from emulators.surface.pft import CROP_PFTS


def host_pft_percent(fields: dict[str, np.ndarray]) -> np.ndarray:
    """(17, ...) PFT percentages of the vegetated land (natural + crop), summing to 100;
    100 % bare soil where neither land unit exists."""
    pct = fields["PCT_NAT_PFT"] * fields["PCT_NATVEG"][None] / 100.0
    pct[list(CROP_PFTS)] = fields["PCT_CFT"] * fields["PCT_CROP"][None] / 100.0
    total = pct.sum(axis=0)
    ok = total > 0
    out = np.where(ok, 100.0 * pct / np.where(ok, total, 1.0), 0.0)
    out[0] = np.where(ok, out[0], 100.0)
    return out


def read_surfdata(path: str | Path) -> dict[str, np.ndarray]:
    """The fields the host columns need, from an ELM surface dataset."""
    import netCDF4

    names = (
        "PCT_NAT_PFT",
        "PCT_NATVEG",
        "PCT_CFT",
        "PCT_CROP",
        "MONTHLY_LAI",
        "MONTHLY_SAI",
        "PCT_SAND",
        "PCT_CLAY",
        "LATIXY",
        "LONGXY",
        "PFTDATA_MASK",
    )
    try:
        ds = netCDF4.Dataset(str(path))
    except OSError as exc:
        raise DataFileError(f"cannot open surfdata '{path}': {exc}") from exc
    with ds:
        missing = [n for n in names if n not in ds.variables]
        if missing:
            raise DataFileError(f"surfdata '{path}' lacks {missing}")
        return {n: np.asarray(ds[n][:], dtype=np.float64) for n in names}


def host_columns_from_surfdata(path: str | Path) -> tuple[HostModel, np.ndarray]:
    """A HostModel with one column per land cell of the file (PFTDATA_MASK = 1), and the
    (lsmlat, lsmlon) indices of those cells."""
    f = read_surfdata(path)
    land = np.argwhere(f["PFTDATA_MASK"] > 0)
    if land.size == 0:
        raise DataFileError(f"surfdata '{path}' has no land cell")
    j, i = land[:, 0], land[:, 1]
    pct = host_pft_percent(f)[:, j, i].T
    lai = f["MONTHLY_LAI"][:, :, j, i].transpose(2, 0, 1)
    sai = f["MONTHLY_SAI"][:, :, j, i].transpose(2, 0, 1)
    model = HostModel(
        pct,
        f["PCT_SAND"][0, j, i],
        f["PCT_CLAY"][0, j, i],
        f["LATIXY"][j, i],
        f["LONGXY"][j, i],
        monthly_lai=lai,
        monthly_sai=sai,
    )
    return model, land

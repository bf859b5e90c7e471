"""Fine cells → ELM surface fields on host cells, through conservative area integrals.

Everything here is an area-weighted sum: `integrate(values)` maps fine values (k, n_fine) to
their area integrals over each host cell (k, n_host) in steradians — the conservative remap
with normalisation 'none' (`coupler.regrid.Regridder` built with normalization="none" online,
or `overlap_integrator` from the exact lat-lon overlaps offline). Partial sums from several
blocks of fine cells simply add (`SurfaceSums.add`), in a fixed order, so the result does not
depend on how the fine grid was cut.

ELM conventions: land-unit percentages (PCT_NATVEG, PCT_CROP, PCT_LAKE, PCT_WETLAND,
PCT_GLACIER, PCT_URBAN(3)) are of the cell's land and sum to 100; PCT_NAT_PFT is of the
natural-vegetation land unit (bare soil is PFT 0) and sums to 100; PCT_CFT of the crop land
unit. Where a land unit is absent, its PFT split is [100, 0, …] (the first type), and a cell
without land is 100 % bare natural vegetation with LANDFRAC_PFT = 0, as mksurfdata writes.
MONTHLY_LAI/SAI/HEIGHT_TOP/HEIGHT_BOT are means over the fine cells of each PFT (0 where the
PFT is absent), so Σ_host LAI·(PFT area) equals Σ_fine LAI·area. Soil and topography are
area-weighted over land.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from coupler.errors import FieldError
from coupler.grids.latlon import LatLonGrid
from coupler.regrid.overlaps import latlon_overlaps
from emulators.surface.pft import (
    CROP_PFTS,
    GLACIER,
    LAKE,
    N_PFT,
    N_SURFACE_CLASSES,
    NATVEG_PFTS,
    URBAN_CLASSES,
    WETLAND,
)
from emulators.surface.soil import N_ELM_LAYERS, SOIL_FIELDS, SYNTHETIC_LOAM, to_elm_layers

# integrate(values (k, n_fine), select=None) → (k, n_host); `select` (n_fine,) bool promises
# that values are 0 outside it (an optimisation an integrator may ignore).
Integrator = Callable[..., np.ndarray]
PER_PFT_FIELDS = ("MONTHLY_LAI", "MONTHLY_SAI", "MONTHLY_HEIGHT_TOP", "MONTHLY_HEIGHT_BOT")


def overlap_integrator(fine: LatLonGrid, host: LatLonGrid) -> Integrator:
    """Area integrals over the host cells of values on `fine` (k, fine.size) → (k, host.size),
    from the exact lat-lon overlaps of the conservative remap."""
    rows, cols, area = latlon_overlaps(fine, host)
    n = host.size

    def integrate(values: np.ndarray, select: np.ndarray | None = None) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64).reshape(-1, fine.size)
        r, c, a = rows, cols, area
        if select is not None:  # values are zero outside `select`: skip those overlaps
            keep = np.asarray(select).reshape(-1)[cols]
            r, c, a = rows[keep], cols[keep], area[keep]
        return np.stack([np.bincount(r, a * x[c], n) for x in v])

    return integrate


@dataclass
class FineCells:
    """Translated fine cells (n_fine,): surface class, monthly LAI/SAI (12, n), heights (n),
    soil on ELM layers {name: (10, n)}. Cells with class −1 (not land) are ignored."""

    surface_class: np.ndarray
    lai: np.ndarray
    sai: np.ndarray
    height_top: np.ndarray
    height_bot: np.ndarray
    soil: dict[str, np.ndarray]


@dataclass
class SurfaceSums:
    """Area integrals (sr) per host cell, accumulated block by block."""

    n_host: int
    class_area: np.ndarray = field(init=False)
    pft_sums: dict[str, np.ndarray] = field(init=False)
    soil_sums: dict[str, np.ndarray] = field(init=False)

    def __post_init__(self) -> None:
        n = self.n_host
        self.class_area = np.zeros((N_SURFACE_CLASSES, n))
        self.pft_sums = {k: np.zeros((12, N_PFT, n)) for k in PER_PFT_FIELDS}
        self.soil_sums = {k: np.zeros((N_ELM_LAYERS, n)) for k in SOIL_FIELDS}

    def add(self, integrate: Integrator, cells: FineCells) -> None:
        """Add the integrals of one block of fine cells."""
        c = np.asarray(cells.surface_class).reshape(-1)
        n = c.size
        for name, arr in (("lai", cells.lai), ("sai", cells.sai)):
            if np.shape(arr) != (12, n):
                raise FieldError(f"fine {name} has shape {np.shape(arr)}, expected (12, {n})")
        if c.size and (c.max() >= N_SURFACE_CLASSES or c.min() < -1):
            raise FieldError(f"surface classes must be -1..{N_SURFACE_CLASSES - 1}")
        land = (c >= 0).astype(np.float64)
        present = [k for k in np.unique(c) if k >= 0]
        if not present:
            return
        onehot = np.stack([(c == k).astype(np.float64) for k in present])
        self.class_area[present] += integrate(onehot)
        monthly = {
            "MONTHLY_LAI": cells.lai,
            "MONTHLY_SAI": cells.sai,
            "MONTHLY_HEIGHT_TOP": np.broadcast_to(cells.height_top.reshape(-1), (12, n)),
            "MONTHLY_HEIGHT_BOT": np.broadcast_to(cells.height_bot.reshape(-1), (12, n)),
        }
        for p in (k for k in present if k < N_PFT):
            sel = c == p
            stacked = np.concatenate([np.where(sel, v, 0.0) for v in monthly.values()])
            sums = integrate(stacked, select=sel).reshape(len(monthly), 12, self.n_host)
            for name, s in zip(monthly, sums, strict=True):
                self.pft_sums[name][:, p] += s
        for name in SOIL_FIELDS:
            layers = np.asarray(cells.soil[name])
            if layers.shape != (N_ELM_LAYERS, n):
                raise FieldError(
                    f"fine {name} has shape {layers.shape}, expected ({N_ELM_LAYERS}, {n})"
                )
            self.soil_sums[name] += integrate(np.where(land > 0, layers, 0.0))

    def fields(self, host_area_sr: np.ndarray) -> dict[str, np.ndarray]:
        """ELM fields (…, n_host) from the accumulated integrals (see the module docstring)."""
        a = self.class_area
        land = a.sum(axis=0)
        has_land = land > 0
        safe_land = np.where(has_land, land, 1.0)

        def pct_of(num: np.ndarray, den: np.ndarray, ok: np.ndarray) -> np.ndarray:
            return np.where(ok, 100.0 * num / np.where(ok, den, 1.0), 0.0)

        out: dict[str, np.ndarray] = {}
        natveg = a[list(NATVEG_PFTS)].sum(axis=0)
        crop = a[list(CROP_PFTS)].sum(axis=0)
        out["PCT_NATVEG"] = np.where(has_land, 100.0 * natveg / safe_land, 100.0)
        out["PCT_CROP"] = pct_of(crop, land, has_land)
        out["PCT_LAKE"] = pct_of(a[LAKE], land, has_land)
        out["PCT_WETLAND"] = pct_of(a[WETLAND], land, has_land)
        out["PCT_GLACIER"] = pct_of(a[GLACIER], land, has_land)
        out["PCT_URBAN"] = pct_of(a[list(URBAN_CLASSES)], land, has_land)

        has_nat, has_crop = natveg > 0, crop > 0
        nat = np.zeros((N_PFT, self.n_host))
        nat[: len(NATVEG_PFTS)] = pct_of(a[list(NATVEG_PFTS)], natveg, has_nat)
        nat[0] = np.where(has_nat, nat[0], 100.0)
        out["PCT_NAT_PFT"] = nat
        cft = pct_of(a[list(CROP_PFTS)], crop, has_crop)
        cft[0] = np.where(has_crop, cft[0], 100.0)
        out["PCT_CFT"] = cft

        pft_area = a[:N_PFT]
        present = pft_area > 0
        for name, s in self.pft_sums.items():
            out[name] = np.where(present, s / np.where(present, pft_area, 1.0), 0.0)
        out.update(soil_means(self.soil_sums, land))
        out["LANDFRAC_PFT"] = np.minimum(land / np.asarray(host_area_sr), 1.0)
        out["PFTDATA_MASK"] = has_land.astype(np.int32)
        out["pft_area_sr"] = pft_area
        return out


def soil_means(soil_sums: dict[str, np.ndarray], land_area: np.ndarray) -> dict[str, np.ndarray]:
    """Land-area-weighted soil (10, n_host) from its integrals over land; the synthetic
    default profile where a host cell has no land."""
    has_land = land_area > 0
    safe_land = np.where(has_land, land_area, 1.0)
    return {
        name: np.where(
            has_land, soil_sums[name] / safe_land, to_elm_layers(SYNTHETIC_LOAM[name][:, None])
        )
        for name in SOIL_FIELDS
    }

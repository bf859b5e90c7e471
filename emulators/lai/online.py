"""The online monthly LAI step: transform `lai_unet`, the LAI U-Net run once per model month.

    steps:
      - name: lai
        transform: lai_unet
        grid: lc                        # a 0.05° grid under grids: (static: landemu lai static)
        schedule: monthly
        params: {window: 256, margin: 32, overlap: 64, batch: 4}    # halo follows (fit_halo)
        # params: {land_use: LANDUSE_FINE, land_cover: LANDCOVER_FINE}  # phase one's online
        #                                 # maps (step lulc_yearly) instead of the static ones
        # params: {output: LAI}           # names the output (and its state LAI, LAI_PRECIP)
        # params: {hide_prior: false}     # feed last month's LAI back (default: hidden)
    host:
      exports: {LAI_UNET: {interpolate: monthly}}                   # ELM-style mid-month

Each month-end run reads the month's mean TBOT and PRECTmms (host imports averaged since the
step last ran), phase one's land use and land cover codes (the grid's static `land_use`,
`land_cover`, or the fields named by the params `land_use`/`land_cover`, e.g. the maps of the
online phase-one step), the physical statics of the grid's static file (the file `landemu
lulc-static` writes, plus NDVI max/min and fAPAR max: `landemu lai static`), and its own
previous outputs (`from: previous`, with the halo): last month's
LAI (the prior) and the precipitation of the two months before (the soil-moisture proxy of
training: memory = 0.5·P(m) + 0.3·P(m−1) + 0.2·P(m−2); the model never saw soil moisture, so
the host's is not read). The shortwave channel is the mid-month top-of-atmosphere insolation
from latitude and the month, day length and the month's GSI from latitude, month, T and P.
By default (`hide_prior: true`) the prior is hidden everywhere, as it scored best on held-out
blocks with true land cover (its pixel path predicts from NDVI, class and the month's GSI;
v3 fed back month after month drifted like persistence, the shipped v3e fed back scores R²
0.870 against 0.950 with the prior hidden); with `hide_prior: false` the whole prior is
visible. On a cold start (`NO_PRIOR`, the initial value) the prior
is the previous month's climatology of the cell's class and latitude band (climatology.json,
training blocks only) and the precipitation of the missing months is the current month's.

Tiling: the windows sit on the grid's global lattice and go through the model in batches of
exactly `batch` (zero-padded), so a tile with its halo computes the bits a whole-region run
computes (coupler/blending.py). `monthly_lai` is the pure core (no MPI, no I/O): the
transform and `emulators.xapi` call it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from coupler.blending import blend_windows
from coupler.errors import ConfigError, FieldError, ModelError
from coupler.steps.base import StepContext, Transform, Var
from coupler.steps.onnx_step import OnnxStep
from coupler.stepstate import StateVar
from emulators.lai.features import (
    DAYS_PER_MONTH,
    MEMORY_WEIGHTS,
    VEGETATION,
    assemble_month,
    check_prior,
    toa_shortwave,
    vegetation_channels,
)
from emulators.lai.infer import MODEL_PATH, OnnxLai
from emulators.lai.target import mid_month_day_length
from emulators.lulc.classes import LAND_COVER
from emulators.lulc.features import N_LC, N_LU, STATIC_FIELDS, static_channels
from emulators.lulc.staticfile import UNITS as STATIC_UNITS

NO_PRIOR = -1.0  # initial value of the step's state: "no earlier month" (cold start)
CLIMATOLOGY = Path(__file__).with_name("climatology.json")
SECONDS_PER_DAY = 86400.0
MAX_MONTH_SECONDS = 32 * 86400  # a longer gap since the last run skipped a month
NO_LEAVES = (LAND_COVER.index("water"), LAND_COVER.index("snow_ice"))
STATIC_VARIABLES = ("land_use", "land_cover", *STATIC_FIELDS, *VEGETATION)  # `landemu lai static`


@dataclass(frozen=True)
class Blend:
    """Fixed windows the U-Net sees (coupler/blending.py)."""

    window: int = 256
    margin: int = 32
    overlap: int = 64
    batch: int = 4


def fixed_batch(model, batch: int):
    """The model called on exactly `batch` windows (zero-padded): ONNX Runtime may pick
    other kernels for other batch sizes, and a tile's last batch must give the same bits
    as a whole-region run's."""

    def call(x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        pad = np.zeros((batch - n, *x.shape[1:]), x.dtype)
        return model(np.concatenate([x, pad]))[:n]

    return call


def _finite(name: str, a: np.ndarray) -> None:
    if not np.isfinite(a).all():
        raise FieldError(f"LAI step: {name} holds {int((~np.isfinite(a)).sum())} NaN/inf values")


@functools.cache
def climatology_table() -> np.ndarray:
    """(N_LC, 12, bands) mean LAI per land-cover class, month and latitude band of the
    training blocks (climatology.json, `python -m emulators.lai.evaluate climatology`)."""
    if not CLIMATOLOGY.is_file():
        raise ModelError(f"LAI step: the cold-start climatology '{CLIMATOLOGY}' is missing")
    return np.asarray(json.loads(CLIMATOLOGY.read_text())["lai"], np.float64)


def cold_start_prior(lc: np.ndarray, lat: np.ndarray, month: int) -> np.ndarray:
    """Month `month − 1`'s climatological LAI for each cell's class and 10° latitude band:
    the prior of a first month. A wholly hidden prior is outside what the model was trained
    on (at most 95 % hidden, in patches, with visible neighbours)."""
    clim = climatology_table()
    band = np.clip(((np.asarray(lat) + 90.0) // 10.0).astype(np.int64), 0, clim.shape[2] - 1)
    return clim[np.minimum(lc, N_LC - 1), (month - 2) % 12, band]


def monthly_lai(
    model,
    month: int,
    t_c: np.ndarray,
    p_mm: np.ndarray,
    p_history_mm: np.ndarray,
    prior_lai: np.ndarray,
    lu: np.ndarray,
    lc: np.ndarray,
    static: dict[str, np.ndarray],
    lat: np.ndarray,
    *,
    co2_ppm: float = 390.0,
    hide_prior: bool = False,
    blend: Blend = Blend(),
    origin: tuple[int, int] = (0, 0),
    halo: int = 0,
    cache: dict | None = None,
) -> np.ndarray:
    """LAI (m² m⁻², float64) of month `month` (1–12) on the interior of a region.

    All fields are (H, W) with `halo` context cells per side, rows south → north: monthly
    mean temperature `t_c` (°C) and precipitation `p_mm` (mm/month), the precipitation of
    the two previous months `p_history_mm` (2, H, W) (m−1, m−2), last month's LAI
    `prior_lai` (NO_PRIOR where unknown), phase-one land use / land cover codes (water and
    snow/ice cover get LAI 0), the physical static fields of
    emulators.lulc.features.STATIC_FIELDS and the vegetation fields features.VEGETATION
    (NDVI max/min, fAPAR max) in `static`, and the latitude `lat` (degrees, (H, W)).
    With `hide_prior` the prior is hidden everywhere (the mask channel 1): v3/v3e predict
    each pixel from its inputs alone (PixelPhenologyHead's hidden branch), which scored
    better on held-out blocks than feeding its own months back (MODEL_CARD.md); the state
    is still carried, so a run may switch.
    `model` maps (B, 43, w, w) float32 to (B, 1, w, w) (an OnnxLai); `origin` is the global
    (row, column) of [0, 0] so windows sit on the grid's lattice. Result (H−2·halo, W−2·halo).
    """
    if not 1 <= month <= 12:
        raise FieldError(f"LAI step: month {month} is not in 1..12")
    shape = np.shape(t_c)
    if p_history_mm.shape != (2, *shape):
        raise FieldError(
            f"LAI step: the precipitation of the two previous months must be (2, {shape[0]}, "
            f"{shape[1]}), got {p_history_mm.shape} — a missing month of climate?"
        )
    fields = {"temperature": t_c, "precipitation": p_mm, "previous precipitation": p_history_mm}
    for name, a in fields.items():
        _finite(f"monthly {name}", a)
    if np.abs(t_c).max() > 80:
        raise FieldError(
            f"LAI step: monthly temperature must be in °C (|T| up to {np.abs(t_c).max():.1f})"
        )
    if min(p_mm.min(), p_history_mm.min()) < 0:
        raise FieldError("LAI step: monthly precipitation must be >= 0 mm/month")
    missing = [k for k in STATIC_FIELDS if k not in static]
    if missing:
        raise FieldError(f"LAI step: static fields missing: {missing}")
    vegetation = vegetation_channels(static)
    prior = np.asarray(prior_lai, np.float64)
    prior = np.where(prior == NO_PRIOR, cold_start_prior(lc, lat, month), prior)
    check_prior(prior)
    w = MEMORY_WEIGHTS
    memory = (w[0] * p_mm + w[1] * p_history_mm[0] + w[2] * p_history_mm[1]) / DAYS_PER_MONTH
    x = assemble_month(
        lu,
        lc,
        t_c,
        p_mm,
        memory,
        toa_shortwave(lat, month - 1),
        mid_month_day_length(lat, month - 1),
        prior,
        np.full(shape, hide_prior),  # the prior is either all visible or all hidden online
        static_channels(static, lat[:, 0]),
        vegetation,
        co2_ppm,
    )
    lai = blend_windows(
        fixed_batch(model, blend.batch),
        x,
        window=blend.window,
        margin=blend.margin,
        overlap=blend.overlap,
        batch_size=blend.batch,
        origin=origin,
        pad_mode="edge",
        halo=halo,
        cache=cache,
    )[0]
    inner = lc[halo : lc.shape[0] - halo, halo : lc.shape[1] - halo]
    return np.where(np.isin(inner, NO_LEAVES), 0.0, np.maximum(lai, 0.0))


def codes(a: np.ndarray) -> np.ndarray:
    """Class codes (H, W) uint8 of a categorical input ((H, W) or (1, H, W))."""
    a = np.asarray(a)
    return np.rint(a[0] if a.ndim == 3 else a).astype(np.uint8)


class LaiUNetStep(Transform):
    """Monthly LAI from the LAI U-Net on a 0.05° fine grid (module docstring)."""

    transform_name: ClassVar[str] = "lai_unet"
    input_vars: ClassVar[dict[str, Var]] = {
        "TBOT": Var("K", long_name="2 m air temperature (monthly mean)"),
        "PRECTmms": Var("kg m-2 s-1", long_name="precipitation rate (monthly mean)"),
        "land_use": Var("1", N_LU, "categorical", "land-use class (emulators/lulc/classes.py)"),
        "land_cover": Var("1", N_LC, "categorical", "land-cover class (emulators/lulc/classes.py)"),
        **{k: Var(u, long_name=f"{k} (static)") for k, u in STATIC_UNITS.items()},
        **{k: Var("1", long_name=f"{k} (static, landemu lai static)") for k in VEGETATION},
        "LAI_UNET": Var("m2 m-2", long_name="last month's LAI (from: previous)"),
        "LAI_UNET_PRECIP": Var("mm", levels=2, long_name="precipitation of months m-1, m-2"),
    }
    output_vars: ClassVar[dict[str, Var]] = {
        "LAI_UNET": Var("m2 m-2", long_name="leaf area index (LAI U-Net, monthly)"),
        "LAI_UNET_PRECIP": Var(
            "mm", levels=2, long_name="monthly precipitation of the two latest months"
        ),
    }
    default_params: ClassVar[dict[str, Any]] = {
        "model": str(MODEL_PATH),
        "window": 256,
        "margin": 32,
        "overlap": 64,
        "batch": 4,
        "co2_ppm": 390.0,
        "hide_prior": True,
        "land_use": "land_use",
        "land_cover": "land_cover",
        "output": "LAI_UNET",
    }
    default_grid: ClassVar[str] = "fine"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        where = f"steps.{self.name}"
        if str(self.schedule) != "monthly":
            raise ConfigError(
                f"{where}.schedule: the LAI U-Net predicts monthly means; use 'monthly', "
                f"not '{self.schedule}'"
            )
        p = self.params
        for key in ("window", "margin", "overlap", "batch"):
            if isinstance(p[key], bool) or not isinstance(p[key], int) or p[key] < 0:
                raise ConfigError(f"{where}.params.{key}: expected a whole number, got {p[key]!r}")
        if p["window"] % 16 or p["window"] - 2 * p["margin"] - p["overlap"] < 1 or p["batch"] < 1:
            raise ConfigError(
                f"{where}.params: window {p['window']} (a multiple of 16), margin {p['margin']}, "
                f"overlap {p['overlap']} and batch {p['batch']} leave no window core"
            )
        if not isinstance(p["hide_prior"], bool):
            raise ConfigError(
                f"{where}.params.hide_prior: expected true or false, got {p['hide_prior']!r}"
            )
        self.blend = {k: p[k] for k in ("window", "margin", "overlap", "batch")}
        # field names: the land use/cover inputs and the LAI output (and its state) may be
        # renamed, e.g. output LAI where later steps read the GSI transform's LAI
        lai = str(p["output"])
        self.maps = {
            **{k: str(p[k]) for k in ("land_use", "land_cover")},
            "LAI_UNET": lai,
            "LAI_UNET_PRECIP": f"{lai}_PRECIP",
        }
        self.inputs = {self.maps.get(k, k): v for k, v in self.inputs.items()}
        self.outputs = {self.maps[k]: v for k, v in self.outputs.items()}
        self.previous = {
            lai: StateVar(init=NO_PRIOR),
            f"{lai}_PRECIP": StateVar(shape=(2,), init=NO_PRIOR),
        }
        self.model = OnnxLai(Path(p["model"]).expanduser())
        self._cache: tuple[Any, dict] | None = None  # windows of this run shared by tiles

    fit_halo = OnnxStep.fit_halo  # the halo every window touching a tile needs (component)

    def compute(
        self, inputs: dict[str, np.ndarray], state: dict[str, np.ndarray], ctx: StepContext
    ) -> dict[str, np.ndarray]:
        dt = int(ctx.seconds_since_last_run)
        if dt > MAX_MONTH_SECONDS:
            raise FieldError(
                f"LAI step '{self.name}': {dt / 86400:.0f} days since its last run at "
                f"{ctx.previous_run} — a missing month of climate"
            )
        month = (ctx.time + (-(dt // 2))).month  # the month the averaged inputs belong to
        # cells no active host cell forces read NaN (a host's own NaN is refused at its put):
        # the model sees 0 °C and no rain there, and they get LAI 0
        unforced = ~(np.isfinite(inputs["TBOT"]) & np.isfinite(inputs["PRECTmms"]))
        t_c = np.where(unforced, 0.0, inputs["TBOT"] - 273.15)
        p_mm = np.where(unforced, 0.0, np.maximum(inputs["PRECTmms"], 0.0))
        p_mm = p_mm * SECONDS_PER_DAY * DAYS_PER_MONTH
        lai_name, precip_name = self.maps["LAI_UNET"], self.maps["LAI_UNET_PRECIP"]
        history = np.asarray(inputs[precip_name], np.float64)
        history = np.where(history == NO_PRIOR, p_mm[None], history)  # cold start
        if self._cache is None or self._cache[0] != ctx.time:
            self._cache = (ctx.time, {})
        lai = monthly_lai(
            self.model,
            month,
            t_c,
            p_mm,
            history,
            inputs[lai_name],
            *(codes(inputs[self.maps[k]]) for k in ("land_use", "land_cover")),
            {k: inputs[k] for k in (*STATIC_FIELDS, *VEGETATION)},
            np.broadcast_to(ctx.lat, p_mm.shape),
            co2_ppm=float(self.params["co2_ppm"]),
            hide_prior=bool(self.params["hide_prior"]),
            blend=Blend(**self.blend),
            origin=ctx.origin,
            halo=ctx.halo,
            cache=self._cache[1],
        )
        h = ctx.halo
        inner = (slice(h, p_mm.shape[0] - h), slice(h, p_mm.shape[1] - h))
        return {
            lai_name: np.where(unforced[inner], 0.0, lai),
            precip_name: np.stack([p_mm[inner], history[0][inner]]),
        }

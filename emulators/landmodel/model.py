"""Running the Fortran host physics on batches of columns from Python, in-process.

Why: perturbed-parameter ensembles for the MdPL surrogate must come from the very model that
is being calibrated, at Fortran speed. A `HostModel` holds the per-column surface, parameters,
vegetation and state arrays in the record layout the library expects (C order, one record
per column) and hands them over without copies; time loops run inside Fortran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from ctypes import byref, c_double, c_int32

import numpy as np

from coupler.errors import FieldError
from emulators.landmodel import _lib
from emulators.landmodel.params import NPARAM, NPFT, check_params, default_params
from emulators.landmodel.surface import default_vegetation, sai_from_lai

NLEVSOI = 10
NSTATE = 56
NSURF = NPFT + 4
NFORC = 7
FORCING_NAMES: tuple[str, ...] = ("FSDS", "FLDS", "TBOT", "QBOT", "WIND", "PSRF", "PRECTmms")
FORCING_UNITS: tuple[str, ...] = ("W m-2", "W m-2", "K", "kg kg-1", "m s-1", "Pa", "kg m-2 s-1")
OUTPUT_NAMES: tuple[str, ...] = (
    "FSA",
    "FIRA",
    "RNET",
    "FSH",
    "EFLX_LH_TOT",
    "FGR",
    "EBAL",
    "QVEGT",
    "QVEGE",
    "QSOIL",
    "QOVER",
    "QDRAI",
    "QINFL",
    "QSNOMELT",
    "GPP",
    "TSKIN",
    "RA",
    "BTRAN",
    "ALBEDO",
    "H2OSNO",
    "SOILWATER",
    "TWS",
    "WBAL",
    "RAIN",
    "SNOW",
    "LAI",
    "QFLX_EVAP",
)
OUTPUT_UNITS: tuple[str, ...] = (
    "W m-2",
    "W m-2",
    "W m-2",
    "W m-2",
    "W m-2",
    "W m-2",
    "W m-2",
    "kg m-2 s-1",
    "kg m-2 s-1",
    "kg m-2 s-1",
    "kg m-2 s-1",
    "kg m-2 s-1",
    "kg m-2 s-1",
    "kg m-2 s-1",
    "umol m-2 s-1",
    "K",
    "s m-1",
    "1",
    "1",
    "kg m-2",
    "kg m-2",
    "kg m-2",
    "kg m-2",
    "kg m-2 s-1",
    "kg m-2 s-1",
    "m2 m-2",
    "kg m-2 s-1",
)
# offsets into a state record (see hm_column.f90)
STATE_H2OSOI = slice(0, 10)
STATE_TSOI = slice(10, 20)
STATE_H2OSNO = 20
STATE_TSNO = 21
STATE_H2OCAN = slice(22, 39)
STATE_TSKIN = slice(39, 56)


def _c(a: np.ndarray | float | Sequence[float], shape: tuple[int, ...], what: str) -> np.ndarray:
    """`a` broadcast to `shape` as a fresh C-contiguous float64 array (FieldError on mismatch)."""
    arr = np.asarray(a, dtype=np.float64)
    try:
        return np.broadcast_to(arr, shape).copy(order="C")
    except ValueError:
        raise FieldError(
            f"{what} has shape {arr.shape}; expected {shape} (or broadcastable)"
        ) from None


def soil_layers() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ELM layer structure from the library: node depths, thicknesses, lower interfaces (m)."""
    z, dz, zi = np.zeros(NLEVSOI), np.zeros(NLEVSOI), np.zeros(NLEVSOI)
    _lib.lib().hm_soil_layers(z, dz, zi)
    return z, dz, zi


def solar_geometry(lat: float, lon: float, doy: int, tod: float) -> tuple[float, float]:
    """(cos zenith, Sun-Earth distance factor) exactly as the physics computes them."""
    cz, ecc = c_double(), c_double()
    _lib.lib().hm_solar_geometry(
        float(lat), float(lon), int(doy), float(tod), byref(cz), byref(ecc)
    )
    return cz.value, ecc.value


def monthly_weights(doy: int, tod: float) -> tuple[int, int, float]:
    """(month1, month2, weight of month1), 1-based months, as ELM interpolates monthly LAI."""
    m1, m2, w1 = c_int32(), c_int32(), c_double()
    _lib.lib().hm_monthly_weights(int(doy), float(tod), byref(m1), byref(m2), byref(w1))
    return m1.value, m2.value, w1.value


def forcing_records(
    forcing: np.ndarray | Mapping[str, np.ndarray], nstep: int | None, ncol: int
) -> np.ndarray:
    """Forcing as the library's (nstep, ncol, 7) C array.

    Accepts such an array, or a mapping FORCING_NAMES → (nstep, ncol) or (nstep,) arrays
    (the latter broadcast to every column, e.g. one site driving an ensemble).
    """
    if isinstance(forcing, Mapping):
        missing = [n for n in FORCING_NAMES if n not in forcing]
        if missing:
            raise FieldError(f"forcing is missing {missing}; expected {list(FORCING_NAMES)}")
        first = np.asarray(forcing[FORCING_NAMES[0]])
        nstep = first.shape[0] if nstep is None else nstep
        out = np.empty((nstep, ncol, NFORC))
        for k, name in enumerate(FORCING_NAMES):
            v = np.asarray(forcing[name], dtype=np.float64)
            if v.ndim == 1:
                v = v[:, None]
            out[:, :, k] = _c(v, (nstep, ncol), f"forcing {name}")
        return out
    arr = np.asarray(forcing, dtype=np.float64)
    nstep = arr.shape[0] if nstep is None else nstep
    return _c(arr, (nstep, ncol, NFORC), "forcing array")


class HostModel:
    """A batch of host-model columns: surface, parameters, vegetation and state.

    pct_pft: (ncol, 17) ELM PCT_NAT_PFT in percent (sums to 100 per column).
    sand, clay: (ncol,) percent. lat, lon: (ncol,) degrees.
    params: (ncol, 17, 12) parameter records (default: MdPL Table 2 values per PFT group).
    monthly_lai, monthly_sai: (ncol, 12, 17) (default: `surface.default_vegetation`; a given
    LAI without SAI gets the Zeng 2002 SAI).
    """

    def __init__(
        self,
        pct_pft: np.ndarray,
        sand: np.ndarray | float,
        clay: np.ndarray | float,
        lat: np.ndarray | float,
        lon: np.ndarray | float,
        params: np.ndarray | None = None,
        monthly_lai: np.ndarray | None = None,
        monthly_sai: np.ndarray | None = None,
    ) -> None:
        pct = np.atleast_2d(np.asarray(pct_pft, dtype=np.float64))
        if pct.shape[-1] != NPFT:
            raise FieldError(f"pct_pft has shape {pct.shape}; expected (ncol, {NPFT}) in percent")
        self.ncol = ncol = pct.shape[0]
        self.surface = np.empty((ncol, NSURF))
        self.surface[:, :NPFT] = pct / 100.0
        self.surface[:, NPFT] = _c(sand, (ncol,), "sand")
        self.surface[:, NPFT + 1] = _c(clay, (ncol,), "clay")
        self.surface[:, NPFT + 2] = _c(lat, (ncol,), "lat")
        self.surface[:, NPFT + 3] = _c(lon, (ncol,), "lon")
        if params is None:
            params = default_params(ncol)
        self.params = _c(params, (ncol, NPFT, NPARAM), "params")
        if monthly_lai is None:
            monthly_lai, dflt_sai = default_vegetation(self.surface[:, NPFT + 2])
            if monthly_sai is None:
                monthly_sai = dflt_sai
        self.monthly_lai = _c(monthly_lai, (ncol, 12, NPFT), "monthly_lai")
        if monthly_sai is None:
            monthly_sai = sai_from_lai(self.monthly_lai)
        self.monthly_sai = _c(monthly_sai, (ncol, 12, NPFT), "monthly_sai")
        self.validate()
        self.state = np.zeros((ncol, NSTATE))
        self.init_state()

    def validate(self) -> None:
        """Check surface and parameter records in Fortran (FieldError naming the culprit)."""
        check_params(self.params)
        buf = _lib.message_buffer()
        st = _lib.lib().hm_validate(self.ncol, self.surface, self.params, buf, len(buf))
        _lib.check(st, buf, "surface/parameters")

    def init_state(self, tinit: np.ndarray | float = 283.15, wetness: float = 0.6) -> None:
        """Cold start: uniform temperature `tinit` (K), soil water at `wetness` × porosity."""
        t = _c(tinit, (self.ncol,), "tinit")
        buf = _lib.message_buffer()
        st = _lib.lib().hm_init_state(
            self.ncol, self.surface, t, float(wetness), self.state, buf, len(buf)
        )
        _lib.check(st, buf, "init_state")

    def water_storage(self) -> np.ndarray:
        """Total water stored per column (kg m-2): soil + snow + canopy."""
        w = np.zeros(self.ncol)
        _lib.lib().hm_water_storage(self.ncol, self.surface, self.state, w)
        return w

    def run(
        self,
        forcing: np.ndarray | Mapping[str, np.ndarray],
        start_doy: int = 1,
        start_tod: float = 0.0,
        dt: float = 1800.0,
        outputs: Sequence[str] | None = None,
        chunk_steps: int = 480,
    ) -> dict[str, np.ndarray]:
        """Advance all columns through the forcing; returns {output: (nstep, ncol)}.

        forcing: (nstep, ncol, 7) records or a mapping of FORCING_NAMES (see forcing_records).
        Time starts at (start_doy, start_tod) and advances in a noleap calendar; LAI/SAI are
        interpolated from the monthly values every step. The time loop runs in Fortran in
        chunks of `chunk_steps` so memory stays bounded for long ensembles.
        """
        names = list(OUTPUT_NAMES if outputs is None else outputs)
        unknown = [n for n in names if n not in OUTPUT_NAMES]
        if unknown:
            raise FieldError(f"unknown host-model outputs {unknown}; expected {OUTPUT_NAMES}")
        idx = [OUTPUT_NAMES.index(n) for n in names]
        if isinstance(forcing, Mapping):
            missing = [n for n in FORCING_NAMES if n not in forcing]
            if missing:
                raise FieldError(f"forcing is missing {missing}; expected {list(FORCING_NAMES)}")
            nstep = int(np.asarray(forcing[FORCING_NAMES[0]]).shape[0])
        else:
            nstep = int(np.asarray(forcing).shape[0])
        results = {n: np.empty((nstep, self.ncol)) for n in names}
        buf = _lib.message_buffer()
        for k0 in range(0, nstep, max(int(chunk_steps), 1)):
            k1 = min(k0 + max(int(chunk_steps), 1), nstep)
            if isinstance(forcing, Mapping):
                chunk = {n: np.asarray(v)[k0:k1] for n, v in forcing.items()}
            else:
                chunk = np.asarray(forcing)[k0:k1]
            forc = forcing_records(chunk, k1 - k0, self.ncol)
            out = np.empty((k1 - k0, self.ncol, len(OUTPUT_NAMES)))
            tsec = start_tod + k0 * dt
            days = int(tsec // 86400)
            doy = (start_doy - 1 + days) % 365 + 1
            st = _lib.lib().hm_run_columns(
                self.ncol,
                k1 - k0,
                doy,
                tsec - days * 86400.0,
                float(dt),
                forc,
                self.surface,
                self.params,
                self.monthly_lai,
                self.monthly_sai,
                self.state,
                out,
                buf,
                len(buf),
            )
            _lib.check(st, buf, f"run (steps {k0}..{k1 - 1})")
            for n, i in zip(names, idx, strict=True):
                results[n][k0:k1] = out[:, :, i]
        return results

    def step_columns(
        self,
        forcing: np.ndarray,
        doy: int,
        tod: float,
        dt: float = 1800.0,
        lai: np.ndarray | None = None,
        sai: np.ndarray | None = None,
    ) -> np.ndarray:
        """One step, column by column through the single-column entry point (the host's path).

        forcing: (ncol, 7). lai, sai: (ncol, 17) current values (default: interpolated from
        the monthly values like `run`). Returns outputs (ncol, 27).
        """
        forc = _c(forcing, (self.ncol, NFORC), "forcing")
        if lai is None or sai is None:
            m1, m2, w1 = monthly_weights(doy, tod)
            if lai is None:
                lai = w1 * self.monthly_lai[:, m1 - 1] + (1 - w1) * self.monthly_lai[:, m2 - 1]
            if sai is None:
                sai = w1 * self.monthly_sai[:, m1 - 1] + (1 - w1) * self.monthly_sai[:, m2 - 1]
        lai = _c(lai, (self.ncol, NPFT), "lai")
        sai = _c(sai, (self.ncol, NPFT), "sai")
        out = np.empty((self.ncol, len(OUTPUT_NAMES)))
        buf = _lib.message_buffer()
        hm = _lib.lib()
        for c in range(self.ncol):
            st_rec = np.ascontiguousarray(self.state[c])
            o = np.empty(len(OUTPUT_NAMES))
            st = hm.hm_step_column(
                int(doy),
                float(tod),
                float(dt),
                np.ascontiguousarray(forc[c]),
                np.ascontiguousarray(self.surface[c]),
                np.ascontiguousarray(self.params[c]),
                np.ascontiguousarray(lai[c]),
                np.ascontiguousarray(sai[c]),
                st_rec,
                o,
                buf,
                len(buf),
            )
            _lib.check(st, buf, f"step (column {c})")
            self.state[c] = st_rec
            out[c] = o
        return out

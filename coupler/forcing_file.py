"""Forcing from a CF netCDF file, as the Python host driver reads it: the mean of the
records inside each coupling interval, for this rank's host cells only.

Layout: one variable per import (TBOT, PRECTmms, …) with dims (time, cell) in host-id order
or (time, lat, lon) on a lat-lon host grid, units equal to landemu's canonical units, and a
`time` coordinate with CF units ("days since …", "hours since …", "seconds since …") and
calendar. A record at time τ belongs to the interval (t0, t1] that contains τ.
"""

from __future__ import annotations

from pathlib import Path

import netCDF4
import numpy as np

from coupler.clock import ModelTime, canonical_calendar
from coupler.errors import DataFileError
from coupler.fields import FieldRegistry

_UNIT_SECONDS = {
    "seconds": 1,
    "second": 1,
    "minutes": 60,
    "hours": 3600,
    "hour": 3600,
    "days": 86400,
    "day": 86400,
}


class ForcingFile:
    """Interval means of forcing variables for the given (1-based) host cells."""

    def __init__(self, path: Path, host_ids: np.ndarray, calendar: str) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataFileError(f"forcing file '{self.path}' does not exist")
        try:
            self.ds = netCDF4.Dataset(self.path, "r")
        except OSError as exc:
            raise DataFileError(f"forcing file '{self.path}' is not netCDF: {exc}") from None
        self.cells = np.asarray(host_ids, np.int64) - 1
        self.registry = FieldRegistry.default()
        self.seconds = self._time_axis(calendar)

    def _time_axis(self, calendar: str) -> np.ndarray:
        if "time" not in self.ds.variables:
            raise DataFileError(f"forcing file '{self.path}' has no 'time' variable")
        t = self.ds["time"]
        units = getattr(t, "units", "")
        unit, _, ref = units.partition(" since ")
        if unit not in _UNIT_SECONDS or not ref:
            raise DataFileError(
                f"forcing file '{self.path}': time units '{units}' are not "
                "'<days|hours|seconds> since DATE'"
            )
        file_cal = canonical_calendar(getattr(t, "calendar", "standard"))
        if file_cal != calendar:
            raise DataFileError(
                f"forcing file '{self.path}' uses the {file_cal} calendar, the run {calendar}"
            )
        origin = ModelTime.parse(ref.strip()[:19], calendar)
        return origin.seconds + np.rint(np.asarray(t[:], np.float64) * _UNIT_SECONDS[unit]).astype(
            np.int64
        )

    def mean(self, name: str, t0: ModelTime, t1: ModelTime) -> np.ndarray:
        """(nlev, n_cells) mean of the records with t0 < time ≤ t1."""
        if name not in self.ds.variables:
            raise DataFileError(f"forcing file '{self.path}' has no variable {name}")
        var = self.ds[name]
        spec = self.registry[name]
        units = getattr(var, "units", None)
        if units is None or units.replace(" ", "") != spec.units.replace(" ", ""):
            raise DataFileError(
                f"forcing file '{self.path}': {name} has units '{units}', expected '{spec.units}'"
            )
        k0 = int(np.searchsorted(self.seconds, t0.seconds, side="right"))
        k1 = int(np.searchsorted(self.seconds, t1.seconds, side="right"))
        if k1 <= k0:
            raise DataFileError(
                f"forcing file '{self.path}' has no {name} record between {t0} and {t1}"
            )
        block = np.asarray(var[k0:k1], np.float64)  # (nt, [lev,] cells or lat, lon)
        flat = (
            block.reshape(k1 - k0, spec.levels, -1)
            if spec.levels > 1
            else block.reshape(k1 - k0, 1, -1)
        )
        if flat.shape[-1] <= int(self.cells.max(initial=-1)):
            raise DataFileError(
                f"forcing file '{self.path}': {name} has {flat.shape[-1]} cells, the host grid more"
            )
        return flat[:, :, self.cells].mean(axis=0)

"""Small netCDF helpers shared by grid and map files: atomic writes and checked reads.

A file is written under a temporary name in the destination folder and moved into place with
os.replace only when complete, so a crash or an error never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import netCDF4
import numpy as np

from coupler.errors import LandemuError


@contextlib.contextmanager
def atomic_dataset(path: str | os.PathLike, fmt: str = "NETCDF4") -> Iterator[netCDF4.Dataset]:
    """Yield a writable Dataset that appears at `path` only if the block completes."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    ds = None
    try:
        ds = netCDF4.Dataset(tmp, "w", format=fmt)
        yield ds
        ds.close()
        ds = None
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, target)
    finally:
        if ds is not None:
            with contextlib.suppress(Exception):
                ds.close()
        if os.path.exists(tmp):
            os.unlink(tmp)


def open_dataset(path: str | os.PathLike, error: type[LandemuError], what: str) -> netCDF4.Dataset:
    """Open a netCDF file for reading; a missing or unreadable file raises `error` naming it."""
    p = Path(path)
    if not p.is_file():
        raise error(f"{what} '{p}' does not exist")
    try:
        return netCDF4.Dataset(str(p), "r")
    except (OSError, RuntimeError) as exc:
        raise error(f"{what} '{p}' is not a readable netCDF file ({exc})") from exc


def read_var(
    ds: netCDF4.Dataset,
    name: str,
    error: type[LandemuError],
    what: str,
    index: slice | tuple = slice(None),
    dtype: type = np.float64,
) -> np.ndarray:
    """Read ds[name][index] as a plain ndarray; an I/O failure (truncated file) names the file."""
    try:
        v = ds.variables[name]
        v.set_auto_mask(False)
        return np.asarray(v[index], dtype=dtype)
    except KeyError as exc:
        raise error(f"{what} '{ds.filepath()}' has no variable '{name}'") from exc
    except (OSError, RuntimeError, IndexError, ValueError) as exc:
        raise error(
            f"{what} '{ds.filepath()}': reading variable '{name}' failed ({exc}); "
            "the file may be truncated or corrupt"
        ) from exc


def angle_to_degrees(values: np.ndarray, units: str | None) -> np.ndarray:
    """Convert angles to degrees according to a CF/SCRIP `units` attribute (radians or degrees)."""
    u = (units or "degrees").strip().lower()
    if u.startswith("rad"):
        return np.rad2deg(values)
    return values

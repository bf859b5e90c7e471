"""Loading liblandemu_hostmodel.so and declaring its C functions for ctypes.

Why a separate module: the library is found and its signatures are declared once, lazily,
so importing `emulators.landmodel` never fails on a machine where the Fortran has not been
built yet; the first real call raises a message that says how to build it.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_char_p, c_double, c_int32, c_int64
from functools import lru_cache
from pathlib import Path

import numpy as np

from coupler.errors import FieldError, LandemuError, LandemuRuntimeError

LIB_NAME = "liblandemu_hostmodel.so"
ENV_VAR = "LANDEMU_HOSTMODEL_LIB"
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_HINT = (
    "run `make` in the repository (or `cmake -S fortran_shim/hostmodel -B build/hostmodel && "
    "cmake --build build/hostmodel`) to build it"
)
MSG_LEN = 1024

_DP = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
_I32 = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")

# status codes of hm_errors.f90 -> the coupler's error classes
_STATUS_ERRORS: dict[int, type[LandemuError]] = {
    1: FieldError,  # parameter outside its MdPL range
    2: FieldError,  # PFT fractions / texture / LAI / coordinates
    3: FieldError,  # forcing value missing or implausible
    4: LandemuRuntimeError,  # state not physical
    5: LandemuRuntimeError,  # solver did not converge
    6: FieldError,  # bad size / time argument
    7: LandemuRuntimeError,  # I/O
}

_SIGNATURES: dict[str, list] = {
    "hm_layout": [_I32],
    "hm_name": [c_int32, c_int32, c_char_p, c_int64],
    "hm_param_table": [_DP, _DP, _DP, _I32],
    "hm_default_params": [_DP],
    "hm_soil_layers": [_DP, _DP, _DP],
    "hm_validate": [c_int64, _DP, _DP, c_char_p, c_int64],
    "hm_init_state": [c_int64, _DP, _DP, c_double, _DP, c_char_p, c_int64],
    "hm_step_column": [
        c_int32,
        c_double,
        c_double,
        _DP,
        _DP,
        _DP,
        _DP,
        _DP,
        _DP,
        _DP,
        c_char_p,
        c_int64,
    ],
    "hm_run_columns": [
        c_int64,
        c_int64,
        c_int32,
        c_double,
        c_double,
        _DP,
        _DP,
        _DP,
        _DP,
        _DP,
        _DP,
        _DP,
        c_char_p,
        c_int64,
    ],
    "hm_monthly_weights": [
        c_int32,
        c_double,
        POINTER(c_int32),
        POINTER(c_int32),
        POINTER(c_double),
    ],
    "hm_solar_geometry": [
        c_double,
        c_double,
        c_int32,
        c_double,
        POINTER(c_double),
        POINTER(c_double),
    ],
    "hm_water_storage": [c_int64, _DP, _DP, _DP],
    "hm_default_vegetation": [c_int64, _DP, _DP, _DP],
}


def library_path() -> Path:
    """Where the library is expected: $LANDEMU_HOSTMODEL_LIB, else <repo>/build/lib."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else REPO_ROOT / "build" / "lib" / LIB_NAME


@lru_cache(maxsize=1)
def lib() -> ctypes.CDLL:
    """The loaded library with argument/return types declared (loaded once per process)."""
    path = library_path()
    if not path.is_file():
        raise LandemuRuntimeError(f"host-model library {path} not found; {BUILD_HINT}")
    try:
        handle = ctypes.CDLL(str(path))
    except OSError as exc:
        raise LandemuRuntimeError(
            f"cannot load host-model library {path}: {exc}; {BUILD_HINT}"
        ) from exc
    for name, argtypes in _SIGNATURES.items():
        fn = getattr(handle, name)
        fn.argtypes = argtypes
        fn.restype = c_int32
    return handle


def message_buffer() -> ctypes.Array:
    """A fresh buffer for the Fortran side's error message."""
    return ctypes.create_string_buffer(MSG_LEN)


def check(status: int, buf: ctypes.Array, what: str) -> None:
    """Turn a non-zero status into the matching coupler error with the Fortran message."""
    if status == 0:
        return
    text = buf.value.decode(errors="replace") or f"status {status}"
    cls = _STATUS_ERRORS.get(int(status), LandemuRuntimeError)
    raise cls(f"host model {what}: {text}")

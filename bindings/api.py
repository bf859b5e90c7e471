"""The Python side of liblandemu.so: one function per C entry point of landemu.h.

The C library (bindings/capi.c) calls these with raw C arguments (cffi pointers and ints);
each turns them into Python values and zero-copy numpy views, checks the call order and
the sizes, and calls the `coupler.component.Component` of this process. Nothing raises out
of here: every entry point catches everything and returns a status, leaving the message
for `landemu_last_error` (a LandemuError's own message; anything else is reported as an
"internal error" with its traceback on stderr). Under the configuration policy
`on_error: abort` the failure is fatal instead: message on stderr, then MPI_Abort on the
host's communicator.

`attach(ffi, lib)` binds the entry points to the C symbols; the library's init code runs it
once, when the first C call starts the embedded Python.

Hot path (put, get, idle advance): no imports, no dict rebuilding; numpy views over host
buffers are cached by (address, shape) so a host that reuses its buffers pays one dict
lookup instead of building a view.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
from mpi4py import MPI

from coupler.clock import ModelTime
from coupler.errors import CallOrderError, ConfigError, FieldError, LandemuError, shorten

LANDEMU_OK = 0
LANDEMU_ERR = 1
LANDEMU_ERR_INTERNAL = 99
DIRECTION_CODES = {None: 0, "import": 1, "export": 2}  # LANDEMU_FIELD_NONE/IMPORT/EXPORT
MAX_AXES = 4  # LANDEMU_MAX_AXES: the size of landemu_field_axes' sizes array
MAX_MESSAGE = 2000  # characters of an error message kept for landemu_last_error
MAX_LEVELS = 1_000_000  # far above any level axis; keeps n_local * nlev * 8 in range
_VIEW_CACHE_SIZE = 256  # distinct (buffer, shape) pairs remembered; a host uses a few dozen

# Phases of the library on this process, in call order.
UNINITIALISED = "uninitialised"
INITIALISED = "initialised"  # after landemu_init
RUNNING = "running"  # after landemu_set_decomposition
FINALISED = "finalised"  # after landemu_finalize (landemu_init may start again)

_ffi: Any = None  # the embedding module's cffi FFI and lib, set by attach()
_lib: Any = None


def load_component_class() -> type:
    """The component class; imported on first init so the library loads without it."""
    from coupler.component import Component

    return Component


class Session:
    """What the library remembers between calls on this process (one per process)."""

    def __init__(self) -> None:
        self.phase = UNINITIALISED
        self.component: Any = None
        self.comm: MPI.Comm | None = None
        self.n_local = -1
        self.calendar = "noleap"
        self.abort_on_error = False
        self.views: dict[tuple[Any, int, int, bool], np.ndarray] = {}

    def require(self, entry: str, *phases: str) -> None:
        """CallOrderError unless the library is in one of `phases`."""
        if self.phase in phases:
            return
        needed = {
            UNINITIALISED: "before landemu_init",
            FINALISED: "after landemu_finalize (call landemu_init to start again)",
            INITIALISED: "before landemu_set_decomposition",
            RUNNING: "after landemu_set_decomposition",
        }[self.phase]
        if entry == "landemu_init":
            raise CallOrderError(
                "landemu is already initialised on this rank; call landemu_finalize before "
                "initialising it again"
            )
        if entry == "landemu_set_decomposition" and self.phase == RUNNING:
            raise CallOrderError("the decomposition is already set; it is set once per run")
        raise CallOrderError(f"called {needed}")

    def view(self, ptr: Any, n_local: int, nlev: int, name: str, writable: bool) -> np.ndarray:
        """The host buffer as a (nlev, n_local) float64 array sharing its memory."""
        key = (ptr, n_local, nlev, writable)  # cffi pointers hash and compare by address
        cached = self.views.get(key)
        if cached is not None:
            return cached
        if n_local != self.n_local:
            raise FieldError(
                f"field '{name}': the array has n_local = {n_local} cells but "
                f"landemu_set_decomposition gave {self.n_local} cells on this rank"
            )
        if nlev < 1:
            raise FieldError(f"field '{name}': nlev = {nlev}; a field has at least 1 level")
        if nlev > MAX_LEVELS:
            raise FieldError(
                f"field '{name}': nlev = {nlev} is not a number of levels (at most {MAX_LEVELS})"
            )
        size = n_local * nlev
        if size == 0:
            array = np.empty((nlev, 0), dtype=np.float64)
        elif ptr == _ffi.NULL:
            raise FieldError(f"field '{name}': the values pointer is NULL")
        else:
            buffer = _ffi.buffer(_ffi.cast("double *", ptr), size * 8)
            array = np.frombuffer(buffer, dtype=np.float64).reshape(nlev, n_local)
        if not writable:
            array.flags.writeable = False  # a put must never write into the host's forcing
        if len(self.views) >= _VIEW_CACHE_SIZE:
            self.views.clear()
        self.views[key] = array
        return array


_session = Session()


def session() -> Session:
    """This process's session (for tests and diagnostics)."""
    return _session


# ---- helpers ---------------------------------------------------------------------------


def _text(ptr: Any, what: str, error: type[LandemuError] = FieldError) -> str:
    """A NUL-terminated C string as str (error naming `what` if the pointer is NULL)."""
    if ptr == _ffi.NULL:
        raise error(f"{what} is a NULL pointer")
    return _ffi.string(ptr).decode("utf-8", errors="replace")


def communicator_from_fortran(fcomm: int) -> MPI.Comm:
    """The host's communicator from its Fortran handle (MPI_Fint), checked for validity."""
    if not MPI.Is_initialized() or MPI.Is_finalized():
        raise CallOrderError(
            "MPI is not initialised (or already finalised): the host must call MPI_Init "
            "before landemu_init; landemu never initialises or finalises MPI itself"
        )
    invalid = LandemuError(
        f"fcomm = {fcomm} is not a valid MPI communicator (Fortran handle); pass the host's "
        "communicator, e.g. MPI_COMM_WORLD or the land component's communicator"
    )
    try:
        comm = MPI.Comm.f2py(int(fcomm))
    except MPI.Exception:
        raise invalid from None
    # Open MPI's MPI_Comm_f2c gives NULL for an unknown handle; using it would crash.
    if MPI._handleof(comm) == 0 or comm == MPI.COMM_NULL:
        raise invalid
    return comm


def _fail(entry: str, exc: BaseException) -> int:
    """Turn an exception into a status and a stored message (or MPI_Abort by policy)."""
    if isinstance(exc, LandemuError):
        status = int(getattr(exc, "status", LANDEMU_ERR)) or LANDEMU_ERR
        message = f"{entry}: {exc}"
    else:
        status = LANDEMU_ERR_INTERNAL
        message = (
            f"{entry}: internal error: {type(exc).__name__}: {exc} "
            "(a bug in landemu; traceback on stderr)"
        )
        sys.stderr.write(f"landemu: internal error in {entry}:\n{traceback.format_exc()}")
        sys.stderr.flush()
    message = shorten(message, MAX_MESSAGE)
    _lib._landemu_set_error(message.encode("utf-8", errors="replace"))
    if _session.abort_on_error and _session.comm is not None:
        rank = _session.comm.Get_rank()
        sys.stderr.write(
            f"landemu (rank {rank}): {message}\nlandemu: on_error = abort: "
            f"calling MPI_Abort with error code {status}\n"
        )
        sys.stderr.flush()
        _session.comm.Abort(status)
    return status


def _entry(entry: str) -> Callable[[Callable[..., None]], Callable[..., int]]:
    """Decorator: run an implementation, returning 0 or a failure status, never raising."""

    def wrap(impl: Callable[..., None]) -> Callable[..., int]:
        def guarded(*args: Any) -> int:
            try:
                impl(*args)
                return LANDEMU_OK
            except BaseException as exc:  # nothing may cross the C boundary
                return _fail(entry, exc)

        guarded.__name__ = impl.__name__
        guarded.__doc__ = impl.__doc__
        return guarded

    return wrap


# ---- the entry points (see landemu.h for the contract of each) ------------------------


@_entry("landemu_init")
def landemu_init(fcomm: int, config_path: Any) -> None:
    """Create this rank's Component on the host's communicator."""
    s = _session
    s.require("landemu_init", UNINITIALISED, FINALISED)
    path = _text(config_path, "config_path", ConfigError)
    if not path.strip():
        raise ConfigError("config_path is empty; pass the path of landemu's YAML configuration")
    comm = communicator_from_fortran(fcomm)
    component = load_component_class()(comm, path)
    s.__init__()
    s.component = component
    s.comm = comm
    s.calendar = component.calendar
    s.abort_on_error = getattr(component, "on_error", "return") == "abort"
    s.phase = INITIALISED


@_entry("landemu_set_decomposition")
def landemu_set_decomposition(global_ids: Any, n_local: int) -> None:
    """Hand the Component this rank's 1-based cell ids (copied from the host's array)."""
    s = _session
    s.require("landemu_set_decomposition", INITIALISED)
    # Argument errors are agreed over the communicator first: the Component's own checks
    # are collective, and a rank that stopped here alone would leave the others waiting.
    problem = ""
    if n_local < 0:
        problem = f"n_local = {n_local} is negative"
    elif n_local > 0 and global_ids == _ffi.NULL:
        problem = f"global_ids is a NULL pointer with n_local = {n_local}"
    elif n_local > s.component.host.n:  # checked before the host's buffer is read
        problem = (
            f"n_local = {n_local} is more than the {s.component.host.n} cells of the host grid"
        )
    s.component.agreement.check("set_decomposition", FieldError(problem) if problem else None)
    ids = (
        np.frombuffer(_ffi.buffer(global_ids, n_local * 8), dtype=np.int64).copy()
        if n_local
        else np.empty(0, dtype=np.int64)
    )
    s.component.set_decomposition(ids)
    s.n_local = int(n_local)
    s.views.clear()
    s.phase = RUNNING


@_entry("landemu_put")
def landemu_put(name: Any, values: Any, n_local: int, nlev: int) -> None:
    """Hand an import field (a zero-copy, read-only view of the host's array)."""
    s = _session
    if s.phase is not RUNNING:
        s.require("landemu_put", RUNNING)
    field = _text(name, "the field name")
    s.component.put(field, s.view(values, n_local, nlev, field, False))


@_entry("landemu_advance")
def landemu_advance(ymd: int, tod: int) -> None:
    """Advance the Component to (ymd, tod) in the run's calendar."""
    s = _session
    if s.phase is not RUNNING:
        s.require("landemu_advance", RUNNING)
    try:
        time = ModelTime.from_ymd_tod(ymd, tod, s.calendar)
    except LandemuError as exc:
        raise type(exc)(f"ymd = {ymd}, tod = {tod} is not a model time: {exc}") from None
    s.component.advance(time)


@_entry("landemu_get")
def landemu_get(name: Any, values: Any, n_local: int, nlev: int) -> None:
    """Fill the host's array (a zero-copy, writable view) with an export field."""
    s = _session
    if s.phase is not RUNNING:
        s.require("landemu_get", RUNNING)
    field = _text(name, "the field name")
    s.component.get(field, s.view(values, n_local, nlev, field, True))


@_entry("landemu_field_info")
def landemu_field_info(name: Any, direction: Any, nlev: Any) -> None:
    """Report a field's direction (0 none, 1 import, 2 export) and number of levels."""
    s = _session
    s.require("landemu_field_info", INITIALISED, RUNNING)
    field = _text(name, "the field name")
    if direction == _ffi.NULL or nlev == _ffi.NULL:
        raise FieldError(f"field '{field}': the direction or nlev output pointer is NULL")
    kind, levels = s.component.field_info(field)
    if kind not in DIRECTION_CODES:
        raise LandemuError(f"field '{field}': unexpected direction {kind!r} from the component")
    direction[0] = DIRECTION_CODES[kind]
    nlev[0] = int(levels) if kind is not None else 0


def _axes_levels(name: str, n1: int, n2: int) -> int:
    """n1 × n2 after checking them against the field's two named axes (never transposed)."""
    spec = _session.component.registry[name]
    sizes = tuple(n for _, n in spec.axes)
    if sizes != (n1, n2):
        want = (
            f"Fortran a(n_local, {sizes[0]}, {sizes[1]}) for its axes {spec.axes_text()}"
            if len(sizes) == 2
            else f"{spec.axes_text()}, not two named axes: pass it as a(n_local, {spec.levels})"
        )
        raise FieldError(f"field '{name}': got a(n_local, {n1}, {n2}), expected {want}")
    return n1 * n2


def _with_axes(entry: str, name: Any, values: Any, n_local: int, n1: int, n2: int) -> None:
    """A put (read-only view) or get (writable view) of a rank-3 array a(n_local, n1, n2)."""
    s = _session
    s.require(entry, RUNNING)
    field = _text(name, "the field name")
    writable = entry == "landemu_get_axes"
    view = s.view(values, n_local, _axes_levels(field, n1, n2), field, writable)
    (s.component.get if writable else s.component.put)(field, view)


@_entry("landemu_put_axes")
def landemu_put_axes(name: Any, values: Any, n_local: int, n1: int, n2: int) -> None:
    """Put a field with two level axes, Fortran a(n_local, n1, n2) (C [n2][n1][n_local])."""
    _with_axes("landemu_put_axes", name, values, n_local, n1, n2)


@_entry("landemu_get_axes")
def landemu_get_axes(name: Any, values: Any, n_local: int, n1: int, n2: int) -> None:
    """Get a field with two level axes into Fortran a(n_local, n1, n2)."""
    _with_axes("landemu_get_axes", name, values, n_local, n1, n2)


@_entry("landemu_field_axes")
def landemu_field_axes(name: Any, naxes: Any, sizes: Any, names: Any, names_len: int) -> None:
    """Report a field's named level axes: count, sizes and comma-joined names."""
    s = _session
    s.require("landemu_field_axes", INITIALISED, RUNNING)
    field = _text(name, "the field name")
    if _ffi.NULL in (naxes, sizes, names):
        raise FieldError(f"field '{field}': the naxes, sizes or names output pointer is NULL")
    axes = s.component.field_axes(field) if s.component.registry.canonical(field) else ()
    if len(axes) > MAX_AXES:
        raise FieldError(f"field '{field}' has {len(axes)} axes; the C API reports {MAX_AXES}")
    text = ",".join(a for a, _ in axes).encode()
    if names_len < len(text) + 1:
        raise FieldError(
            f"field '{field}': its axis names '{text.decode()}' need {len(text) + 1} bytes, "
            f"names_len is {names_len}"
        )
    naxes[0] = len(axes)
    for k, (_, n) in enumerate(axes):
        sizes[k] = n
    _ffi.memmove(names, text + b"\0", len(text) + 1)


@_entry("landemu_write_restart")
def landemu_write_restart(path: Any) -> None:
    """Write a restart file ("" or NULL: the Component's default name)."""
    s = _session
    s.require("landemu_write_restart", RUNNING)
    text = "" if path == _ffi.NULL else _ffi.string(path).decode("utf-8", errors="replace")
    s.component.write_restart(text.strip() or None)


@_entry("landemu_finalize")
def landemu_finalize() -> None:
    """Finish the Component; the library may be initialised again afterwards."""
    s = _session
    s.require("landemu_finalize", INITIALISED, RUNNING)
    component = s.component
    s.__init__()
    s.phase = FINALISED
    try:
        component.finalize()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


ENTRY_POINTS: dict[str, Callable[..., int]] = {
    "landemu_init": landemu_init,
    "landemu_set_decomposition": landemu_set_decomposition,
    "landemu_put": landemu_put,
    "landemu_advance": landemu_advance,
    "landemu_get": landemu_get,
    "landemu_field_info": landemu_field_info,
    "landemu_put_axes": landemu_put_axes,
    "landemu_get_axes": landemu_get_axes,
    "landemu_field_axes": landemu_field_axes,
    "landemu_write_restart": landemu_write_restart,
    "landemu_finalize": landemu_finalize,
}


def attach(ffi: Any, lib: Any) -> None:
    """Bind every entry point to its C symbol (`_py_<name>`); run once by the init code."""
    global _ffi, _lib
    _ffi, _lib = ffi, lib
    for name, function in ENTRY_POINTS.items():
        ffi.def_extern(name="_py_" + name, error=LANDEMU_ERR_INTERNAL)(function)

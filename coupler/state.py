"""Import and export state on the host decomposition.

A put is one pass over the host's buffer: the range check (NaN included) is fused with
the accumulation into the time mean its consumers need (`coupler/kernels/state.c`). The
sum is double-buffered, so a rejected put leaves the state exactly as it was and the host
can correct its data and try again. A get is one checked copy into the host's buffer.

Arrays are (nlev, n_local) float64, C order: the host's Fortran a(n_local, nlev).
"""

from __future__ import annotations

import numpy as np

from coupler.errors import FieldError
from coupler.fields import FieldSpec
from coupler.kernels import ffi, lib
from coupler.persistence import Persistent, attr_array, attr_int
from coupler.windows import ImportWindow, WindowOf

SEP = "__"  # joins the parts of persistent-state keys


def _ptr(a: np.ndarray):
    """A C pointer to a contiguous float64 array (from_buffer: 6x cheaper than .ctypes)."""
    return ffi.from_buffer("double[]", a)


def describe_invalid(spec: FieldSpec, values: np.ndarray, ids: np.ndarray | None, what: str) -> str:
    """Word an error about the first NaN/out-of-range value (the slow path, errors only)."""
    flat = values.reshape(-1)
    k = int(lib.le_first_invalid(_ptr(flat), flat.size, spec.valid_min, spec.valid_max))
    lev, cell = divmod(k, values.shape[-1])
    v = flat[k]
    n_bad = int(np.count_nonzero(~((flat >= spec.valid_min) & (flat <= spec.valid_max))))
    where = f"host cell id {int(ids[cell]) + 1}" if ids is not None else f"local cell {cell + 1}"
    level = f", level {lev + 1}" if values.shape[0] > 1 else ""
    kind = "NaN" if np.isnan(v) else f"{v:g}"
    return (
        f"{what} {spec.name}: {n_bad} value(s) NaN or outside the valid range {spec.range_text()}; "
        f"first: {kind} at {where}{level}. Are the units {spec.units}?"
    )


class Accumulator:
    """Running sum and count of a host field since its consumer last took the mean."""

    def __init__(self, nlev: int, n: int) -> None:
        self.sum = np.zeros((nlev, n))
        self._spare = np.zeros((nlev, n))
        self._p_sum, self._p_spare = _ptr(self.sum), _ptr(self._spare)
        self.count = 0

    def add_checked(self, values: np.ndarray, lo: float, hi: float) -> int:
        """Add values if all lie in [lo, hi]; return how many do not (0 = added).

        The first value of a period is a checked copy (0 + v = v exactly); later ones are
        summed into the spare buffer, which becomes the sum only if every value passed.
        """
        n, src = values.size, _ptr(values)
        if self.count == 0:
            bad = lib.le_check_copy(src, self._p_sum, n, lo, hi)
        else:
            bad = lib.le_check_sum(src, self._p_sum, self._p_spare, n, lo, hi)
            if not bad:
                self.sum, self._spare = self._spare, self.sum
                self._p_sum, self._p_spare = self._p_spare, self._p_sum
        if bad:
            return int(bad)
        self.count += 1
        return 0

    def add(self, values: np.ndarray) -> None:
        """Add values already known to be valid."""
        if self.count == 0:
            np.copyto(self.sum, values)
        else:
            np.add(self.sum, values, out=self.sum)
        self.count += 1

    def mean(self) -> np.ndarray:
        return self.sum / self.count

    def reset(self) -> None:
        self.count = 0  # the next add_checked overwrites the sum

    def persistent(self, key: str) -> list[Persistent]:
        return [attr_array(key, "host", self, "sum"), attr_int(f"{key}{SEP}count", self, "count")]


def as_host_array(values: np.ndarray, spec: FieldSpec, n_local: int, what: str) -> np.ndarray:
    """View `values` as (nlev, n_local) float64 without copying, or explain the mismatch."""
    nlev = spec.levels
    if (
        type(values) is np.ndarray
        and values.dtype == np.float64
        and values.shape == (nlev, n_local)
        and values.flags.c_contiguous
    ):
        return values  # the common case, checked in one go
    arr = np.asarray(values)
    if arr.dtype != np.float64:
        raise FieldError(
            f"{what} {spec.name}: expected float64 (real(c_double)) values, got {arr.dtype}"
        )
    if arr.ndim == 1 and nlev == 1:
        arr = arr.reshape(1, -1)
    if arr.shape != (nlev, n_local):
        fortran = f"a({n_local})" if nlev == 1 else f"a({n_local}, {nlev})"
        got = "x".join(str(d) for d in np.shape(values)[::-1]) if np.ndim(values) else "a scalar"
        raise FieldError(
            f"{what} {spec.name}: expected {nlev} level(s) × {n_local} local cells "
            f"(Fortran {fortran}, C [{nlev}][{n_local}]), got Fortran shape ({got})"
        )
    if not arr.flags.c_contiguous:
        raise FieldError(f"{what} {spec.name}: the array must be contiguous")
    return arr


class ImportField:
    """One host import: validated on put, kept as the aggregates its consumers need.

    `consumers` maps a consumer (a step name, or 'history') to 'mean' (over the puts since
    it last ran), 'last' (the latest put) or a `WindowOf` (the last N interval means).
    """

    def __init__(self, spec: FieldSpec, n_local: int, consumers: dict[str, str | WindowOf]) -> None:
        self.spec = spec
        self.consumers = dict(consumers)
        self.windows = {
            c: ImportWindow(a.length, spec.levels, n_local)
            for c, a in consumers.items()
            if isinstance(a, WindowOf)
        }
        self.means = {
            c: Accumulator(spec.levels, n_local) for c, a in consumers.items() if a == "mean"
        }
        self.means.update({c: w.acc for c, w in self.windows.items()})  # puts feed windows too
        wants_last = any(a == "last" for a in consumers.values())
        self.latest = np.zeros((spec.levels, n_local)) if wants_last else None
        self.has_latest = False

    def put(self, values: np.ndarray, ids: np.ndarray) -> None:
        lo, hi = self.spec.valid_min, self.spec.valid_max
        checked = False
        for acc in self.means.values():
            if not checked:
                if acc.add_checked(values, lo, hi):
                    raise FieldError(describe_invalid(self.spec, values, ids, "put"))
                checked = True
            else:
                acc.add(values)
        if self.latest is not None:
            if not checked:
                if lib.le_check_copy(_ptr(values), _ptr(self.latest), values.size, lo, hi):
                    raise FieldError(describe_invalid(self.spec, values, ids, "put"))
                checked = True
            else:
                np.copyto(self.latest, values)
            self.has_latest = True
        if not checked and lib.le_count_invalid(_ptr(values), values.size, lo, hi):
            raise FieldError(describe_invalid(self.spec, values, ids, "put"))

    def value_for(self, consumer: str) -> np.ndarray:
        """The aggregate `consumer` asked for (FieldError if nothing was put).

        A window is (T, nlev, n_local), oldest first, as of the last `push_windows`."""
        if consumer in self.windows:
            return self.windows[consumer].values()
        if self.consumers[consumer] == "mean":
            acc = self.means[consumer]
            if acc.count == 0:
                raise FieldError(
                    f"no values of {self.spec.name} were put since '{consumer}' last ran: "
                    "put every import before each advance"
                )
            return acc.mean()
        if not self.has_latest:
            raise FieldError(
                f"no values of {self.spec.name} have been put yet (needed by '{consumer}')"
            )
        return self.latest

    def consumed(self, consumer: str) -> None:
        """Start a new averaging period for `consumer` (windows move on at every advance)."""
        if consumer in self.means and consumer not in self.windows:
            self.means[consumer].reset()

    def check_windows(self) -> None:
        """FieldError if a window would miss this coupling interval (nothing put)."""
        for consumer, window in self.windows.items():
            if window.acc.count == 0:
                raise FieldError(
                    f"no values of {self.spec.name} were put in this coupling interval "
                    f"(step '{consumer}' keeps a window of them): put every import before "
                    "each advance"
                )

    def push_windows(self) -> None:
        """End of a coupling interval: its mean enters every window."""
        for window in self.windows.values():
            window.push()

    def persistent(self, prefix: str) -> list[Persistent]:
        out = []
        for consumer, acc in self.means.items():
            out += acc.persistent(f"{prefix}{SEP}{consumer}")
        for consumer, window in self.windows.items():
            out += window.persistent(f"{prefix}{SEP}{consumer}{SEP}window")
        if self.latest is not None:
            out += [
                attr_array(f"latest{SEP}{self.spec.name}", "host", self, "latest"),
                attr_int(f"latest{SEP}{self.spec.name}{SEP}ready", self, "has_latest"),
            ]
        return out


class ExportField:
    """One host export: the latest values landemu computed, handed out by get.

    Host cells whose mask is 0 (inactive) get 0.0: no emulator speaks for them.
    """

    def __init__(self, spec: FieldSpec, n_local: int, producer: str, active: np.ndarray) -> None:
        self.spec = spec
        self.producer = producer
        self.active = np.asarray(active, bool)
        self.values = np.zeros((spec.levels, n_local))
        self._p_values = _ptr(self.values)
        self.ready = False

    def set(self, values: np.ndarray, ids: np.ndarray) -> None:
        """Store values computed by the producer (checked: an emulator can go wrong)."""
        values = np.where(self.active, values, 0.0)
        checked = np.ascontiguousarray(values[:, self.active])
        if lib.le_count_invalid(
            _ptr(checked), checked.size, self.spec.valid_min, self.spec.valid_max
        ):
            self.ready = False
            raise FieldError(
                describe_invalid(
                    self.spec, checked, ids[self.active], f"step '{self.producer}' produced"
                )
            )
        self.values[...] = values
        self.ready = True

    def get(self, out: np.ndarray) -> None:
        if not self.ready:
            raise FieldError(
                f"get {self.spec.name}: no value yet; step '{self.producer}' has not run "
                "(call advance first, and check the step's schedule)"
            )
        ffi.memmove(_ptr(out), self._p_values, out.nbytes)  # checked when set

    def persistent(self, key: str) -> list[Persistent]:
        ready = attr_int(f"{key}{SEP}ready", self, "ready")
        return [attr_array(key, "host", self, "values"), ready]

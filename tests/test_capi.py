"""The C API of liblandemu.so, called through ctypes from this process as a C host would.

The library is loaded into the pytest process (Python is already running here, so the
embedded interpreter is this one and `bindings.api` is the module we can inspect): that
lets a spy on the real Component see the arrays the library hands it — zero-copy views of
the host's buffers in the [nlev][n_local] layout. Every bad input returns a non-zero status
with a message naming the culprit, and the host can go on afterwards.
"""

from __future__ import annotations

import ctypes
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from coupler import errors
from coupler.component import Component

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "build" / "lib" / "liblandemu.so"
HEADER = REPO / "build" / "include" / "landemu.h"

OK, ERR, CONFIG, CALL_ORDER, FIELD, GRID, MODEL, INTERNAL = 0, 1, 2, 3, 4, 5, 7, 99
IMPORT, EXPORT = 1, 2
LAND_IDS = None  # set by the `host` fixture: the coast domain's land cells (1-based)


class CHost:
    """A C host in Python: the library's entry points with C types, and numpy buffers."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.lib = lib
        i32, i64, ptr, text = ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p, ctypes.c_char_p
        signatures = {
            "landemu_init": [i32, text],
            "landemu_set_decomposition": [ptr, i64],
            "landemu_put": [text, ptr, i64, i64],
            "landemu_advance": [i32, i32],
            "landemu_get": [text, ptr, i64, i64],
            "landemu_field_info": [text, ctypes.POINTER(i32), ctypes.POINTER(i64)],
            "landemu_write_restart": [text],
            "landemu_finalize": [],
            "landemu_last_error": [ctypes.c_char_p, i64],
        }
        for name, args in signatures.items():
            getattr(lib, name).argtypes = args
            getattr(lib, name).restype = ctypes.c_int

    def error(self) -> str:
        buf = ctypes.create_string_buffer(4096)
        assert self.lib.landemu_last_error(buf, len(buf)) == OK
        return buf.value.decode()

    def init(self, config: Path | str) -> int:
        return self.lib.landemu_init(MPI.COMM_WORLD.py2f(), str(config).encode())

    def set_decomposition(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        return self.lib.landemu_set_decomposition(ids.ctypes.data, ids.size)

    def put(
        self, name: str, values: np.ndarray, n_local: int | None = None, nlev: int | None = None
    ) -> int:
        n, k = _sizes(values)
        return self.lib.landemu_put(
            name.encode(),
            values.ctypes.data,
            n if n_local is None else n_local,
            k if nlev is None else nlev,
        )

    def get(self, name: str, values: np.ndarray) -> int:
        n, k = _sizes(values)
        return self.lib.landemu_get(name.encode(), values.ctypes.data, n, k)

    def advance(self, ymd: int, tod: int = 0) -> int:
        return self.lib.landemu_advance(ymd, tod)

    def field_info(self, name: str) -> tuple[int, int, int]:
        direction, nlev = ctypes.c_int32(-1), ctypes.c_int64(-1)
        status = self.lib.landemu_field_info(
            name.encode(), ctypes.byref(direction), ctypes.byref(nlev)
        )
        return status, direction.value, nlev.value

    def finalize(self) -> int:
        return self.lib.landemu_finalize()


def _sizes(values: np.ndarray) -> tuple[int, int]:
    """(n_local, nlev) of a host buffer laid out as Fortran values(n_local, nlev)."""
    if values.ndim == 1:
        return values.shape[0], 1
    assert values.flags.f_contiguous, "host buffers are Fortran-ordered (n_local, nlev)"
    return values.shape[0], values.shape[1]


@pytest.fixture(scope="session")
def library() -> ctypes.CDLL:
    if not LIBRARY.exists():
        pytest.fail(f"{LIBRARY} is not built: run `make bindings`")
    return ctypes.CDLL(str(LIBRARY))


@pytest.fixture
def host(library, coast_domain):
    """A C host on this process; landemu is finalised after each test whatever happened."""
    from bindings import api
    from coupler.grids.host import HostGrid

    global LAND_IDS
    LAND_IDS = np.flatnonzero(HostGrid.from_file(coast_domain).mask) + 1
    c = CHost(library)
    yield c
    if api.session().phase in (api.INITIALISED, api.RUNNING):
        c.finalize()


@pytest.fixture
def spy(monkeypatch):
    """Make the library create a Component that records the arrays it is handed."""
    from bindings import api

    seen: dict[tuple[str, str], np.ndarray] = {}

    class SpyComponent(Component):
        def put(self, name, values):
            seen["put", name] = values
            super().put(name, values)

        def get(self, name, out):
            seen["get", name] = out
            super().get(name, out)

    monkeypatch.setattr(api, "load_component_class", lambda: SpyComponent)
    return seen


def forcing(n: int, day: int) -> dict[str, np.ndarray]:
    return {"TBOT": 270.0 + 0.5 * day + 0.25 * np.arange(n), "PRECTmms": np.full(n, 2.5e-5)}


def start(host: CHost, config: Path) -> int:
    """init + set_decomposition on the land cells; returns n_local."""
    assert host.init(config) == OK, host.error()
    assert host.set_decomposition(LAND_IDS) == OK, host.error()
    return LAND_IDS.size


def step(host: CHost, n: int, day: int) -> None:
    for name, values in forcing(n, day).items():
        assert host.put(name, values) == OK, host.error()
    assert host.advance(20010101 + day) == OK, host.error()


# ---- the library itself ------------------------------------------------------------------


def test_header_statuses_match_the_error_classes():
    defines = dict(re.findall(r"#define (LANDEMU_\w+)\s+(\d+)", HEADER.read_text()))
    by_class = {
        "LANDEMU_ERR": errors.LandemuError,
        "LANDEMU_ERR_CONFIG": errors.ConfigError,
        "LANDEMU_ERR_CALL_ORDER": errors.CallOrderError,
        "LANDEMU_ERR_FIELD": errors.FieldError,
        "LANDEMU_ERR_GRID": errors.GridError,
        "LANDEMU_ERR_REGRID": errors.RegridError,
        "LANDEMU_ERR_MODEL": errors.ModelError,
        "LANDEMU_ERR_DATA_FILE": errors.DataFileError,
        "LANDEMU_ERR_RUNTIME": errors.LandemuRuntimeError,
    }
    assert {k: int(defines[k]) for k in by_class} == {k: c.status for k, c in by_class.items()}
    assert (int(defines["LANDEMU_OK"]), int(defines["LANDEMU_ERR_INTERNAL"])) == (0, 99)


def test_library_exports_exactly_the_header_functions():
    declared = set(re.findall(r"^int (landemu_\w+)\(", HEADER.read_text(), flags=re.M))
    nm = subprocess.run(
        ["nm", "-D", "--defined-only", str(LIBRARY)], capture_output=True, text=True, check=True
    ).stdout
    exported = {line.split()[-1] for line in nm.splitlines() if " T " in line}
    assert declared == {n for n in exported if n.startswith("landemu_")}
    assert len(declared) == 12  # 9 + put_axes, get_axes, field_axes (level axes)


def test_library_has_rpath_to_libpython():
    dynamic = subprocess.run(
        ["readelf", "-d", str(LIBRARY)], capture_output=True, text=True, check=True
    ).stdout
    rpath = re.search(r"\((?:RPATH|RUNPATH)\)\s+Library r\w*path: \[(.*)\]", dynamic).group(1)
    needed = re.findall(r"Shared library: \[(libpython[^\]]+)\]", dynamic)
    assert needed and (Path(rpath) / needed[0]).exists()


# ---- call order ----------------------------------------------------------------------------


def test_calls_before_init_are_call_order_errors(host):
    values = np.zeros(3)
    calls = {
        "landemu_put": lambda: host.put("TBOT", values),
        "landemu_get": lambda: host.get("LAI", values),
        "landemu_advance": lambda: host.advance(20010102),
        "landemu_set_decomposition": lambda: host.set_decomposition(np.arange(1, 4)),
        "landemu_field_info": lambda: host.field_info("TBOT")[0],
        "landemu_write_restart": lambda: host.lib.landemu_write_restart(b""),
        "landemu_finalize": host.finalize,
    }
    for entry, call in calls.items():
        assert call() == CALL_ORDER, entry
        assert host.error().startswith(f"{entry}: called before landemu_init"), host.error()


def test_calls_out_of_order_after_init_and_finalize(host, make_config):
    assert host.init(make_config()) == OK, host.error()
    assert host.put("TBOT", np.zeros(LAND_IDS.size)) == CALL_ORDER
    assert "before landemu_set_decomposition" in host.error()
    assert host.init(make_config()) == CALL_ORDER
    assert "already initialised" in host.error()
    assert host.set_decomposition(LAND_IDS) == OK, host.error()
    assert host.set_decomposition(LAND_IDS) == CALL_ORDER
    assert "already set" in host.error()
    assert host.finalize() == OK, host.error()
    assert host.advance(20010102) == CALL_ORDER
    assert "after landemu_finalize" in host.error()
    # ... and landemu can start again.
    n = start(host, make_config())
    step(host, n, 1)


# ---- zero copy and layout ----------------------------------------------------------------


def test_put_and_get_views_share_memory_with_the_host_buffers(host, spy, make_config):
    n = start(host, make_config())
    tbot, prect = forcing(n, 1).values()
    assert host.put("TBOT", tbot) == OK and host.put("PRECTmms", prect) == OK
    assert host.advance(20010102) == OK, host.error()
    lai = np.full(n, -1.0)
    assert host.get("LAI", lai) == OK, host.error()

    seen_put, seen_get = spy["put", "TBOT"], spy["get", "LAI"]
    assert np.shares_memory(seen_put, tbot) and seen_put.ctypes.data == tbot.ctypes.data
    assert not seen_put.flags.writeable  # landemu cannot scribble on the host's forcing
    assert np.shares_memory(seen_get, lai) and seen_get.ctypes.data == lai.ctypes.data
    assert seen_get.shape == (1, n)
    assert np.all(lai >= 0.0) and lai.max() > 0.0  # filled in place by the Component


def test_fortran_n_by_nlev_array_is_c_nlev_by_n(host, spy, make_config):
    config = make_config(
        host={"imports": ["TBOT", "PRECTmms", "H2OSOI"]},
        history={"fields": ["H2OSOI"], "frequency": "daily"},
    )
    n = start(host, config)
    assert host.field_info("H2OSOI") == (OK, IMPORT, 10)
    # Fortran h2osoi(n_local, 10): cell i, level k holds 0.01*k + 0.0001*i (all different).
    i, k = np.meshgrid(np.arange(n), np.arange(10), indexing="ij")
    h2osoi = np.asfortranarray(0.01 * (k + 1) + 0.0001 * (i + 1))
    assert host.put("H2OSOI", h2osoi) == OK, host.error()

    view = spy["put", "H2OSOI"]
    assert view.shape == (10, n) and view.flags.c_contiguous
    assert np.shares_memory(view, h2osoi)
    np.testing.assert_array_equal(view, h2osoi.T)  # view[k, i] == h2osoi[i, k]
    assert view[3, 0] == 0.04 + 0.0001 and view[0, 3] == 0.01 + 0.0004


# ---- bad input: a status, a message naming the culprit, and the host goes on ---------------


def test_bad_puts_are_rejected_with_the_culprit_named(host, make_config):
    n = start(host, make_config())
    good = forcing(n, 1)["TBOT"]
    nan = good.copy()
    nan[2] = np.nan
    hot = good.copy()
    hot[1] = 1.0e4
    cases = [
        (lambda: host.put("TBOTT", good), FIELD, "'TBOTT'"),
        (lambda: host.put("TBOT", nan), FIELD, "NaN"),
        (lambda: host.put("TBOT", hot), FIELD, "10000"),
        (lambda: host.put("TBOT", good, n_local=n - 1), FIELD, f"n_local = {n - 1}"),
        (lambda: host.put("TBOT", np.zeros(2 * n), nlev=2), FIELD, "TBOT"),
        (lambda: host.lib.landemu_put(None, good.ctypes.data, n, 1), FIELD, "NULL"),
        (lambda: host.lib.landemu_put(b"TBOT", None, n, 1), FIELD, "NULL"),
        (lambda: host.put("LAI", good), FIELD, "not a host import"),
    ]
    for call, status, needle in cases:
        assert call() == status, host.error()
        assert needle in host.error(), host.error()
    assert host.put("TBOT", nan) == FIELD and "TBOT" in host.error()
    # After all that, a correct coupling step works.
    step(host, n, 1)
    lai = np.empty(n)
    assert host.get("LAI", lai) == OK and np.isfinite(lai).all()


def test_bad_advance_and_get_are_rejected(host, make_config):
    n = start(host, make_config())
    assert host.advance(20010230) != OK
    assert "ymd = 20010230" in host.error()
    assert host.advance(20010102, 90000) != OK
    assert "tod = 90000" in host.error()
    step(host, n, 1)
    assert host.get("LAI", np.empty(n + 1)) == FIELD
    assert f"n_local = {n + 1}" in host.error()
    assert host.get("NOT_A_FIELD", np.empty(n)) == FIELD
    assert "NOT_A_FIELD" in host.error()
    status, direction, nlev = host.field_info("NOT_A_FIELD")
    assert (status, direction, nlev) == (OK, 0, 0)
    assert host.field_info("LAI") == (OK, EXPORT, 1)


def test_config_typo_is_a_config_error_naming_the_key(host, make_config):
    assert host.init(make_config(run={"calender": "noleap"})) == CONFIG
    message = host.error()
    assert "calender" in message and "calendar" in message
    assert host.init("/nonexistent/landemu.yaml") == CONFIG
    assert "/nonexistent/landemu.yaml" in host.error()


def test_decomposition_not_matching_the_domain_file_is_a_grid_error(
    host, make_config, coast_domain
):
    assert host.init(make_config()) == OK, host.error()
    assert host.set_decomposition(np.array([1, 2, 17])) == GRID
    message = host.error()
    assert "17" in message and coast_domain.name in message, message
    assert host.set_decomposition(np.array([LAND_IDS[0], LAND_IDS[0]])) == GRID
    assert str(LAND_IDS[0]) in host.error()
    # The host can fix its ids and go on.
    assert host.set_decomposition(LAND_IDS) == OK, host.error()
    step(host, LAND_IDS.size, 1)


def onnx_config(make_config, model: Path) -> Path:
    """A configuration whose only step is a host-column ONNX model TBOT -> LAI."""
    inputs = [{"name": "TBOT", "units": "K"}]
    outputs = [{"name": "LAI", "units": "m2 m-2"}]
    return make_config(
        steps=[
            {
                "name": "net",
                "onnx": str(model),
                "grid": "host",
                "schedule": "daily",
                "inputs": inputs,
                "outputs": outputs,
            }
        ],
        host={"imports": ["TBOT"], "exports": ["LAI"]},
        history={"fields": []},
    )


def test_missing_and_corrupt_onnx_files_are_model_errors(host, make_config, tmp_path):
    missing = tmp_path / "missing.onnx"
    assert host.init(onnx_config(make_config, missing)) == MODEL
    assert "missing.onnx" in host.error() and "does not exist" in host.error()
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"\x08\x07 this is not a protobuf \xff\xfe" * 20)
    assert host.init(onnx_config(make_config, corrupt)) == MODEL
    assert "corrupt.onnx" in host.error() and "cannot be loaded" in host.error()


def write_three_channel_model(path: Path) -> Path:
    """A host-column ONNX model taking 3 channels (N, 3), for a config that feeds 1."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by the installed ONNX Runtime
    onnx.save(model, path)
    return path


def test_onnx_model_not_matching_its_config_is_a_model_error(host, make_config, tmp_path):
    path = write_three_channel_model(tmp_path / "three_channels.onnx")
    assert host.init(onnx_config(make_config, path)) == MODEL
    message = host.error()
    assert "three_channels.onnx" in message and "3 channels" in message, message


# ---- nothing crosses the boundary ------------------------------------------------------------


def test_unexpected_exceptions_become_internal_error_statuses(
    host, monkeypatch, make_config, capfd
):
    from bindings import api

    class BuggyComponent(Component):
        def advance(self, time):
            raise ZeroDivisionError("a bug deep inside")

        def get(self, name, out):
            raise SystemExit(3)  # not even exit() may end the host

    monkeypatch.setattr(api, "load_component_class", lambda: BuggyComponent)
    n = start(host, make_config())
    assert host.advance(20010102) == INTERNAL
    assert host.error().startswith(
        "landemu_advance: internal error: ZeroDivisionError: a bug deep inside"
    )
    assert "Traceback" in capfd.readouterr().err
    assert host.get("LAI", np.empty(n)) == INTERNAL
    assert "SystemExit" in host.error()


def test_last_error_truncates_to_the_buffer_and_rejects_no_buffer(host):
    host.put("TBOT", np.zeros(1))  # before init: leaves a message
    small = ctypes.create_string_buffer(8)
    assert host.lib.landemu_last_error(small, 8) == OK
    assert small.value == b"landemu"  # 7 characters + NUL
    assert host.lib.landemu_last_error(None, 8) == ERR
    assert host.lib.landemu_last_error(small, 0) == ERR


def test_a_python_host_that_imported_torch_first_can_start_the_library():
    """cffi's start spins on PyCapsule_Type's version tag (Python < 3.12), which importing
    torch sets; the library drops that cached tag first, so the call returns, never hangs."""
    code = (
        "import torch, ctypes\n"
        f"lib = ctypes.CDLL({str(LIBRARY)!r})\n"
        "lib.landemu_finalize.restype = ctypes.c_int\n"
        "print(lib.landemu_finalize())\n"
    )
    python = REPO / ".venv" / "bin" / "python"
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) == CALL_ORDER  # finalize before init: a status, not a hang

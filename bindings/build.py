"""Builds liblandemu.so (cffi embedding mode) and installs its header: `make bindings`.

Run with the project's interpreter (`.venv/bin/python bindings/build.py`): the library
records, at build time, the paths of *this* Python environment so that a Fortran host finds
it whatever its own PATH or PYTHONHOME:
  - the interpreter's base prefix (Python home: standard library), the environment's python
    (program name: `site` then sets up that environment) and libpython, set up by a C
    constructor before cffi starts Python (bindings/capi.c);
  - the environment's site-packages and the repository (for `bindings.api`), added by the
    init code below with site.addsitedir / sys.path.
Outputs: build/lib/liblandemu.so (RPATH to libpython's directory), build/include/landemu.h.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import sysconfig
from pathlib import Path

import cffi

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
HEADER = HERE / "landemu.h"
C_SOURCE = HERE / "capi.c"
LIB_DIR = REPO / "build" / "lib"
INCLUDE_DIR = REPO / "build" / "include"
WORK_DIR = REPO / "build" / "bindings"
MODULE_NAME = "_landemu_cffi"
LIB_NAME = "liblandemu.so"

# Entry points implemented in Python (bindings/api.py); landemu_last_error is pure C.
PYTHON_ENTRY_POINTS = (
    "landemu_init",
    "landemu_set_decomposition",
    "landemu_put",
    "landemu_advance",
    "landemu_get",
    "landemu_field_info",
    "landemu_put_axes",
    "landemu_get_axes",
    "landemu_field_axes",
    "landemu_write_restart",
    "landemu_finalize",
)


def api_declarations(header: str) -> dict[str, str]:
    """Prototype text of each function between the header's LANDEMU_API markers."""
    lines = header.splitlines()
    begin = next(i for i, line in enumerate(lines) if "LANDEMU_API_BEGIN" in line)
    end = next(i for i, line in enumerate(lines) if "LANDEMU_API_END" in line)
    body = "\n".join(lines[begin + 1 : end])
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.S)
    prototypes = [" ".join(p.split()) + ";" for p in body.split(";") if p.strip()]
    return {re.search(r"(\w+)\s*\(", p).group(1): p for p in prototypes}


def python_environment() -> dict[str, str]:
    """Paths of the running interpreter that the library must find again at run time."""
    if sys.prefix == sys.base_prefix:
        print(
            f"bindings/build.py: warning: {sys.executable} is not a virtual environment's "
            "python; the library will use that interpreter's site-packages",
            file=sys.stderr,
        )
    libdir = sysconfig.get_config_var("LIBDIR")
    soname = sysconfig.get_config_var("INSTSONAME")
    libpython = Path(libdir) / soname
    if not sysconfig.get_config_var("Py_ENABLE_SHARED") or not libpython.exists():
        sys.exit(
            f"bindings/build.py: {sys.executable} has no shared libpython ({libpython}); "
            "landemu embeds Python and needs one (use a Python built with --enable-shared)"
        )
    paths = sysconfig.get_paths()
    site_dirs = list(dict.fromkeys([paths["purelib"], paths["platlib"]]))
    return {
        "home": sys.base_prefix,
        "program": sys.executable,
        "stdlib": sysconfig.get_paths()["stdlib"],
        "libdir": libdir,
        "libpython": str(libpython),
        "soname": soname,
        "site_dirs": site_dirs,
    }


def c_string(text: str) -> str:
    """A C string literal for a path (escapes backslashes and quotes)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


INIT_CODE = """
import site
import sys

for _path in {site_dirs!r}:
    site.addsitedir(_path)
if {repo!r} not in sys.path:
    sys.path.insert(0, {repo!r})

from {module} import ffi, lib

if not lib._landemu_host_is_python():
    # Inside a Fortran/C host: MPI belongs to the host. mpi4py must neither initialise nor
    # finalise it, and no Python finalisation will flush buffered output, so flush lines.
    import mpi4py

    mpi4py.rc.initialize = False
    mpi4py.rc.finalize = False
    sys.stdout.reconfigure(line_buffering=True)
    sys.stderr.reconfigure(line_buffering=True)

from bindings import api

api.attach(ffi, lib)
lib._landemu_mark_ready()
"""


def make_builder(env: dict[str, str]) -> cffi.FFI:
    """The cffi embedding builder: extern "Python" functions behind C entry points."""
    prototypes = api_declarations(HEADER.read_text())
    missing = [
        name for name in (*PYTHON_ENTRY_POINTS, "landemu_last_error") if name not in prototypes
    ]
    if missing:
        sys.exit(f"bindings/build.py: {HEADER} does not declare {', '.join(missing)}")
    python_side = [
        'extern "Python" ' + prototypes[name].replace(name + "(", "_py_" + name + "(", 1)
        for name in PYTHON_ENTRY_POINTS
    ]
    c_helpers = [
        "void _landemu_set_error(const char *msg);",
        "void _landemu_mark_ready(void);",
        "int _landemu_host_is_python(void);",
    ]
    ffi = cffi.FFI()
    ffi.embedding_api("")  # the exported symbols are the C functions of capi.c
    ffi.cdef("\n".join(python_side + c_helpers))
    ffi.embedding_init_code(
        INIT_CODE.format(site_dirs=env["site_dirs"], repo=str(REPO), module=MODULE_NAME)
    )
    home = env["home"]
    prelude = "\n".join(
        [
            f"#define LANDEMU_PYTHON_HOME L{c_string(home)}",
            f"#define LANDEMU_PYTHON_PROGRAM L{c_string(env['program'])}",
            f"#define LANDEMU_PYTHON_STDLIB {c_string(env['stdlib'])}",
            f"#define LANDEMU_LIBPYTHON {c_string(env['libpython'])}",
            f"#define LANDEMU_LIBPYTHON_SONAME {c_string(env['soname'])}",
            f'#include "{C_SOURCE.name}"',
        ]
    )
    ffi.set_source(
        MODULE_NAME,
        prelude,
        include_dirs=[str(HERE)],
        extra_compile_args=["-O2", "-Wall", "-fvisibility=hidden"],
        extra_link_args=[
            "-Wl,--disable-new-dtags",  # DT_RPATH: the host's LD_LIBRARY_PATH cannot override
            f"-Wl,-rpath,{env['libdir']}",
            f"-L{env['libdir']}",
            f"-Wl,-soname,{LIB_NAME}",
            "-ldl",
        ],
    )
    return ffi


def build() -> Path:
    env = python_environment()
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    built = Path(make_builder(env).compile(tmpdir=str(WORK_DIR), target=LIB_NAME, verbose=False))
    # Replace, never overwrite in place: a running host may have the old library mapped.
    for src, dst_dir in ((built, LIB_DIR), (HEADER, INCLUDE_DIR)):
        dst_dir.mkdir(parents=True, exist_ok=True)
        tmp = dst_dir / f".{src.name}.tmp{os.getpid()}"
        shutil.copy2(src, tmp)
        os.replace(tmp, dst_dir / src.name)
    return LIB_DIR / LIB_NAME


if __name__ == "__main__":
    print(f"landemu: built {build()} and {INCLUDE_DIR / HEADER.name}")

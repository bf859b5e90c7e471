/* The C side of liblandemu.so: the exported entry points of landemu.h.
 *
 * This file is compiled by bindings/build.py into the cffi embedding module `_landemu_cffi`
 * (cffi includes Python.h and its embedding logic before it). build.py defines, before
 * including this file, the paths recorded at build time:
 *   LANDEMU_PYTHON_HOME      L"..."  the interpreter's base prefix (its standard library)
 *   LANDEMU_PYTHON_PROGRAM   L"..."  the project environment's python (.venv/bin/python)
 *   LANDEMU_PYTHON_STDLIB    "..."   <home>/lib/pythonX.Y, checked before Python starts
 *   LANDEMU_LIBPYTHON        "..."   full path of libpythonX.Y.so
 *   LANDEMU_LIBPYTHON_SONAME "..."   its soname, e.g. libpython3.11.so.1.0
 *
 * Why entry points are written in C rather than exported straight from Python: cffi returns
 * 0 from every call when its embedded Python failed to start (e.g. a host that dlopen()s us
 * with RTLD_LOCAL), and 0 would read as success. Each entry point below first makes sure
 * Python is up *and* our init code finished (`landemu_python_ready`, set last by that code),
 * then calls the matching Python function (`_py_landemu_*`, bindings/api.py).
 * landemu_last_error is pure C, so it works even when Python never started.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "landemu.h"

#define LANDEMU_EXPORT __attribute__((visibility("default")))

/* The Python functions behind the entry points (cffi `extern "Python"`, bindings/api.py). */
static int _py_landemu_init(int32_t fcomm, const char *config_path);
static int _py_landemu_set_decomposition(const int64_t *global_ids, int64_t n_local);
static int _py_landemu_put(const char *name, const double *values, int64_t n_local,
                           int64_t nlev);
static int _py_landemu_advance(int32_t ymd, int32_t tod);
static int _py_landemu_get(const char *name, double *values, int64_t n_local, int64_t nlev);
static int _py_landemu_field_info(const char *name, int32_t *direction, int64_t *nlev);
static int _py_landemu_put_axes(const char *name, const double *values, int64_t n_local,
                                int64_t n1, int64_t n2);
static int _py_landemu_get_axes(const char *name, double *values, int64_t n_local, int64_t n1,
                                int64_t n2);
static int _py_landemu_field_axes(const char *name, int32_t *naxes, int64_t *sizes,
                                  char *names, int64_t names_len);
static int _py_landemu_write_restart(const char *path);
static int _py_landemu_finalize(void);

/* ---- state shared with Python ---------------------------------------------------------- */

static char *landemu_error_message = NULL; /* most recent error, malloc'ed; NULL = none */
static volatile int landemu_python_ready = 0;  /* set by the init code when all is bound */
static int landemu_host_is_python = 0;     /* Python was already running when we loaded */

/* Called from Python (and from C below): remember msg as the last error. */
static void _landemu_set_error(const char *msg)
{
    char *copy = strdup(msg ? msg : "");
    if (copy == NULL)
        return; /* out of memory: keep the previous message rather than crash */
    free(landemu_error_message);
    landemu_error_message = copy;
}

/* Called by the init code as its last statement: every _py_landemu_* is bound. */
static void _landemu_mark_ready(void) { landemu_python_ready = 1; }

/* Lets the init code tell an embedding host (configure mpi4py not to touch MPI) from a
 * Python process that loaded us with ctypes (leave its mpi4py settings alone). */
static int _landemu_host_is_python(void) { return landemu_host_is_python; }

/* ---- load time ------------------------------------------------------------------------- */

/* Runs when the library is loaded, before any entry point.
 * 1. Re-open libpython with RTLD_GLOBAL: a host that dlopen()s us with RTLD_LOCAL would
 *    otherwise hide Python's symbols from the extension modules Python loads later
 *    (_cffi_backend, numpy, mpi4py: "undefined symbol: PyExc_..."). RTLD_NOLOAD promotes the
 *    copy already mapped as our dependency; the full path is the fallback.
 * 2. When the process has no Python yet (a Fortran/C host), tell CPython where its standard
 *    library is (home) and which program it is (the environment's python, so that `site`
 *    sets up that virtual environment's site-packages exactly as running it would, before
 *    cffi imports its backend from there), and keep it from reading the host's PYTHON*
 *    variables and user site: the host's PATH/PYTHONHOME must not decide which Python we
 *    get. The init code adds the same site-packages again with site.addsitedir (a no-op
 *    then) and the repository for `bindings.api`.
 */
__attribute__((constructor)) static void landemu_on_load(void)
{
    if (dlopen(LANDEMU_LIBPYTHON_SONAME, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL)
        (void)dlopen(LANDEMU_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL);

    landemu_host_is_python = Py_IsInitialized();
    if (!landemu_host_is_python) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        /* The legacy pre-initialisation API is the one cffi's Py_InitializeEx() honours. */
        Py_SetPythonHome(LANDEMU_PYTHON_HOME);
        Py_SetProgramName(LANDEMU_PYTHON_PROGRAM);
        Py_IgnoreEnvironmentFlag = 1; /* ignore PYTHONHOME, PYTHONPATH, ... of the host */
        Py_NoUserSiteDirectory = 1;   /* no ~/.local packages */
#pragma GCC diagnostic pop
    }
}

/* ---- entry points ---------------------------------------------------------------------- */

/* cffi's embedding start spins on PyCapsule_Type.tp_version_tag as a process-wide lock on
 * Python 3.8-3.11, taking 0 for "free". In a Python host that already looked an attribute up
 * on the capsule type (importing torch does), the tag is a real version tag and the first
 * call would spin forever. PyType_Modified() is CPython's documented way to drop a type's
 * cached version tag (it sets it back to 0; the next lookup assigns a fresh one), so the
 * start finds its lock free. Python 3.12+ cffi uses another field; nothing to do there. */
static void landemu_unlock_cffi_start(void)
{
#if PY_VERSION_HEX >= 0x03080000 && PY_VERSION_HEX < 0x030C0000
    if (Py_IsInitialized()) {
        PyGILState_STATE gil = PyGILState_Ensure();
        PyType_Modified(&PyCapsule_Type);
        PyGILState_Release(gil);
    }
#endif
}

/* Start the embedded Python on the first call; 1 when the Python side is ready. */
static int landemu_python_started(void)
{
    if (landemu_python_ready)
        return 1;
    if (!Py_IsInitialized() && access(LANDEMU_PYTHON_STDLIB "/encodings", R_OK) != 0) {
        /* Starting CPython without its standard library would abort() the host. */
        _landemu_set_error(
            "landemu: the Python standard library recorded when liblandemu.so was built ("
            LANDEMU_PYTHON_STDLIB ") is missing; rebuild the library (make bindings)");
        return 0;
    }
    landemu_unlock_cffi_start();
    if (cffi_start_python() != 0 || !landemu_python_ready) {
        _landemu_set_error(
            "landemu: the embedded Python could not start or could not load landemu's "
            "bindings; the Python error is on stderr (library built against "
            LANDEMU_LIBPYTHON ")");
        return 0;
    }
    return 1;
}

LANDEMU_EXPORT int landemu_init(int32_t fcomm, const char *config_path)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_init(fcomm, config_path);
}

LANDEMU_EXPORT int landemu_set_decomposition(const int64_t *global_ids, int64_t n_local)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_set_decomposition(global_ids, n_local);
}

LANDEMU_EXPORT int landemu_put(const char *name, const double *values, int64_t n_local,
                               int64_t nlev)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_put(name, values, n_local, nlev);
}

LANDEMU_EXPORT int landemu_advance(int32_t ymd, int32_t tod)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_advance(ymd, tod);
}

LANDEMU_EXPORT int landemu_get(const char *name, double *values, int64_t n_local, int64_t nlev)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_get(name, values, n_local, nlev);
}

LANDEMU_EXPORT int landemu_field_info(const char *name, int32_t *direction, int64_t *nlev)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_field_info(name, direction, nlev);
}

LANDEMU_EXPORT int landemu_put_axes(const char *name, const double *values, int64_t n_local,
                                    int64_t n1, int64_t n2)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_put_axes(name, values, n_local, n1, n2);
}

LANDEMU_EXPORT int landemu_get_axes(const char *name, double *values, int64_t n_local,
                                    int64_t n1, int64_t n2)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_get_axes(name, values, n_local, n1, n2);
}

LANDEMU_EXPORT int landemu_field_axes(const char *name, int32_t *naxes, int64_t *sizes,
                                      char *names, int64_t names_len)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_field_axes(name, naxes, sizes, names, names_len);
}

LANDEMU_EXPORT int landemu_write_restart(const char *path)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_write_restart(path);
}

LANDEMU_EXPORT int landemu_finalize(void)
{
    if (!landemu_python_started())
        return LANDEMU_ERR_PYTHON;
    return _py_landemu_finalize();
}

LANDEMU_EXPORT int landemu_last_error(char *buf, int64_t buflen)
{
    if (buf == NULL || buflen < 1)
        return LANDEMU_ERR;
    const char *msg = landemu_error_message ? landemu_error_message : "";
    size_t n = strlen(msg);
    if (n > (size_t)(buflen - 1))
        n = (size_t)(buflen - 1);
    memcpy(buf, msg, n);
    buf[n] = '\0';
    return LANDEMU_OK;
}

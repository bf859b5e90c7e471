/* A C host that loads liblandemu.so the unfriendly way: dlopen(RTLD_LOCAL | RTLD_NOW).
 *
 * Plugin-style hosts do this, and it hides libpython's symbols from the extension modules
 * the embedded Python loads (cffi's backend, numpy, mpi4py), which then fail with
 * "undefined symbol: PyExc_..." while cffi makes every call "return 0". This program checks
 * that landemu still works and still reports errors as non-zero statuses with messages.
 *
 * Usage: landemu_dlopen_local LIBRARY [CONFIG]
 *   Always: a call out of order (put before init) must give LANDEMU_ERR_CALL_ORDER with a
 *   message saying so (the message comes from Python, so Python really runs), and init with
 *   a missing configuration file must fail with a message naming that file.
 *   With CONFIG: init on MPI_COMM_WORLD and finalize must both succeed.
 * Prints one line per check; exits 0 when every check passed, 1 otherwise.
 */
#include <dlfcn.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>

#include "landemu.h"

typedef int (*init_fn)(int32_t, const char *);
typedef int (*put_fn)(const char *, const double *, int64_t, int64_t);
typedef int (*finalize_fn)(void);
typedef int (*last_error_fn)(char *, int64_t);

static int failures = 0;

static void check(int ok, const char *what, int status, const char *message)
{
    printf("%s: %s (status %d, message \"%s\")\n", ok ? "ok" : "FAILED", what, status, message);
    if (!ok)
        failures++;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s LIBRARY [CONFIG]\n", argv[0]);
        return 2;
    }
    MPI_Init(&argc, &argv);

    void *lib = dlopen(argv[1], RTLD_LOCAL | RTLD_NOW);
    if (lib == NULL) {
        fprintf(stderr, "dlopen(%s) failed: %s\n", argv[1], dlerror());
        MPI_Finalize();
        return 1;
    }
    init_fn init = (init_fn)dlsym(lib, "landemu_init");
    put_fn put = (put_fn)dlsym(lib, "landemu_put");
    finalize_fn finalize = (finalize_fn)dlsym(lib, "landemu_finalize");
    last_error_fn last_error = (last_error_fn)dlsym(lib, "landemu_last_error");
    if (!init || !put || !finalize || !last_error) {
        fprintf(stderr, "dlsym failed: %s\n", dlerror());
        MPI_Finalize();
        return 1;
    }

    char message[1024];
    double values[3] = {280.0, 281.0, 282.0};
    int status = put("TBOT", values, 3, 1);
    last_error(message, sizeof message);
    check(status == LANDEMU_ERR_CALL_ORDER && strstr(message, "before landemu_init") != NULL,
          "put before init is a call-order error", status, message);

    const char *missing = "/nonexistent/landemu_missing_config.yaml";
    int fcomm = (int)MPI_Comm_c2f(MPI_COMM_WORLD);
    status = init(fcomm, missing);
    last_error(message, sizeof message);
    check(status != LANDEMU_OK && strstr(message, "landemu_missing_config.yaml") != NULL,
          "init with a missing config names the file", status, message);

    if (argc > 2) {
        status = init(fcomm, argv[2]);
        last_error(message, sizeof message);
        check(status == LANDEMU_OK, "init with a valid config", status, message);
        status = finalize();
        last_error(message, sizeof message);
        check(status == LANDEMU_OK, "finalize", status, message);
    }

    MPI_Finalize();
    printf("%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}

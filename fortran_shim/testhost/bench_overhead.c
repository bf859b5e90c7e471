/* Measures what the coupling interface costs a C/Fortran host: run by
 * run/bench/coupling_overhead.py, which writes the configuration and reads the JSON line
 * this program prints.
 *
 * Usage: landemu_bench_overhead CONFIG N_CELLS IMPORT... -- EXPORT...
 *   CONFIG   a configuration with a regular host grid of N_CELLS cells, half-hourly
 *            coupling starting 2001-01-01, and steps that are due daily, so the advances
 *            between midnights have nothing to do.
 * Runs day 1 as a model would (put every import, advance half an hour, get every export)
 * and times, with clock_gettime around each single call (the host's view, C to C):
 *   put      landemu_put of one single-level field of N_CELLS doubles
 *   get      landemu_get of one single-level export
 *   advance  landemu_advance to a half-hour with nothing due (01:00 .. 23:30)
 *   memcpy   a plain memcpy of the same N_CELLS doubles into a buffer per field (as a
 *            copying coupler would keep its state), interleaved in the same loop
 * and prints one JSON line of medians in microseconds.
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "landemu.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec * 1e-3;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n)
{
    qsort(t, n, sizeof *t, compare);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

static void require(int status, const char *what)
{
    if (status == LANDEMU_OK)
        return;
    char message[2048];
    landemu_last_error(message, sizeof message);
    fprintf(stderr, "landemu_bench_overhead: %s failed (status %d): %s\n", what, status, message);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* A plausible value for an import (the benchmark's fields must pass landemu's checks). */
static double typical_value(const char *name)
{
    const char *names[] = {"TBOT", "PRECTmms", "FSDS", "FLDS", "QBOT", "WIND", "PSRF"};
    const double values[] = {280.0, 2.0e-5, 180.0, 300.0, 0.005, 3.0, 1.0e5};
    for (size_t k = 0; k < sizeof values / sizeof *values; k++)
        if (!strcmp(name, names[k]))
            return values[k];
    return 1.0;
}

enum { FIRST_IDLE = 2, HALF_HOURS = 48 }; /* 00:30 runs the daily steps; 01:00.. are idle */

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (argc < 5) {
        fprintf(stderr, "usage: %s CONFIG N_CELLS IMPORT... -- EXPORT...\n", argv[0]);
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
    const char *config = argv[1];
    int64_t n_cells = atoll(argv[2]);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* each rank owns a contiguous block of the host cells */
    int64_t first = n_cells * rank / size, n = n_cells * (rank + 1) / size - first;
    char **imports = argv + 3;
    int n_imports = 0;
    while (3 + n_imports < argc && strcmp(imports[n_imports], "--") != 0)
        n_imports++;
    char **exports = imports + n_imports + 1;
    int n_exports = argc - 3 - n_imports - 1;
    if (n_imports < 1 || n_exports < 1) {
        fprintf(stderr, "landemu_bench_overhead: give imports, then --, then exports\n");
        MPI_Abort(MPI_COMM_WORLD, 2);
    }

    int64_t *ids = malloc(n * sizeof *ids);
    double **in = malloc(n_imports * sizeof *in);
    double **out = malloc(n_exports * sizeof *out);
    double **copy = malloc(n_imports * sizeof *copy);
    for (int64_t i = 0; i < n; i++)
        ids[i] = first + i + 1;
    for (int f = 0; f < n_imports; f++) {
        in[f] = malloc(n * sizeof **in);
        copy[f] = calloc(n, sizeof **copy);
        for (int64_t i = 0; i < n; i++)
            in[f][i] = typical_value(imports[f]) * (1.0 + 1.0e-6 * (double)(i % 1000));
    }
    for (int f = 0; f < n_exports; f++)
        out[f] = calloc(n, sizeof **out);

    require(landemu_init((int32_t)MPI_Comm_c2f(MPI_COMM_WORLD), config), "landemu_init");
    require(landemu_set_decomposition(ids, n), "landemu_set_decomposition");
    /* First advance (00:30): every step runs once, so the exports exist. */
    for (int f = 0; f < n_imports; f++)
        require(landemu_put(imports[f], in[f], n, 1), "landemu_put");
    require(landemu_advance(20010101, 1800), "landemu_advance");

    int idle = HALF_HOURS - FIRST_IDLE;
    double *t_put = malloc(idle * n_imports * sizeof(double));
    double *t_copy = malloc(idle * n_imports * sizeof(double));
    double *t_get = malloc(idle * n_exports * sizeof(double));
    double *t_adv = malloc(idle * sizeof(double));
    int n_put = 0, n_get = 0, n_copy = 0, n_adv = 0;
    for (int k = FIRST_IDLE; k < HALF_HOURS; k++) {
        for (int f = 0; f < n_imports; f++) {
            double t0 = now_us();
            int status = landemu_put(imports[f], in[f], n, 1);
            t_put[n_put++] = now_us() - t0;
            require(status, "landemu_put");
        }
        double t0 = now_us();
        int status = landemu_advance(20010101, k * 1800);
        t_adv[n_adv++] = now_us() - t0;
        require(status, "landemu_advance");
        for (int f = 0; f < n_exports; f++) {
            t0 = now_us();
            status = landemu_get(exports[f], out[f], n, 1);
            t_get[n_get++] = now_us() - t0;
            require(status, "landemu_get");
        }
        /* The same bytes through memcpy, in the same loop, so both see the same machine. */
        for (int f = 0; f < n_imports; f++) {
            t0 = now_us();
            memcpy(copy[f], in[f], n * sizeof **copy);
            __asm__ __volatile__("" : : "r"(copy[f]) : "memory"); /* keep the copy */
            t_copy[n_copy++] = now_us() - t0;
        }
    }
    require(landemu_finalize(), "landemu_finalize");

    if (rank == 0)
        printf("{\"n_cells\": %lld, \"ranks\": %d, \"put_calls\": %d, \"get_calls\": %d, "
               "\"advance_calls\": %d, \"put_us\": %.2f, \"get_us\": %.2f, "
               "\"memcpy_us\": %.2f, \"advance_idle_us\": %.2f}\n",
               (long long)n_cells, size, n_put, n_get, n_adv, median(t_put, n_put),
               median(t_get, n_get), median(t_copy, n_copy), median(t_adv, n_adv));
    MPI_Finalize();
    return 0;
}

/* landemu.h — the C API of landemu (liblandemu.so).
 *
 * landemu runs machine-learning emulators of land-surface boundary conditions inside a
 * running land model. A host (usually Fortran, through the `landemu` Fortran module) hands
 * landemu its forcing on its own cells, advances it in time and gets the emulated fields
 * back. Behind this header sits one Python component per MPI rank (embedded CPython, started
 * on the first call); nothing of Python is visible here.
 *
 * STATUS CONVENTION
 *   Every function returns an int status: 0 (LANDEMU_OK) means success, anything else is
 *   an error and landemu_last_error() gives a message naming the culprit (field, file, key;
 *   expected vs got). No exception and no exit() ever crosses this boundary: after an error
 *   the host decides whether to go on or stop. The only exception is the configuration
 *   policy `on_error: abort`, under which landemu calls MPI_Abort itself with the message
 *   (errors found before the configuration has been read are always returned).
 *   The non-zero values say what kind of problem it was (LANDEMU_ERR_* below).
 *
 * CALL ORDER (per MPI rank, collectively over the host's communicator)
 *   landemu_init(comm, config)
 *   landemu_set_decomposition(ids, n_local)
 *   repeat: landemu_put(...)*  landemu_advance(ymd, tod)  landemu_get(...)*
 *   landemu_write_restart(path)   (any time after set_decomposition, optional)
 *   landemu_finalize()
 *   A call out of this order returns LANDEMU_ERR_CALL_ORDER; landemu_field_info and
 *   landemu_last_error may be called at any time (field_info needs init). After
 *   landemu_finalize the library may be initialised again. MPI itself is the host's:
 *   landemu neither initialises nor finalises it, and uses exactly the communicator given.
 *
 * ARRAY LAYOUT (stated once, tested)
 *   A Fortran array a(n_local, nlev) is the C array a[nlev][n_local]: element (cell i,
 *   level k) of the host's field is values[k * n_local + i] (0-based i, k). Single-level
 *   fields have nlev = 1. landemu never transposes silently.
 *   A field with two named level axes (e.g. pft: 17, month: 12; landemu_field_axes) is a
 *   Fortran array a(n_local, n1, n2) = the C array a[n2][n1][n_local]: element (cell i,
 *   axis-1 index p, axis-2 index m) is values[(m * n1 + p) * n_local + i]. Pass it with
 *   landemu_put_axes/landemu_get_axes (n1, n2 are checked against the axes), or flattened
 *   with landemu_put/landemu_get and nlev = n1 * n2 (level k = p + n1 * m).
 *   Arrays cross zero-copy: landemu reads put's buffer and writes get's buffer in place,
 *   during the call only; it keeps no pointer to host memory after a call returns.
 *
 * CELLS
 *   Global cell ids are 1-based at this API (cell (j, i) of a regular nj x ni host grid,
 *   j counted from the south, has id j*ni + i + 1 with 0-based j, i). Each rank passes the
 *   ids it owns; n_local may be 0 on a rank that owns no cells (it still takes part in
 *   every collective call).
 *
 * THREADS
 *   Call from one thread per process (the thread that called landemu_init).
 */
#ifndef LANDEMU_H
#define LANDEMU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status values (mirroring the error classes of coupler/errors.py). */
#define LANDEMU_OK               0  /* success */
#define LANDEMU_ERR              1  /* a problem the host or its user can fix (generic) */
#define LANDEMU_ERR_CONFIG       2  /* the YAML configuration: missing, unknown, invalid key */
#define LANDEMU_ERR_CALL_ORDER   3  /* a call out of order (e.g. put before init) */
#define LANDEMU_ERR_FIELD        4  /* unknown field, wrong size/shape, NaN or out-of-range */
#define LANDEMU_ERR_GRID         5  /* grid/domain file missing or not matching the cells */
#define LANDEMU_ERR_REGRID       6  /* weight/map file malformed or not matching its grids */
#define LANDEMU_ERR_MODEL        7  /* ONNX model missing, corrupt, or not matching its config */
#define LANDEMU_ERR_DATA_FILE    8  /* data file (static fields, forcing, restart) */
#define LANDEMU_ERR_RUNTIME      9  /* a failure while stepping (e.g. an emulator gave NaN) */
#define LANDEMU_ERR_PYTHON      98  /* the embedded Python could not start (see stderr) */
#define LANDEMU_ERR_INTERNAL    99  /* a bug in landemu (traceback written to stderr) */

/* Most level axes a field has (the size of landemu_field_axes' sizes array). */
#define LANDEMU_MAX_AXES         4

/* Field directions returned by landemu_field_info. */
#define LANDEMU_FIELD_NONE       0  /* not a field of this configuration */
#define LANDEMU_FIELD_IMPORT     1  /* the host puts it */
#define LANDEMU_FIELD_EXPORT     2  /* the host gets it */

/* LANDEMU_API_BEGIN (bindings/build.py hands the text between these markers to cffi) */

/* Start landemu on the host's communicator.
 *   fcomm        the host's communicator as a Fortran handle (MPI_Fint: in Fortran the
 *                integer communicator, or comm%MPI_VAL with mpi_f08; in C
 *                MPI_Comm_c2f(comm)). MPI must already be initialised by the host.
 *   config_path  path of the YAML configuration, NUL-terminated.
 * Collective over fcomm. */
int landemu_init(int32_t fcomm, const char *config_path);

/* Tell landemu which host cells this rank owns, in the order of the rank's arrays.
 *   global_ids   n_local 1-based global cell ids (copied: the host may free them after).
 *   n_local      number of cells on this rank (>= 0).
 * Collective. Checked against the host grid of the configuration. */
int landemu_set_decomposition(const int64_t *global_ids, int64_t n_local);

/* Hand landemu an import field for the coming advance.
 *   name         field name (or an accepted alias, e.g. Sa_tbot for TBOT), NUL-terminated.
 *   values       C array [nlev][n_local] (Fortran values(n_local, nlev)); read, not kept.
 *   n_local      must equal the n_local given to landemu_set_decomposition.
 *   nlev         number of levels of the field (1 for single-level fields).
 * Values are checked (finite, within the field's valid range); a rejected put changes
 * nothing in landemu's state. Local (not collective). */
int landemu_put(const char *name, const double *values, int64_t n_local, int64_t nlev);

/* Advance landemu to model time (ymd, tod): run every pipeline step that is due, remap
 * its outputs and fill the export state.
 *   ymd          date as yyyymmdd (CIME's convention), in the configuration's calendar.
 *   tod          seconds since midnight, 0 <= tod < 86400.
 * Collective. Cheap when nothing is due. */
int landemu_advance(int32_t ymd, int32_t tod);

/* Copy an export field into the host's array.
 *   name         field name, NUL-terminated.
 *   values       C array [nlev][n_local] (Fortran values(n_local, nlev)); written in place.
 *   n_local, nlev as for landemu_put.
 * Local (not collective). */
int landemu_get(const char *name, double *values, int64_t n_local, int64_t nlev);

/* Ask what landemu knows about a field (after landemu_init).
 *   name         field name, NUL-terminated.
 *   direction    out: LANDEMU_FIELD_NONE, LANDEMU_FIELD_IMPORT or LANDEMU_FIELD_EXPORT.
 *   nlev         out: number of levels (0 when the field is not part of this run).
 * A name that is not a field of this run is not an error: direction = NONE. */
int landemu_field_info(const char *name, int32_t *direction, int64_t *nlev);

/* A field with two level axes as a rank-3 array (see ARRAY LAYOUT).
 *   values       C array [n2][n1][n_local] (Fortran values(n_local, n1, n2)).
 *   n1, n2       sizes of the field's first and second axis, in landemu_field_axes' order;
 *                an array with the axes swapped is an error, never transposed.
 * Otherwise as landemu_put / landemu_get. Local (not collective). */
int landemu_put_axes(const char *name, const double *values, int64_t n_local, int64_t n1,
                     int64_t n2);
int landemu_get_axes(const char *name, double *values, int64_t n_local, int64_t n1,
                     int64_t n2);

/* The named level axes of a field of this run (after landemu_init).
 *   name         field name, NUL-terminated.
 *   naxes        out: number of named axes (0 for a single-level field, a field with
 *                unnamed levels, or a name that is not a field of this run).
 *   sizes        out: array of LANDEMU_MAX_AXES; sizes[0..naxes-1] the axis sizes, in the
 *                order of the Fortran array's dimensions after the cell dimension.
 *   names        out: the axis names joined by commas ("pft,month"), NUL-terminated.
 *   names_len    size of names in bytes (>= 1); a name list that does not fit is an error. */
int landemu_field_axes(const char *name, int32_t *naxes, int64_t *sizes, char *names,
                       int64_t names_len);

/* Write a restart file (netCDF) holding everything the next run needs.
 *   path         file path, NUL-terminated; "" (or NULL) = the default name from the
 *                configuration and the model time. No half-written file is ever left.
 * Collective. */
int landemu_write_restart(const char *path);

/* Finish: flush output, report timers on the root rank, release landemu's state.
 * Collective. Does not finalise MPI. */
int landemu_finalize(void);

/* The message of the most recent failing call on this process ("" if none yet).
 *   buf          where to write the message, always NUL-terminated (truncated if needed).
 *   buflen       size of buf in bytes (>= 1); 1024 is plenty for any message.
 * Returns 0, or LANDEMU_ERR when buf is NULL or buflen < 1. Works even when the embedded
 * Python could not start. Successful calls do not clear the message. */
int landemu_last_error(char *buf, int64_t buflen);

/* LANDEMU_API_END */

#ifdef __cplusplus
}
#endif

#endif /* LANDEMU_H */

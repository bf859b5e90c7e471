/* y = S·x for a separable lat-lon map without ever storing S (O(n_1d) memory, not O(nnz)).
 *
 * S[(r, c), (R, C)] = (P[r, R] · Q[c, C]) / den[(r, c)]: P the latitude part grouped by
 * destination row (pptr, CSR, source rows ascending), Q the longitude part grouped by
 * destination column (qptr), den the per-destination normaliser (1 for weights used as
 * they are). Each weight is formed by the very operations `remap_outer` + a numpy division
 * use, and summed per destination in source-id order from 0, as smm_apply sums a stored
 * map: the result is bit for bit that of the materialised map. Built with
 * -ffp-contract=off (no fused multiply-add).
 *
 * x is field-major (nvar, n_src), y field-major (nvar, n_dst), n_dst = nrow * ncol.
 */
#include <stdint.h>
#include "separable.h"

#define SEP_GROUP 16
#define SEP_HOT __attribute__((target_clones("avx2", "default")))

SEP_HOT static void sep_one(int64_t nrow, const int64_t *restrict pptr,
                            const int64_t *restrict psrc, const double *restrict pval,
                            int64_t ncol, const int64_t *restrict qptr,
                            const int64_t *restrict qsrc, const double *restrict qval,
                            int64_t nlon_src, const double *restrict den,
                            const double *restrict x, double *restrict y)
{
    for (int64_t r = 0; r < nrow; r++)
        for (int64_t c = 0; c < ncol; c++) {
            const int64_t d = r * ncol + c;
            double acc = 0.0;
            for (int64_t p = pptr[r]; p < pptr[r + 1]; p++) {
                const double pv = pval[p];
                const double *xr = x + psrc[p] * nlon_src;
                for (int64_t q = qptr[c]; q < qptr[c + 1]; q++)
                    acc += ((pv * qval[q]) / den[d]) * xr[qsrc[q]];
            }
            y[d] = acc;
        }
}

SEP_HOT static void sep_group(int64_t nrow, const int64_t *restrict pptr,
                              const int64_t *restrict psrc, const double *restrict pval,
                              int64_t ncol, const int64_t *restrict qptr,
                              const int64_t *restrict qsrc, const double *restrict qval,
                              int64_t nlon_src, const double *restrict den, int64_t g,
                              const double *restrict x, int64_t n_src, double *restrict y,
                              int64_t n_dst)
{
    double acc[SEP_GROUP];
    for (int64_t r = 0; r < nrow; r++)
        for (int64_t c = 0; c < ncol; c++) {
            const int64_t d = r * ncol + c;
            for (int64_t v = 0; v < g; v++) acc[v] = 0.0;
            for (int64_t p = pptr[r]; p < pptr[r + 1]; p++) {
                const double pv = pval[p];
                const double *xr = x + psrc[p] * nlon_src;
                for (int64_t q = qptr[c]; q < qptr[c + 1]; q++) {
                    const double w = (pv * qval[q]) / den[d];
                    const double *xs = xr + qsrc[q];
                    for (int64_t v = 0; v < g; v++) acc[v] += w * xs[v * n_src];
                }
            }
            for (int64_t v = 0; v < g; v++) y[v * n_dst + d] = acc[v];
        }
}

void separable_apply(int64_t nrow, const int64_t *pptr, const int64_t *psrc, const double *pval,
                     int64_t ncol, const int64_t *qptr, const int64_t *qsrc, const double *qval,
                     int64_t nlon_src, const double *den, int64_t nvar, const double *x,
                     int64_t n_src, double *y, int64_t n_dst)
{
    if (nvar == 1) {
        sep_one(nrow, pptr, psrc, pval, ncol, qptr, qsrc, qval, nlon_src, den, x, y);
        return;
    }
    for (int64_t v0 = 0; v0 < nvar; v0 += SEP_GROUP) {
        int64_t g = nvar - v0 < SEP_GROUP ? nvar - v0 : SEP_GROUP;
        sep_group(nrow, pptr, psrc, pval, ncol, qptr, qsrc, qval, nlon_src, den, g,
                  x + v0 * n_src, n_src, y + v0 * n_dst, n_dst);
    }
}

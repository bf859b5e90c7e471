/* Outer product of separable lat-lon weights, written destination-major.
 *
 * A lat-lon overlap (or bilinear / nearest stencil) factors into a latitude part P, grouped
 * by destination row (pptr, CSR), and a longitude part Q, grouped by destination column
 * (qptr). Cell (r, c) of the destination gets P[r] x Q[c]: for each source row in P[r]
 * (ascending) and each source column in Q[c] (ascending) one nonzero, so the output is sorted
 * by destination id and, within a destination, by source id. Returns the number written
 * (= len(P) * len(Q)); the caller sizes the output arrays accordingly.
 */
#include <stdint.h>
#include "remap.h"

int64_t remap_outer(int64_t nrow, const int64_t *pptr, const int64_t *psrc, const double *pval,
                    int64_t ncol, const int64_t *qptr, const int64_t *qsrc, const double *qval,
                    int64_t row0, int64_t col0, int64_t nlon_dst, int64_t nlon_src,
                    int64_t *out_dst, int64_t *out_src, double *out_val)
{
    int64_t k = 0;
    for (int64_t r = 0; r < nrow; r++) {
        for (int64_t c = 0; c < ncol; c++) {
            int64_t dst = (row0 + r) * nlon_dst + (col0 + c);
            for (int64_t p = pptr[r]; p < pptr[r + 1]; p++) {
                int64_t sbase = psrc[p] * nlon_src;
                double pv = pval[p];
                for (int64_t q = qptr[c]; q < qptr[c + 1]; q++) {
                    out_dst[k] = dst;
                    out_src[k] = sbase + qsrc[q];
                    out_val[k] = pv * qval[q];
                    k++;
                }
            }
        }
    }
    return k;
}

/* Sparse matrix × multi-field vector with a fixed summation order (the regridding hot loops).
 *
 * Every result is (((0 + w_1·x_1) + w_2·x_2) + ...) with the products in the order the router
 * stored them (by block, then by source id): one sequential chain per (row, field), so a value
 * never depends on vector width, on the rank count or on how the work was split. Built with
 * -ffp-contract=off (no fused multiply-add).
 *
 * smm_apply   row-wise (CSR) form, x and y addressed through strides so the same kernel reads
 *             field-major (nvar, n) arrays and term-major (n, nvar) message buffers.
 * smm_scatter column-wise form for block partial sums: entries sorted by source, each added
 *             to the running sum of its row (term); within a row the order is the stored one,
 *             so the bits equal smm_apply's, but each field of x is read as one sequential
 *             stream — the access pattern a fine tile needs to run at memory speed.
 */
#include <stdint.h>
#include "smm.h"

#define SMM_GROUP 16
#define SMM_HOT __attribute__((target_clones("avx2", "default")))

SMM_HOT static void smm_one(int64_t nrow, const int64_t *restrict ptr,
                            const int32_t *restrict idx, const double *restrict w,
                            const double *restrict x, int64_t xs, double *restrict y,
                            int64_t ys)
{
    for (int64_t i = 0; i < nrow; i++) {
        double acc = 0.0;
        for (int64_t p = ptr[i]; p < ptr[i + 1]; p++)
            acc += w[p] * x[(int64_t)idx[p] * xs];
        y[i * ys] = acc;
    }
}

SMM_HOT static void smm_group(int64_t nrow, const int64_t *restrict ptr,
                              const int32_t *restrict idx, const double *restrict w,
                              int64_t g, const double *restrict x, int64_t xs, int64_t xv,
                              double *restrict y, int64_t ys, int64_t yv)
{
    double acc[SMM_GROUP];
    for (int64_t i = 0; i < nrow; i++) {
        for (int64_t v = 0; v < g; v++) acc[v] = 0.0;
        for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) {
            const double wp = w[p];
            const double *xp = x + (int64_t)idx[p] * xs;
            for (int64_t v = 0; v < g; v++) acc[v] += wp * xp[v * xv];
        }
        for (int64_t v = 0; v < g; v++) y[i * ys + v * yv] = acc[v];
    }
}

/* Two fields (the common host -> fine case: temperature and precipitation), with the two
 * running sums in registers: the same operations in the same order as smm_group. */
SMM_HOT static void smm_two(int64_t nrow, const int64_t *restrict ptr,
                            const int32_t *restrict idx, const double *restrict w,
                            const double *restrict x, int64_t xs, int64_t xv,
                            double *restrict y, int64_t ys, int64_t yv)
{
    for (int64_t i = 0; i < nrow; i++) {
        double acc0 = 0.0, acc1 = 0.0;
        for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) {
            const double wp = w[p];
            const double *xp = x + (int64_t)idx[p] * xs;
            acc0 += wp * xp[0];
            acc1 += wp * xp[xv];
        }
        y[i * ys] = acc0;
        y[i * ys + yv] = acc1;
    }
}

void smm_apply(int64_t nrow, const int64_t *ptr, const int32_t *idx, const double *w,
               int64_t nvar, const double *x, int64_t x_term_stride, int64_t x_var_stride,
               double *y, int64_t y_row_stride, int64_t y_var_stride)
{
    if (nvar == 1) {
        smm_one(nrow, ptr, idx, w, x, x_term_stride, y, y_row_stride);
        return;
    }
    if (nvar == 2) {
        smm_two(nrow, ptr, idx, w, x, x_term_stride, x_var_stride, y, y_row_stride,
                y_var_stride);
        return;
    }
    for (int64_t v0 = 0; v0 < nvar; v0 += SMM_GROUP) {
        int64_t g = nvar - v0 < SMM_GROUP ? nvar - v0 : SMM_GROUP;
        smm_group(nrow, ptr, idx, w, g, x + v0 * x_var_stride, x_term_stride, x_var_stride,
                  y + v0 * y_var_stride, y_row_stride, y_var_stride);
    }
}

/* acc[term[k], v] += w[k]·x[v, idx[k]] for k in order; acc (nterm, nvar) must start at 0.
 * The running sums of the current term are kept in registers while consecutive entries
 * share it (a store and reload of a double is exact). */
SMM_HOT static void smm_scatter_group(int64_t nnz, const int32_t *restrict idx,
                                      const int32_t *restrict term, const double *restrict w,
                                      int64_t g, int64_t nvar, const double *restrict x,
                                      int64_t xv, double *restrict acc)
{
    double loc[SMM_GROUP];
    int64_t cur = -1;
    for (int64_t k = 0; k < nnz; k++) {
        const int64_t t = term[k];
        if (t != cur) {
            if (cur >= 0)
                for (int64_t v = 0; v < g; v++) acc[cur * nvar + v] = loc[v];
            for (int64_t v = 0; v < g; v++) loc[v] = acc[t * nvar + v];
            cur = t;
        }
        const double wk = w[k];
        const double *xk = x + idx[k];
        for (int64_t v = 0; v < g; v++) loc[v] += wk * xk[v * xv];
    }
    if (cur >= 0)
        for (int64_t v = 0; v < g; v++) acc[cur * nvar + v] = loc[v];
}

/* smm_scatter_group of x·mask: the product x[v, i]·mask[i] formed per entry as numpy's
 * x * mask would, then weighted — the same operations without the masked copy of x. */
SMM_HOT static void smm_scatter_masked_group(int64_t nnz, const int32_t *restrict idx,
                                             const int32_t *restrict term,
                                             const double *restrict w, int64_t g, int64_t nvar,
                                             const double *restrict x, int64_t xv,
                                             const double *restrict mask, double *restrict acc)
{
    double loc[SMM_GROUP];
    int64_t cur = -1;
    for (int64_t k = 0; k < nnz; k++) {
        const int64_t t = term[k];
        if (t != cur) {
            if (cur >= 0)
                for (int64_t v = 0; v < g; v++) acc[cur * nvar + v] = loc[v];
            for (int64_t v = 0; v < g; v++) loc[v] = acc[t * nvar + v];
            cur = t;
        }
        const double wk = w[k], mk = mask[idx[k]];
        const double *xk = x + idx[k];
        for (int64_t v = 0; v < g; v++) loc[v] += wk * (xk[v * xv] * mk);
    }
    if (cur >= 0)
        for (int64_t v = 0; v < g; v++) acc[cur * nvar + v] = loc[v];
}

/* One field: smm_scatter_(masked_)group with g = 1 and the running sum in a register (a
 * variable-width loop keeps it in memory); mask NULL: unmasked. Same operations. */
SMM_HOT static void smm_scatter_one(int64_t nnz, const int32_t *restrict idx,
                                    const int32_t *restrict term, const double *restrict w,
                                    const double *restrict x, const double *restrict mask,
                                    double *restrict acc)
{
    double loc = 0.0;
    int64_t cur = -1;
    for (int64_t k = 0; k < nnz; k++) {
        const int64_t t = term[k];
        if (t != cur) {
            if (cur >= 0) acc[cur] = loc;
            loc = acc[t];
            cur = t;
        }
        if (mask)
            loc += w[k] * (x[idx[k]] * mask[idx[k]]);
        else
            loc += w[k] * x[idx[k]];
    }
    if (cur >= 0) acc[cur] = loc;
}

/* smm_scatter of x·mask (mask NULL: of x) */
void smm_scatter_masked(int64_t nnz, const int32_t *idx, const int32_t *term, const double *w,
                        int64_t nvar, const double *x, int64_t x_var_stride,
                        const double *mask, double *acc)
{
    if (nvar == 1) {
        smm_scatter_one(nnz, idx, term, w, x, mask, acc);
        return;
    }
    if (!mask) {
        smm_scatter(nnz, idx, term, w, nvar, x, x_var_stride, acc);
        return;
    }
    for (int64_t v0 = 0; v0 < nvar; v0 += SMM_GROUP) {
        int64_t g = nvar - v0 < SMM_GROUP ? nvar - v0 : SMM_GROUP;
        smm_scatter_masked_group(nnz, idx, term, w, g, nvar, x + v0 * x_var_stride,
                                 x_var_stride, mask, acc + v0);
    }
}

void smm_scatter(int64_t nnz, const int32_t *idx, const int32_t *term, const double *w,
                 int64_t nvar, const double *x, int64_t x_var_stride, double *acc)
{
    for (int64_t v0 = 0; v0 < nvar; v0 += SMM_GROUP) {
        int64_t g = nvar - v0 < SMM_GROUP ? nvar - v0 : SMM_GROUP;
        smm_scatter_group(nnz, idx, term, w, g, nvar, x + v0 * x_var_stride, x_var_stride,
                          acc + v0);
    }
}

/* Class area sums of the block partial sums without a one-hot matrix: per entry k (in the
 * stored order), a source cell whose code is a class 0..nclass-1 and whose mask m is not 0
 * adds w[k]·m to its class's sum and to the valid-area sum (column nclass) of its term.
 * The one-hot form adds w·0 = 0 to every other class, which changes no bit (a sum that
 * starts at +0 never becomes -0), so the results equal smm_scatter's on the one-hot matrix
 * [onehot·m; valid·m] (nclass + 1 fields). mask may be NULL (every m = 1). */
void smm_scatter_classes(int64_t nnz, const int32_t *idx, const int32_t *term, const double *w,
                         const double *codes, const double *mask, int64_t nclass, double *acc)
{
    const int64_t stride = nclass + 1;
    for (int64_t k = 0; k < nnz; k++) {
        const double c = codes[idx[k]];
        if (!(c >= 0.0 && c < (double)nclass && c == (double)(int64_t)c)) continue;
        const double m = mask ? mask[idx[k]] : 1.0;
        if (m == 0.0) continue;
        const double wm = w[k] * m;
        double *row = acc + (int64_t)term[k] * stride;
        row[(int64_t)c] += wm;
        row[nclass] += wm;
    }
}

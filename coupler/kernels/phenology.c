/* The GSI phenology of emulators/transforms/phenology.py in one pass over a tile.
 *
 * The numpy version makes ~20 passes over every array; this loop reads each input once and
 * writes the two state arrays and LAI once, doing per cell exactly the operations numpy does,
 * in the same order (every intermediate is a double, no fused multiply-add: built with
 * -ffp-contract=off), so results are bit-for-bit the numpy ones — tests compare both.
 *
 * params: tmin_shift (273.15), tmin_offset_k, tmin_low_c, tmin_span, photo_low, photo_span,
 *         precip_low, precip_span, precip_high (the cold-start memory), a_p, a_g,
 *         seconds_per_day; a span is hi - lo as Python computes it.
 * daylen: hours of daylight per row (daylen_col_stride 0) or per cell (stride 1).
 * land_cover: IGBP class codes; lai_min/lai_max have 18 entries (17: missing class).
 */
/* Selects evaluate both sides; without trapping math (exception flags only, never values)
 * GCC may do so, and vectorise the cell loop. */
#pragma GCC optimize("no-trapping-math")
#include <math.h>
#include <stdint.h>
#include "phenology.h"

#define N_IGBP 17

/* np.clip(x, 0, 1) (NaN stays NaN) */
static inline double clip01(double x)
{
    const double lo = x < 0.0 ? 0.0 : x;
    return x > 1.0 ? 1.0 : lo;
}

/* np.maximum(x, 0.0): x when x >= 0 or x is NaN */
static inline double max0(double x) { return x < 0.0 ? 0.0 : x; }

/* One cell, branch-free (selects only), so the row loop vectorises; every value is the
 * numpy one: the same operations in the same order, each select picking an exact value. */
static inline void gsi_cell(int64_t k, double daylen, const double *restrict tbot,
                            const double *restrict precip, const double *restrict landmask,
                            const double *restrict land_cover, const double *restrict p,
                            const double *restrict lai_min, const double *restrict lai_max,
                            double *restrict precip_memory, double *restrict gsi_smooth,
                            double *restrict lai)
{
    const double precip_mm_day = max0(precip[k]) * p[11];
    double pm = precip_memory[k];
    pm = pm < 0.0 ? p[8] : pm;
    pm = pm + p[9] * (precip_mm_day - pm);
    precip_memory[k] = pm;

    const double t = (tbot[k] - p[0]) - p[1];
    const double i_tmin = clip01((t - p[2]) / p[3]);
    const double i_photo = clip01((daylen - p[4]) / p[5]);
    const double i_water = clip01((pm - p[6]) / p[7]);
    const double gsi = (i_tmin * i_photo) * i_water;

    const double gs0 = gsi_smooth[k];
    const double gs = gs0 < 0.0 ? gsi : gs0 + p[10] * (gsi - gs0);
    gsi_smooth[k] = gs;

    const double code = nearbyint(land_cover[k]);
    const int in_range = (code >= 0.0) & (code < (double)N_IGBP);
    const int32_t c = (int32_t)(in_range ? code : (double)N_IGBP);  /* AVX2 converts to int32 */
    const double v = lai_min[c] + gs * (lai_max[c] - lai_min[c]);
    lai[k] = landmask[k] >= 0.5 ? v : 0.0;
}

__attribute__((target_clones("avx2", "default")))
void le_gsi_phenology(int64_t ny, int64_t nx, const double *restrict tbot,
                      const double *restrict precip, const double *restrict landmask,
                      const double *restrict land_cover, const double *restrict daylen,
                      int64_t daylen_col_stride, const double *restrict params,
                      const double *restrict lai_min, const double *restrict lai_max,
                      double *restrict precip_memory, double *restrict gsi_smooth,
                      double *restrict lai)
{
    /* params: tmin_shift, tmin_offset, tmin_low, tmin_span, photo_low, photo_span,
     * precip_low, precip_span, precip_high, a_p, a_g, seconds_per_day */
    double p[12];
    for (int q = 0; q < 12; q++) p[q] = params[q];
    for (int64_t j = 0; j < ny; j++) {
        const int64_t k0 = j * nx;
        if (daylen_col_stride) {
            const double *dl = daylen + k0;
            for (int64_t i = 0; i < nx; i++)
                gsi_cell(k0 + i, dl[i], tbot, precip, landmask, land_cover, p, lai_min,
                         lai_max, precip_memory, gsi_smooth, lai);
        } else {
            const double dl = daylen[j];
            for (int64_t i = 0; i < nx; i++)
                gsi_cell(k0 + i, dl, tbot, precip, landmask, land_cover, p, lai_min, lai_max,
                         precip_memory, gsi_smooth, lai);
        }
    }
}

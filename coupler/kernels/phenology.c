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
#include <math.h>
#include <stdint.h>
#include "phenology.h"

#define N_IGBP 17

/* np.clip(x, 0, 1) (NaN stays NaN) */
static inline double clip01(double x) { return x < 0.0 ? 0.0 : (x > 1.0 ? 1.0 : x); }

/* np.maximum(x, 0.0): x when x >= 0 or x is NaN */
static inline double max0(double x) { return (x >= 0.0 || x != x) ? x : 0.0; }

void le_gsi_phenology(int64_t ny, int64_t nx, const double *restrict tbot,
                      const double *restrict precip, const double *restrict landmask,
                      const double *restrict land_cover, const double *restrict daylen,
                      int64_t daylen_col_stride, const double *restrict params,
                      const double *restrict lai_min, const double *restrict lai_max,
                      double *restrict precip_memory, double *restrict gsi_smooth,
                      double *restrict lai)
{
    const double tmin_shift = params[0], tmin_offset = params[1], tmin_low = params[2];
    const double tmin_span = params[3], photo_low = params[4], photo_span = params[5];
    const double precip_low = params[6], precip_span = params[7], precip_high = params[8];
    const double a_p = params[9], a_g = params[10], seconds_per_day = params[11];
    for (int64_t j = 0; j < ny; j++) {
        const double *dl = daylen + (daylen_col_stride ? j * nx : j);
        for (int64_t i = 0; i < nx; i++) {
            const int64_t k = j * nx + i;
            const double precip_mm_day = max0(precip[k]) * seconds_per_day;
            double pm = precip_memory[k];
            pm = pm < 0.0 ? precip_high : pm;
            pm = pm + a_p * (precip_mm_day - pm);
            precip_memory[k] = pm;

            const double t = (tbot[k] - tmin_shift) - tmin_offset;
            const double i_tmin = clip01((t - tmin_low) / tmin_span);
            const double i_photo = clip01((dl[i * daylen_col_stride] - photo_low) / photo_span);
            const double i_water = clip01((pm - precip_low) / precip_span);
            const double gsi = (i_tmin * i_photo) * i_water;

            double gs = gsi_smooth[k];
            gs = gs < 0.0 ? gsi : gs + a_g * (gsi - gs);
            gsi_smooth[k] = gs;

            const double code = nearbyint(land_cover[k]);
            const int64_t c = (code >= 0.0 && code < N_IGBP) ? (int64_t)code : N_IGBP;
            const double v = lai_min[c] + gs * (lai_max[c] - lai_min[c]);
            lai[k] = landmask[k] >= 0.5 ? v : 0.0;
        }
    }
}

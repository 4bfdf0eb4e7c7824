/* workload.h: workload descriptions and the operations they expand into. */
#ifndef BFLY_WORKLOAD_H
#define BFLY_WORKLOAD_H

#include <stdint.h>

#include "../util/util.h"

#define WL_NAME_MAX 64

typedef enum { WL_KIND_BUTTERFLY_LINEAR = 0, WL_KIND_COUNT } wl_kind;
const char *wl_kind_name(wl_kind k);

/* How the butterfly twiddles are drawn. */
typedef enum { WL_INIT_RANDOM = 0, WL_INIT_IDENTITY, WL_INIT_COUNT } wl_init;
const char *wl_init_name(wl_init i);

/* A workload file, validated. */
typedef struct wl_desc {
    char name[WL_NAME_MAX];
    wl_kind kind;
    uint64_t n;    /* butterfly size (power of two) */
    uint64_t rows; /* vectors the layer is applied to */
    util_dtype dtype;
    uint64_t seed;
    wl_init init;
} wl_desc;

/* Butterfly linear layer y = B x on `rows` vectors of n elements (DESIGN.md section 4).
 * Stage s (0 <= s < log2 n) pairs element j (bit s clear) with j + 2^s and mixes the
 * pair with its own 2x2 matrix [a b; c d]: y_j = a x_j + b x_{j+2^s},
 * y_{j+2^s} = c x_j + d x_{j+2^s}. Stage 0 is applied first (B = B_n ... B_2). */
typedef struct wl_butterfly {
    uint64_t n, rows;
    uint32_t stages; /* log2 n */
    util_dtype dtype;
    uint64_t seed;
    wl_init init;
} wl_butterfly;

void wl_butterfly_from_desc(const wl_desc *d, wl_butterfly *b);

/* Index of the twiddle quadruple (a, b, c, d) of stage s for the pair whose lower
 * element is j0 (bit s of j0 clear): ((s * n/2) + remove_bit(j0, s)) * 4. */
uint64_t wl_twiddle_index(const wl_butterfly *b, uint32_t s, uint64_t j0);
uint64_t wl_twiddle_count(const wl_butterfly *b); /* stages * n/2 * 4 */

/* Fills tw[wl_twiddle_count] with the seeded twiddles, rounded to the data type.
 * Random twiddles are uniform in [-sqrt(1.5), sqrt(1.5)]: variance 1/2 per entry,
 * so a stage keeps the expected squared norm of a vector. */
void wl_butterfly_twiddles(const wl_butterfly *b, float *tw);
/* Fills x[rows*n] with seeded inputs uniform in [-1, 1), rounded to the data type. */
void wl_butterfly_inputs(const wl_butterfly *b, float *x);

/* Closed-form operation counts. A stage does n/2 pairs x 4 multiplies; on a MAC unit
 * that is 4 lane operations per pair (mul, mac, mul, mac); as flops it is 6 per pair
 * (4 multiplies, 2 adds). */
uint64_t wl_butterfly_macs(const wl_butterfly *b);
uint64_t wl_butterfly_flops(const wl_butterfly *b);

#endif

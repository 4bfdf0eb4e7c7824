/* ref.h: plain reference math, the golden model for functional verification. */
#ifndef BFLY_REF_H
#define BFLY_REF_H

#include <stddef.h>
#include <stdint.h>

/* Applies butterfly stage s of an n-point butterfly in place to one vector v:
 * for every j with bit s clear, (v_j, v_{j+2^s}) <- (a v_j + b v_{j+2^s},
 * c v_j + d v_{j+2^s}), with (a, b, c, d) = tw_stage[4 * remove_bit(j, s) ...]. */
void ref_butterfly_stage(uint64_t n, uint32_t s, const float *tw_stage, double *v);

/* y = B x for `rows` vectors of n elements; tw holds log2(n) stages of n/2 quadruples. */
void ref_butterfly(uint64_t n, uint64_t rows, const float *tw, const float *x, double *y);

/* A priori bound on the error of a butterfly evaluated stage by stage with each result
 * rounded to a type of unit roundoff u (absolute error at most eta near zero, for
 * subnormals). With env_0 = |x| and env_s = |B_s| env_{s-1},
 *   bnd_0 = 0,  bnd_s = (1 + u) |B_s| bnd_{s-1} + u env_s + eta,
 * so |computed - exact| <= bnd_S element by element. */
void ref_butterfly_bound(uint64_t n, uint64_t rows, const float *tw, const float *x, double u,
                         double eta, double *bound);

typedef struct ref_compare {
    uint64_t count;      /* elements compared */
    uint64_t violations; /* elements whose error exceeds the bound */
    uint64_t worst;      /* index of the largest error-to-bound ratio */
    double worst_ratio;  /* that ratio (<= 1 passes) */
    double max_abs_err;
    double rel_l2_err; /* ||got - want||_2 / ||want||_2 */
} ref_compare;

/* Compares got with want element by element against bound. */
void ref_check(uint64_t count, const float *got, const double *want, const double *bound,
               ref_compare *out);

#endif

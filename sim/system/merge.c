/* merge.c: partial attention states over subsets of the keys, and their exact merge. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "system.h"

bool sys_states_init(sys_states *s, size_t nq, size_t d)
{
    s->nq = nq, s->d = d;
    s->o = calloc(nq * d > 0 ? nq * d : 1, sizeof *s->o);
    s->lse = malloc((nq ? nq : 1) * sizeof *s->lse);
    if (!s->o || !s->lse) {
        sys_states_free(s);
        return false;
    }
    for (size_t i = 0; i < nq; i++)
        s->lse[i] = -INFINITY;
    return true;
}

void sys_states_free(sys_states *s)
{
    free(s->o);
    free(s->lse);
    s->o = s->lse = NULL;
}

/* Query row q's score against key row j, or -inf where the causal mask hides it. */
static double score(size_t d, const double *q, uint64_t q_pos, const double *k, uint64_t j,
                    double scale, bool causal)
{
    if (causal && j > q_pos)
        return -INFINITY;
    double s = 0;
    for (size_t e = 0; e < d; e++)
        s += q[e] * k[j * d + e];
    return scale * s;
}

/* One query row against the subset: two passes (the maximum score, then the sums), so a
 * subset of any size needs no buffer for its scores. */
static void partial_row(size_t d, const double *q, uint64_t q_pos, const double *k, const double *v,
                        const uint64_t *keys, size_t nk, double scale, bool causal, double *o,
                        double *lse)
{
    double m = -INFINITY;
    for (size_t j = 0; j < nk; j++)
        m = fmax(m, score(d, q, q_pos, k, keys[j], scale, causal));
    memset(o, 0, d * sizeof *o);
    if (m == -INFINITY) { /* no key, or every key masked */
        *lse = -INFINITY;
        return;
    }
    double sum = 0;
    for (size_t j = 0; j < nk; j++) {
        double w = exp(score(d, q, q_pos, k, keys[j], scale, causal) - m); /* 0 if masked */
        sum += w;
        for (size_t e = 0; w > 0 && e < d; e++)
            o[e] += w * v[keys[j] * d + e];
    }
    for (size_t e = 0; e < d; e++)
        o[e] /= sum;
    *lse = m + log(sum);
}

void sys_partial_attention(size_t nq, size_t d, const double *q, const uint64_t *q_pos,
                           const double *k, const double *v, const uint64_t *keys, size_t nk,
                           double scale, bool causal, sys_states *out)
{
    for (size_t i = 0; i < nq; i++)
        partial_row(d, q + i * d, q_pos[i], k, v, keys, nk, scale, causal, out->o + i * d,
                    &out->lse[i]);
}

bool sys_merge(const sys_states *const *in, size_t n, sys_states *out)
{
    size_t d = out->d;
    double *acc = malloc((d ? d : 1) * sizeof *acc);
    if (!acc)
        return false;
    for (size_t i = 0; i < out->nq; i++) {
        double M = -INFINITY;
        for (size_t k = 0; k < n; k++)
            M = fmax(M, in[k]->lse[i]);
        memset(acc, 0, d * sizeof *acc);
        if (M == -INFINITY) { /* every part empty or masked: the empty state */
            memcpy(out->o + i * d, acc, d * sizeof *acc);
            out->lse[i] = -INFINITY;
            continue;
        }
        double sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += exp(in[k]->lse[i] - M);
        double L = M + log(sum);
        for (size_t k = 0; k < n; k++) {
            double w = exp(in[k]->lse[i] - L); /* 0 for an empty part: its o never counts */
            if (w > 0)
                for (size_t e = 0; e < d; e++)
                    acc[e] += w * in[k]->o[i * d + e];
        }
        /* out may be one of the inputs: written only once every input row is read */
        memcpy(out->o + i * d, acc, d * sizeof *acc);
        out->lse[i] = L;
    }
    free(acc);
    return true;
}

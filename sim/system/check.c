/* check.c: a system run's functional check: attention computed shard by shard as the
 * system's devices hold the tokens, merged, against monolithic attention.
 *
 * Notes: every head of the model's first attention block, on seeded Q, K and V, in double
 * precision reference math for every device (check_array.c does the same through the
 * simulated arrays). Ranges
 * and strided shards follow the system's partition; the heads partition keeps every
 * head whole on one device, so its merge is the identity and it is checked as ranges; the
 * cascade partition merges each query's states from the beta key groups (strided). A
 * decode step's queries are its new tokens (positions kv_len ..); the shards split the
 * cache, and the new tokens' own keys go to the last shard. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "system.h"

/* Seeded values uniform in [-1, 1). */
static void fill(double *x, size_t n, util_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 2 * util_rng_uniform(rng) - 1;
}

uint32_t sys_check_key_sets(const sys_desc *s, const wl_desc *d, bool whole_heads, sys_key_set *ks)
{
    bool cascade = s->partition == SYS_PART_CASCADE, heads = s->partition == SYS_PART_HEADS;
    uint32_t p = heads     ? (whole_heads ? 1 : sys_device_count(s))
                 : cascade ? s->attn_groups
                           : s->devices;
    bool strided = cascade || s->partition == SYS_PART_STRIDED;
    uint64_t n = d->new_tokens ? d->kv_len : wl_keys(d), m = 0;
    for (uint32_t sh = 0; sh < p; sh++) {
        uint64_t lo = sh * n / p, hi = (sh + 1) * n / p;
        sys_key_set k = strided ? (sys_key_set){sh, p, n > sh ? (n - sh + p - 1) / p : 0}
                                : (sys_key_set){lo, 1, hi - lo};
        if (k.count)
            ks[m++] = k;
    }
    if (d->new_tokens) /* the step's own keys */
        ks[m++] = (sys_key_set){d->kv_len, 1, d->seq_len};
    return (uint32_t)m;
}

/* One head: nq queries (at positions nk - nq ..) against nk keys; the shards' merged
 * states against the monolithic states (all keys at once); the largest difference of an
 * output element, into *worst. */
static bool check_head(const sys_desc *s, const wl_desc *d, size_t nq, size_t nk, size_t dh,
                       const double *q, const double *k, const double *v, bool fault, double *worst)
{
    sys_key_set *ks = malloc((SYS_MAX_DEVICES + 1) * sizeof *ks);
    uint32_t p = ks ? sys_check_key_sets(s, d, false, ks) : 0;
    uint64_t *pos = malloc(nq * sizeof *pos), *keys = malloc(nk * sizeof *keys);
    sys_states *parts = calloc(p, sizeof *parts), whole = {0}, merged = {0};
    const sys_states **in = calloc(p, sizeof *in);
    bool ok = ks && pos && keys && parts && in && sys_states_init(&whole, nq, dh) &&
              sys_states_init(&merged, nq, dh);
    double scale = 1 / sqrt((double)dh);
    bool causal = d->mask == WL_MASK_CAUSAL;
    for (size_t i = 0; ok && i < nq; i++)
        pos[i] = nk - nq + i;
    for (size_t i = 0; ok && i < nk; i++)
        keys[i] = i;
    if (ok)
        sys_partial_attention(nq, dh, q, pos, k, v, keys, nk, scale, causal, &whole);
    for (uint32_t sh = 0; ok && sh < p; sh++) {
        ok = sys_states_init(&parts[sh], nq, dh);
        size_t m = ok ? ks[sh].count : 0;
        for (size_t j = 0; j < m; j++)
            keys[j] = ks[sh].first + j * ks[sh].step;
        if (ok)
            sys_partial_attention(nq, dh, q, pos, k, v, keys, m, scale, causal, &parts[sh]);
        if (ok && fault && sh == 0) /* a planted error in one shard's lse */
            for (size_t i = 0; i < nq; i++)
                parts[sh].lse[i] += isfinite(parts[sh].lse[i]) ? 0.5 : 0;
        in[sh] = &parts[sh];
    }
    ok = ok && sys_merge(in, p, &merged);
    for (size_t i = 0; ok && i < nq * dh; i++)
        *worst = fmax(*worst, fabs(merged.o[i] - whole.o[i]));
    for (uint32_t sh = 0; parts && sh < p; sh++)
        sys_states_free(&parts[sh]);
    sys_states_free(&whole); /* safe on states never allocated */
    sys_states_free(&merged);
    free(ks), free(pos), free(keys), free(parts), free(in);
    return ok;
}

int sys_check(const sys_desc *s, const wl_desc *d, bool fault, sys_check_result *out, char *err,
              size_t errlen)
{
    memset(out, 0, sizeof *out);
    /* (one state's lse cancels in its own merge) */
    if (fault && (s->partition == SYS_PART_CASCADE ? s->attn_groups : sys_device_count(s)) < 2)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--inject-fault=merge needs two devices or more: a single shard's "
                         "partial state merges to itself whatever its lse");
    if (wl_keys(d) > SYS_CHECK_MAX_TOKENS)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "--functional on a system checks attention over at most %d keys (in "
                         "double precision, every head); this workload has %llu (use --set "
                         "workload.%s=...)",
                         SYS_CHECK_MAX_TOKENS, (unsigned long long)wl_keys(d),
                         d->new_tokens ? "kv_len" : "seq_len");
    size_t nq = d->seq_len, nk = wl_keys(d), dh = d->hidden / d->heads;
    double *q = malloc(nq * dh * sizeof *q), *k = malloc(nk * dh * sizeof *k),
           *v = malloc(nk * dh * sizeof *v);
    util_rng rng;
    util_rng_seed(&rng, d->seed);
    bool ok = q && k && v;
    for (uint64_t h = 0; ok && h < d->heads; h++) {
        fill(q, nq * dh, &rng), fill(k, nk * dh, &rng), fill(v, nk * dh, &rng);
        ok = check_head(s, d, nq, nk, dh, q, k, v, fault, &out->max_abs_err);
        out->heads++;
    }
    free(q), free(k), free(v);
    if (!ok)
        return util_fail(UTIL_ERUN, err, errlen, "out of memory for the system check");
    /* both sides in double precision: they differ by rounding alone, |o| <= 1 */
    out->tolerance = 1e-12;
    out->pass = out->max_abs_err <= out->tolerance;
    return UTIL_OK;
}

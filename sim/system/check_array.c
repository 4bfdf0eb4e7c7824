/* check_array.c: the functional check through the simulated arrays: each shard's partial
 * states of one attention layer computed by the engine on values, merged, against
 * monolithic attention.
 *
 * Notes: every head at once, on seeded Q, K and V rounded to the data type, the array
 * mapping fused attention in its states mode (map_attention_states: the last pass writes
 * [q m l o] per query and head instead of o / l). The shards follow the partition: token
 * ranges or strided subsets of the keys (the cascade: beta strided key groups; the heads
 * partition: all keys on one device, each head whole), each device holding its own keys'
 * rows one after another, their positions (for the causal mask) where they were. A decode step's
 * cache splits so, and the step's own keys run as one more shard (the last device's second pass).
 * The merge is sys_merge in double precision. The tolerance is measured, as the model check's is:
 * the same array attending to all keys in one shard gives the error rounding alone makes; the
 * merged shards may be 4 times as far from monolithic attention, plus a unit roundoff. A wrong key
 * set, a wrong mask or a wrong lse is off by about the values. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../mapper/mapper.h"
#include "internal.h"
#include "system.h"

/* Where the check's tensors lie in the engine's image. */
typedef struct layout {
    map_tensor q, kv, states;
    uint64_t end;
} layout;

/* The partial states of key set k through the array, per head, into st[0 .. heads). */
static int shard_states(const arch_desc *a, const wl_desc *d, const layout *L, const sys_key_set *k,
                        const float *values, float *image, sys_states *st, char *err, size_t errlen)
{
    uint64_t H = d->hidden, dh = H / d->heads, e = 2 * dh + 2, nq = d->seq_len;
    /* the device holds Q and its own keys' [K | V] rows, one after another */
    memset(image, 0, L->end * sizeof *image);
    memcpy(image, values, L->kv.addr * sizeof *image);
    for (uint64_t j = 0; j < k->count; j++)
        memcpy(image + L->kv.addr + j * L->kv.stride,
               values + L->kv.addr + (k->first + j * k->step) * L->kv.stride,
               2 * H * sizeof *image);
    map_attn_shard sh = {.nq = nq,
                         .nk = k->count,
                         .heads = d->heads,
                         .d = dh,
                         .q_first = wl_keys(d) - nq,
                         .k_first = k->first,
                         .k_step = k->step,
                         .causal = d->mask == WL_MASK_CAUSAL,
                         .q = L->q,
                         .kv = {L->kv.addr, k->count, L->kv.cols, L->kv.stride},
                         .states = L->states};
    map_op_result m;
    int rc = map_attention_states(a, d->dtype, &sh, true, &m, err, errlen);
    if (rc)
        return rc;
    eng_stats es;
    rc = eng_run(a, &m.program, image, &es, err, errlen);
    if (!rc)
        eng_stats_free(&es);
    map_op_free(&m);
    for (uint64_t h = 0; !rc && h < d->heads; h++)
        for (uint64_t r = 0; r < nq; r++) {
            const float *x = image + L->states.addr + r * L->states.stride + h * e;
            double mx = x[dh], l = x[dh + 1];
            st[h].lse[r] = l > 0 ? mx + log(l) : -INFINITY;
            for (uint64_t c = 0; c < dh; c++)
                st[h].o[r * dh + c] = l > 0 ? x[dh + 2 + c] / l : 0;
        }
    return rc;
}

/* Monolithic attention of every head over all keys, in double precision. */
static bool monolithic(const wl_desc *d, const layout *L, const float *values, sys_states *want)
{
    uint64_t H = d->hidden, dh = H / d->heads, nq = d->seq_len, nk = wl_keys(d);
    double *q = malloc(nq * dh * sizeof *q), *k = malloc(nk * dh * sizeof *k),
           *v = malloc(nk * dh * sizeof *v);
    uint64_t *pos = malloc(nq * sizeof *pos), *keys = malloc(nk * sizeof *keys);
    bool ok = q && k && v && pos && keys;
    for (uint64_t i = 0; ok && i < nq; i++)
        pos[i] = nk - nq + i;
    for (uint64_t j = 0; ok && j < nk; j++)
        keys[j] = j;
    for (uint64_t h = 0; ok && h < d->heads; h++) {
        for (uint64_t r = 0; r < nq; r++)
            for (uint64_t c = 0; c < dh; c++)
                q[r * dh + c] = values[L->q.addr + r * L->q.stride + h * dh + c];
        for (uint64_t j = 0; j < nk; j++)
            for (uint64_t c = 0; c < dh; c++) {
                k[j * dh + c] = values[L->kv.addr + j * L->kv.stride + h * dh + c];
                v[j * dh + c] = values[L->kv.addr + j * L->kv.stride + H + h * dh + c];
            }
        sys_partial_attention(nq, dh, q, pos, k, v, keys, nk, 1 / sqrt((double)dh),
                              d->mask == WL_MASK_CAUSAL, &want[h]);
    }
    free(q), free(k), free(v), free(pos), free(keys);
    return ok;
}

/* The largest difference of an output element between got and want, every head. */
static double worst_of(const wl_desc *d, const sys_states *got, const sys_states *want)
{
    double w = 0;
    for (uint64_t h = 0; h < d->heads; h++)
        for (size_t i = 0; i < got[h].nq * got[h].d; i++) {
            double e = fabs(got[h].o[i] - want[h].o[i]);
            w = isnan(e) ? INFINITY : fmax(w, e);
        }
    return w;
}

int sys_check_arrays(const sys_desc *s, const arch_desc *a, const wl_desc *d, bool fault,
                     sys_check_result *out, char *err, size_t errlen)
{
    uint64_t H = d->hidden, dh = H / d->heads, nq = d->seq_len, nk = wl_keys(d), heads = d->heads;
    layout L;
    L.q = (map_tensor){0, nq, H, H};
    L.kv = (map_tensor){nq * H, nk, 2 * H, 2 * H};
    L.states = (map_tensor){L.kv.addr + nk * 2 * H, nq, heads * (2 * dh + 2), heads * (2 * dh + 2)};
    L.end = L.states.addr + nq * L.states.stride;
    sys_key_set ks[SYS_MAX_DEVICES + 1], all = {0, 1, nk};
    uint32_t n = sys_check_key_sets(s, d, true, ks);
    float *values = malloc(L.end * sizeof *values), *image = malloc(L.end * sizeof *image);
    sys_states *st = calloc((size_t)(n + 3) * heads, sizeof *st);
    const sys_states **in = calloc(n, sizeof *in);
    bool ok = values && image && st && in;
    for (size_t i = 0; ok && i < (size_t)(n + 3) * heads; i++)
        ok = sys_states_init(&st[i], nq, dh);
    int rc = ok ? UTIL_OK : util_fail(UTIL_ERUN, err, errlen, "out of memory for the check");
    /* seeded inputs in the data type: Q, then every key's [K | V] row */
    util_rng rng;
    util_rng_seed(&rng, d->seed ^ 0x6a09e667f3bcc909ull);
    for (uint64_t i = 0; !rc && i < L.states.addr; i++)
        values[i] = util_round_dtype(d->dtype, (float)(2 * util_rng_uniform(&rng) - 1));
    /* st: n shards' states, then the merge, the one-shard run and monolithic attention */
    sys_states *merged = st + (size_t)n * heads, *single = merged + heads, *want = single + heads;
    if (!rc && !monolithic(d, &L, values, want))
        rc = util_fail(UTIL_ERUN, err, errlen, "out of memory for the check");
    for (uint32_t k = 0; !rc && k < n; k++)
        rc = shard_states(a, d, &L, &ks[k], values, image, st + (size_t)k * heads, err, errlen);
    if (!rc)
        rc = shard_states(a, d, &L, &all, values, image, single, err, errlen);
    for (uint64_t h = 0; !rc && h < heads; h++) {
        for (uint32_t k = 0; k < n; k++)
            in[k] = &st[(size_t)k * heads + h];
        if (fault) /* a planted error in the first shard's lse */
            for (size_t r = 0; r < nq; r++)
                st[h].lse[r] += isfinite(st[h].lse[r]) ? 0.5 : 0;
        if (!sys_merge(in, n, &merged[h]))
            rc = util_fail(UTIL_ERUN, err, errlen, "out of memory for the check");
    }
    if (!rc) {
        out->arrays = true;
        out->array_err = worst_of(d, merged, want);
        out->array_tolerance = 4 * worst_of(d, single, want) + util_dtype_unit_roundoff(d->dtype);
        out->array_shards = n;
        out->pass = out->pass && out->array_err <= out->array_tolerance;
    }
    for (size_t i = 0; st && i < (size_t)(n + 3) * heads; i++)
        sys_states_free(&st[i]);
    free(values), free(image), free(st), free(in);
    return rc;
}

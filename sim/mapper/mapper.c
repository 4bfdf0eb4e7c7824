/* mapper.c: the simple stage-per-layer mapping of a butterfly layer onto the PE array. */
#include "mapper.h"

#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- tag geometry
 *
 * A tag holds T = 2^t elements, numbered e in ascending DRAM order. The stages of a
 * pass act on consecutive bits of e (stage s on bit pos(s)). In a PE column with
 * R = 2^rho rows each PE owns m = T/(2R) pairs: pair index q = e without bit b, owner
 * q / m. A PE keeps its 2m elements in a local buffer, position
 * insert_bit(q mod m, min(b, log2 m), bit b of e); pairs then differ in local bit
 * min(b, log2 m). */

typedef map_geom geom;

uint32_t map_geom_owner(const geom *g, uint64_t e, uint32_t b)
{
    return (uint32_t)(util_remove_bit(e, b) >> g->log2m);
}

uint32_t map_geom_local_pos(const geom *g, uint64_t e, uint32_t b)
{
    uint64_t q = util_remove_bit(e, b) & (g->m - 1);
    uint32_t beta = b < g->log2m ? b : g->log2m;
    return (uint32_t)util_insert_bit(q, beta, (uint32_t)(e >> b) & 1u);
}

uint32_t map_geom_pair_bit(const geom *g, uint32_t b)
{
    return b < g->log2m ? b : g->log2m;
}

/* Elements PE row r owns at tag bit b, in ascending order: one block, or two runs. */
static eng_pattern owned(const geom *g, uint32_t b, uint32_t r)
{
    if (b < g->log2m)
        return (eng_pattern){(uint64_t)r * 2 * g->m, 2 * g->m, 2 * g->m, 1};
    return (eng_pattern){util_insert_bit((uint64_t)r << g->log2m, b, 0), g->m, UINT64_C(1) << b, 2};
}

/* Tag bit of stage s (the pass's bits sit above free_lo chunk bits when strided). */
static uint32_t stage_bit(const map_tag_layout *L, uint32_t s)
{
    return (!L->vectors && L->strided) ? L->free_lo + (s - L->s0) : s;
}

/* Offset in its vector of the first element of chunk c: the chunk number's low bits
 * fill the bits between the free low bits and the pass, its high bits lie above the
 * pass. */
static uint64_t chunk_first(const map_tag_layout *L, uint64_t c)
{
    if (!L->strided)
        return c * L->tag_elems;
    uint32_t lo_bits = L->s0 - L->free_lo;
    uint64_t c_lo = c & ((UINT64_C(1) << lo_bits) - 1);
    return (c_lo << L->free_lo) | ((c >> lo_bits) << L->s1);
}

/* Offset inside its vector of element e of a tag of chunk c (or of a vector tag). */
static uint64_t vector_offset(const map_tag_layout *L, uint64_t c, uint64_t e)
{
    if (L->vectors)
        return e & (L->n - 1);
    return chunk_first(L, c) + (e / L->run) * L->stride + (e % L->run);
}

static void tag_dma(const void *ctx, uint64_t tag, eng_pattern *in, eng_pattern *out)
{
    const map_tag_layout *L = ctx;
    if (L->vectors) {
        uint64_t len = L->vectors * L->n, first = tag * len;
        *in = (eng_pattern){L->in_base + first, len, len, 1};
        *out = (eng_pattern){L->out_base + first, len, len, 1};
        return;
    }
    /* tags run chunk by chunk (one phase repeat each), all vectors in each */
    uint64_t first = (tag % L->rows) * L->n + chunk_first(L, tag / L->rows);
    *in = (eng_pattern){L->in_base + first, L->run, L->stride, L->count};
    *out = (eng_pattern){L->out_base + first, L->run, L->stride, L->count};
}

/* ---------------------------------------------------------------- choosing sizes */

typedef struct plan {
    uint32_t k; /* stages per pass (the last pass may have fewer) */
    uint64_t T;
    uint32_t rows;
} plan;

/* Largest power of two dividing x. */
static uint64_t pow2_factor(uint64_t x)
{
    return x & (~x + 1);
}

static bool fits(const arch_desc *a, uint32_t w, uint64_t T, uint32_t rows)
{
    uint64_t m = T / (2 * (uint64_t)rows);
    /* operand slots (tags x 2m) and weights (4m) in the PE; 2 input + 2 output slots
     * and 2 weight staging buffers in the SPM */
    uint64_t pe_bytes = ((uint64_t)a->pe.tags * 2 * m + 4 * m) * w;
    uint64_t spm_bytes = (4 * T + 2 * 4 * m) * w;
    return pe_bytes <= a->pe.buffer_bytes && spm_bytes <= arch_spm_bytes(a);
}

static int choose(const arch_desc *a, const wl_butterfly *b, plan *p, char *err, size_t errlen)
{
    uint32_t w = util_dtype_bytes(b->dtype);
    uint32_t S = b->stages, C = a->array.cols;
    uint32_t R = 1u << util_log2(a->array.rows);
    /* Tags hold whole vectors when a power-of-two group of them divides rows. */
    uint64_t vmax = pow2_factor(b->rows);
    uint64_t tmax = b->n * vmax;
    if (tmax > MAP_MAX_TAG_ELEMS)
        tmax = MAP_MAX_TAG_ELEMS;
    uint32_t kmax = S < C ? S : C;
    for (uint32_t k = kmax; k >= 1; k--) {
        for (uint64_t T = tmax; T >= (UINT64_C(1) << k) && T >= 2; T /= 2) {
            uint32_t rows = (uint32_t)(T / 2 < R ? T / 2 : R);
            if (fits(a, w, T, rows)) {
                p->k = k;
                p->T = T;
                p->rows = rows;
                return UTIL_OK;
            }
        }
    }
    /* The smallest tag: 2 elements on one PE row (m = 1). */
    uint64_t pe_need = ((uint64_t)a->pe.tags * 2 + 4) * w, spm_need = 16u * w;
    return util_fail(UTIL_ERUN, err, errlen,
                     "cannot map butterfly-linear n=%llu: the smallest tag needs %llu bytes of "
                     "PE buffer (pe.buffer_kb gives %u) and %llu bytes of SPM (the SPM has %llu)",
                     (unsigned long long)b->n, (unsigned long long)pe_need, a->pe.buffer_bytes,
                     (unsigned long long)spm_need, (unsigned long long)arch_spm_bytes(a));
}

/* ---------------------------------------------------------------- building */

static uint32_t *new_pos(map_result *m, uint64_t n)
{
    uint32_t *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return NULL;
    uint32_t **grow = realloc(m->pos_arrays, (m->n_pos_arrays + 1) * sizeof *grow);
    if (!grow) {
        free(p);
        return NULL;
    }
    m->pos_arrays = grow;
    m->pos_arrays[m->n_pos_arrays++] = p;
    return p;
}

/* The transfers of one pass: SPM -> column 0, column l -> l+1, last column -> SPM.
 * Instruction i of a phase sits at column i / rows, row i % rows. */
static int build_xfers(const arch_desc *a, map_result *m, const geom *g, const uint32_t *bits,
                       uint32_t k, bool functional, eng_xfer **out, uint32_t *n_out)
{
    uint32_t R = g->rows, C = a->array.cols;
    size_t cap = (size_t)2 * R + (size_t)(k - 1) * R * R;
    eng_xfer *x = calloc(cap, sizeof *x);
    uint64_t *count = calloc((size_t)R * R, sizeof *count);
    uint32_t *index = calloc((size_t)R * R, sizeof *index);
    uint64_t *fill = calloc((size_t)R * R, sizeof *fill);
    int rc = (x && count && index && fill) ? UTIL_OK : UTIL_ERUN;
    uint32_t n = 0;
    for (uint32_t r = 0; r < R && !rc; r++)
        x[n++] = (eng_xfer){
            -1,   (int32_t)r, eng_spm_port(a, r, false), (uint32_t)(2 * g->m), owned(g, bits[0], r),
            NULL, NULL};
    for (uint32_t l = 0; l + 1 < k && !rc; l++) {
        memset(count, 0, (size_t)R * R * sizeof *count);
        for (uint64_t e = 0; e < g->T; e++)
            count[map_geom_owner(g, e, bits[l]) * R + map_geom_owner(g, e, bits[l + 1])]++;
        for (uint32_t rs = 0; rs < R; rs++) {
            for (uint32_t rd = 0; rd < R; rd++) {
                uint64_t c = count[rs * R + rd];
                if (!c)
                    continue;
                index[rs * R + rd] = n;
                eng_xfer *t = &x[n++];
                *t = (eng_xfer){(int32_t)(l * R + rs),
                                (int32_t)((l + 1) * R + rd),
                                0,
                                (uint32_t)c,
                                {0, 0, 0, 0},
                                NULL,
                                NULL};
                if (functional) {
                    uint32_t *sp = new_pos(m, c), *dp = sp ? new_pos(m, c) : NULL;
                    if (!dp) {
                        rc = UTIL_ERUN;
                        break;
                    }
                    t->src_pos = sp;
                    t->dst_pos = dp;
                }
            }
        }
        if (functional && !rc) {
            memset(fill, 0, (size_t)R * R * sizeof *fill);
            for (uint64_t e = 0; e < g->T; e++) {
                uint32_t rs = map_geom_owner(g, e, bits[l]), rd = map_geom_owner(g, e, bits[l + 1]);
                eng_xfer *t = &x[index[rs * R + rd]];
                uint64_t f = fill[rs * R + rd]++;
                ((uint32_t *)t->src_pos)[f] = map_geom_local_pos(g, e, bits[l]);
                ((uint32_t *)t->dst_pos)[f] = map_geom_local_pos(g, e, bits[l + 1]);
            }
        }
    }
    /* The last column writes through the nearer SPM port of its row (west on ties). */
    bool east = C - k < k - 1;
    for (uint32_t r = 0; r < R && !rc; r++)
        x[n++] = (eng_xfer){(int32_t)((k - 1) * R + r),
                            -1,
                            eng_spm_port(a, r, east),
                            (uint32_t)(2 * g->m),
                            owned(g, bits[k - 1], r),
                            NULL,
                            NULL};
    free(count);
    free(index);
    free(fill);
    if (rc) {
        free(x);
        return rc;
    }
    *out = x;
    *n_out = n;
    return UTIL_OK;
}

/* The stage-per-layer mapping. With block_rows = 0 every pass streams all rows and
 * hands its intermediates to the next through DRAM. With block_rows > 0 the rows go
 * block by block through all passes, and the intermediates of a block stay in the SPM
 * (the program's on-chip region): the multilayer dataflow of DESIGN.md section 5. */
static int map_butterfly(const arch_desc *a, const wl_butterfly *b, bool functional,
                         uint64_t block_rows, map_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->strategy = block_rows ? "multilayer (passes through the SPM)" : "simple stage-per-layer";
    plan pl = {0, 0, 0};
    int rc = choose(a, b, &pl, err, errlen);
    if (rc)
        return rc;
    uint32_t S = b->stages, L = arch_lanes(a, b->dtype);
    geom g = {pl.T, pl.T / (2 * (uint64_t)pl.rows), 0, pl.rows};
    g.log2m = util_log2(g.m);
    out->passes = (S + pl.k - 1) / pl.k;
    for (uint32_t p = 0; p < out->passes; p++) {
        out->first_stage[p] = p * pl.k;
        out->stages[p] = S - p * pl.k < pl.k ? S - p * pl.k : pl.k;
    }
    out->rows_used = pl.rows;
    out->tag_elems = pl.T;
    bool vec_tags = pl.T >= b->n;
    out->vectors_per_tag = vec_tags ? pl.T / b->n : 0;
    out->chunks = vec_tags ? 1 : b->n / pl.T;
    uint64_t Rb = block_rows ? block_rows : b->rows;
    out->blocks = b->rows / Rb;
    out->block_rows = block_rows;

    /* DRAM: x, y, up to two intermediates of a block of rows, then the weights. */
    uint64_t mat = b->rows * b->n, tmp = Rb * b->n;
    uint32_t n_tmp = out->passes > 2 ? 2 : out->passes > 1 ? 1 : 0;
    out->x_addr = 0;
    out->y_addr = mat;
    out->tmp_addr[0] = 2 * mat;
    out->tmp_addr[1] = 2 * mat + tmp;
    out->weight_addr = 2 * mat + n_tmp * tmp;

    uint32_t per_phase = pl.k * pl.rows, n_phases = (uint32_t)out->blocks * out->passes;
    out->phases = calloc(n_phases, sizeof *out->phases);
    out->instr = calloc((size_t)out->passes * per_phase, sizeof *out->instr);
    out->layouts = calloc(n_phases, sizeof *out->layouts);
    out->pass_xfers = calloc(out->passes, sizeof *out->pass_xfers);
    out->pass_n_xfer = calloc(out->passes, sizeof *out->pass_n_xfer);
    if (!out->phases || !out->instr || !out->layouts || !out->pass_xfers || !out->pass_n_xfer) {
        map_free(out);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    }
    uint64_t waddr = out->weight_addr;
    for (uint32_t p = 0; p < out->passes && !rc; p++) {
        uint32_t s0 = out->first_stage[p], k = out->stages[p];
        map_tag_layout *lay = &out->layouts[p];
        lay->n = b->n;
        lay->rows = Rb;
        lay->s0 = s0;
        lay->s1 = s0 + k;
        lay->tag_elems = pl.T;
        lay->in_base = p == 0 ? out->x_addr : out->tmp_addr[(p - 1) % 2];
        lay->out_base = p + 1 == out->passes ? out->y_addr : out->tmp_addr[p % 2];
        if (vec_tags) {
            lay->vectors = out->vectors_per_tag;
        } else {
            /* T = 2^k elements of each sub-butterfly times 2^lo sub-butterflies: the
             * lo lowest other bits of the index vary inside a tag. */
            uint32_t lo = util_log2(pl.T) - k;
            lay->strided = lo <= s0;
            lay->free_lo = lo;
            lay->run = lay->strided ? UINT64_C(1) << lo : pl.T;
            lay->stride = lay->strided ? UINT64_C(1) << s0 : pl.T;
            lay->count = lay->strided ? UINT64_C(1) << k : 1;
        }
        uint32_t bits[MAP_MAX_PASSES * 2];
        for (uint32_t l = 0; l < k; l++)
            bits[l] = stage_bit(lay, s0 + l);
        rc =
            build_xfers(a, out, &g, bits, k, functional, &out->pass_xfers[p], &out->pass_n_xfer[p]);
        if (rc)
            break;
        eng_instr *ins = &out->instr[(size_t)p * per_phase];
        for (uint32_t l = 0; l < k; l++) {
            for (uint32_t r = 0; r < pl.rows; r++) {
                eng_instr *in = &ins[l * pl.rows + r];
                in->pe = r * a->array.cols + l;
                in->op = ENG_OP_BFLY;
                in->vec_ops[ARCH_FU_MAC] = (uint32_t)(4 * util_ceil_div(g.m, L));
                in->lane_ops = 4 * g.m;
                in->local_elems = (uint32_t)(2 * g.m);
                in->param = map_geom_pair_bit(&g, bits[l]);
                in->weight_elems = (uint32_t)(4 * g.m);
                in->weight_addr = waddr;
                waddr += in->weight_elems;
            }
        }
        /* Each chunk's weights follow the previous chunk's. */
        uint64_t stride = (uint64_t)k * pl.rows * 4 * g.m;
        waddr += (out->chunks - 1) * stride;
        eng_phase *f = &out->phases[p];
        f->n_instr = k * pl.rows;
        f->instr = ins;
        f->n_xfer = out->pass_n_xfer[p];
        f->xfer = out->pass_xfers[p];
        f->n_tags = vec_tags ? Rb / out->vectors_per_tag : Rb;
        f->repeats = out->chunks;
        f->weight_stride = stride;
        f->tag_elems = (uint32_t)pl.T;
        f->in_slots = 2;
        f->out_slots = 2;
        f->tag_dma = tag_dma;
        f->tag_ctx = lay;
    }
    if (rc) {
        map_free(out);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    }
    /* Later blocks run the same passes on their own rows: block-major phase order. */
    for (uint64_t bi = 1; bi < out->blocks; bi++)
        for (uint32_t p = 0; p < out->passes; p++) {
            uint32_t i = (uint32_t)bi * out->passes + p;
            out->layouts[i] = out->layouts[p];
            if (p == 0)
                out->layouts[i].in_base = out->x_addr + bi * tmp;
            if (p + 1 == out->passes)
                out->layouts[i].out_base = out->y_addr + bi * tmp;
            out->phases[i] = out->phases[p];
            out->phases[i].tag_ctx = &out->layouts[i];
        }
    for (uint32_t i = 0; i < n_phases; i++)
        out->tags += out->phases[i].n_tags * out->phases[i].repeats;
    out->dram_elems = waddr;
    out->program = (eng_program){b->dtype,
                                 n_phases,
                                 out->phases,
                                 waddr,
                                 block_rows ? out->tmp_addr[0] : 0,
                                 block_rows ? n_tmp * tmp : 0};
    return UTIL_OK;
}

int map_butterfly_simple(const arch_desc *a, const wl_butterfly *b, bool functional,
                         map_result *out, char *err, size_t errlen)
{
    return map_butterfly(a, b, functional, 0, out, err, errlen);
}

/* Largest block of rows (a divisor of rows, whole tags) whose intermediates fit the SPM
 * beside a phase's slots and weight staging; 0 when none does or one pass suffices. */
static uint64_t onchip_block_rows(const arch_desc *a, const wl_butterfly *b, const map_result *m)
{
    if (m->passes < 2)
        return 0;
    uint32_t w = util_dtype_bytes(b->dtype);
    uint64_t max_w = 2 * m->tag_elems / m->rows_used; /* 4m weights per instruction */
    uint64_t slots = (4 * m->tag_elems + 2 * max_w) * w, spm = arch_spm_bytes(a);
    uint32_t n_tmp = m->passes > 2 ? 2 : 1;
    if (slots >= spm)
        return 0;
    uint64_t fit = (spm - slots) / (n_tmp * b->n * w);
    uint64_t unit = m->vectors_per_tag ? m->vectors_per_tag : 1;
    for (uint64_t r = fit < b->rows ? fit : b->rows; r >= unit; r--)
        if (b->rows % r == 0 && r % unit == 0)
            return r;
    return 0;
}

int map_butterfly_best(const arch_desc *a, const wl_butterfly *b, bool functional, map_result *out,
                       char *err, size_t errlen)
{
    int rc = map_butterfly(a, b, functional, 0, out, err, errlen);
    uint64_t rows = rc ? 0 : onchip_block_rows(a, b, out);
    if (!rows)
        return rc;
    map_result multi;
    eng_estimate_total e_simple, e_multi;
    if (map_butterfly(a, b, functional, rows, &multi, err, errlen))
        return UTIL_OK; /* keep the simple mapping */
    if (eng_estimate(a, &out->program, NULL, &e_simple, err, errlen) ||
        eng_estimate(a, &multi.program, NULL, &e_multi, err, errlen) ||
        e_multi.cycles >= e_simple.cycles) {
        map_free(&multi);
        return UTIL_OK;
    }
    map_free(out);
    *out = multi;
    return UTIL_OK;
}

void map_write_weights(const map_result *m, const wl_butterfly *b, const float *tw, float *image)
{
    geom g = {m->tag_elems, m->tag_elems / (2 * (uint64_t)m->rows_used), 0, m->rows_used};
    g.log2m = util_log2(g.m);
    for (uint32_t p = 0; p < m->passes; p++) {
        const map_tag_layout *lay = &m->layouts[p];
        const eng_phase *f = &m->phases[p];
        for (uint64_t c = 0; c < f->repeats; c++) {
            for (uint32_t i = 0; i < f->n_instr; i++) {
                uint32_t l = i / m->rows_used, r = i % m->rows_used;
                uint32_t s = lay->s0 + l, bit = stage_bit(lay, s);
                float *dst = image + f->instr[i].weight_addr + c * f->weight_stride;
                for (uint64_t q = 0; q < g.m; q++) {
                    uint64_t e0 = util_insert_bit((uint64_t)r * g.m + q, bit, 0);
                    uint64_t j0 = vector_offset(lay, c, e0);
                    memcpy(dst + 4 * q, tw + wl_twiddle_index(b, s, j0), 4 * sizeof *dst);
                }
            }
        }
    }
}
uint64_t map_butterfly_compulsory_bytes(const wl_butterfly *b)
{
    return (2 * b->rows * b->n + wl_twiddle_count(b)) * util_dtype_bytes(b->dtype);
}

void map_free(map_result *m)
{
    for (size_t i = 0; i < m->n_pos_arrays; i++)
        free(m->pos_arrays[i]);
    free(m->pos_arrays);
    if (m->pass_xfers)
        for (uint32_t p = 0; p < m->passes; p++)
            free(m->pass_xfers[p]);
    free(m->pass_xfers);
    free(m->pass_n_xfer);
    free(m->phases);
    free(m->instr);
    free(m->layouts);
    memset(m, 0, sizeof *m);
}

double map_cost(const map_forced *how, const arch_desc *a, util_dtype t,
                const eng_estimate_total *e)
{
    if (!how || how->objective == MAP_LATENCY || !how->energy)
        return (double)e->cycles;
    double pj = how->energy(a, t, &e->counts);
    return how->objective == MAP_ENERGY ? pj : pj * (double)e->cycles;
}

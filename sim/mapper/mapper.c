/* mapper.c: the simple stage-per-layer mapping of a butterfly layer onto the PE array. */
#include "mapper.h"

#include "internal.h"

#include <math.h>
#include <stdio.h>
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

static void tag_dma(const void *ctx, uint64_t tag, eng_tag_io *io)
{
    const map_tag_layout *L = ctx;
    if (L->vectors) {
        uint64_t len = L->vectors * L->n, first = tag * len;
        eng_tag_single(io, (eng_pattern){L->in_base + first, len, len, 1},
                       (eng_pattern){L->out_base + first, len, len, 1});
        return;
    }
    /* tags run chunk by chunk (one phase repeat each), all vectors in each */
    uint64_t first = (tag % L->rows) * L->n + chunk_first(L, tag / L->rows);
    eng_tag_single(io, (eng_pattern){L->in_base + first, L->run, L->stride, L->count},
                   (eng_pattern){L->out_base + first, L->run, L->stride, L->count});
}

/* ---------------------------------------------------------------- choosing sizes */

#define MAP_MAX_PLANS 40
#define SIMPLE_STRATEGY "simple stage-per-layer"
#define MAP_MARGIN 20      /* 1/20 = 5% */
#define MAP_EXTRA_PASSES 3 /* pass counts weighed beyond the fewest */

/* A plan: `pipes` pipelines of k layers, each layer `rows` PEs; every tag holds a share
 * of T elements for each pipeline. */
typedef struct plan {
    uint32_t k; /* stages per pass (the last pass may have fewer) */
    uint64_t T;
    uint32_t rows;
    uint32_t pipes;
} plan;

/* Largest power of two dividing x. */
static uint64_t pow2_factor(uint64_t x)
{
    return x & (~x + 1);
}

static bool fits(const arch_desc *a, uint32_t w, uint64_t T, uint32_t rows, uint32_t pipes)
{
    uint64_t m = T / (2 * (uint64_t)rows);
    /* operand slots (tags x 2m) and weights (4m) in the PE; 2 input + 2 output slots
     * and 2 weight staging buffers in the SPM */
    uint64_t pe_bytes = ((uint64_t)a->pe.tags * 2 * m + 4 * m) * w;
    uint64_t spm_bytes = (4 * pipes * T + 2 * 4 * m) * w;
    return pe_bytes <= a->pe.buffer_bytes && spm_bytes <= arch_spm_bytes(a);
}

/* Tags hold whole vectors when a power-of-two group of them divides rows. */
static uint64_t tag_max(const wl_butterfly *b)
{
    uint64_t tmax = b->n * pow2_factor(b->rows);
    return tmax < MAP_MAX_TAG_ELEMS ? tmax : MAP_MAX_TAG_ELEMS;
}

/* Largest tag share of at least 2^k elements that fits with `rows` PEs per layer and
 * `pipes` pipelines, all of whose shares hold vectors; 0 if none. */
static uint64_t largest_tag(const arch_desc *a, const wl_butterfly *b, uint32_t k, uint32_t rows,
                            uint32_t pipes)
{
    uint32_t w = util_dtype_bytes(b->dtype);
    uint64_t T = tag_max(b);
    while (T > b->n && T / b->n * pipes > b->rows)
        T /= 2; /* every pipeline gets its share of a tag */
    for (; T >= (UINT64_C(1) << k) && T >= 2 * (uint64_t)rows; T /= 2)
        if (fits(a, w, T, rows, pipes))
            return T;
    return 0;
}

/* The simple plan: one pipeline on the PE columns, the most stages per pass, then the
 * largest tag, its pairs over the column's rows (a power of two). */
static int choose(const arch_desc *a, const wl_butterfly *b, plan *p, char *err, size_t errlen)
{
    uint32_t w = util_dtype_bytes(b->dtype);
    uint32_t S = b->stages, C = a->array.cols;
    uint32_t R = 1u << util_log2(a->array.rows);
    uint32_t kmax = S < C ? S : C;
    for (uint32_t k = kmax; k >= 1; k--) {
        for (uint64_t T = tag_max(b); T >= (UINT64_C(1) << k) && T >= 2; T /= 2) {
            uint32_t rows = (uint32_t)(T / 2 < R ? T / 2 : R);
            if (fits(a, w, T, rows, 1)) {
                *p = (plan){k, T, rows, 1};
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

/* Whether every pipeline of plan p gets its share of whole vectors in each tag (a tag T
 * was found). */
static bool shares_fit(const wl_butterfly *b, const plan *p)
{
    uint64_t v = p->T >= b->n ? p->T / b->n : 1;
    return p->T && (uint64_t)p->pipes * v <= b->rows && (p->pipes == 1 || p->T >= b->n);
}

/* ---------------------------------------------------------------- placement
 *
 * Layer slots: the array cut into bands of `rows` PE rows, the slots of all bands in
 * snake order (band 0 west to east, band 1 east to west, ...), so that consecutive
 * slots are neighbours. Pipeline g's layer l takes slot g k + l. */

static uint32_t n_slots(const arch_desc *a, uint32_t rows)
{
    return a->array.rows / rows * a->array.cols;
}

static uint32_t slot_pe(const arch_desc *a, uint32_t rows, uint32_t slot, uint32_t r)
{
    uint32_t C = a->array.cols, band = slot / C, i = slot % C;
    return (band * rows + r) * C + (band % 2 ? C - 1 - i : i);
}

/* ---------------------------------------------------------------- building */

static uint32_t *new_pos(map_result *m, uint64_t n)
{
    uint32_t *p = malloc((n ? n : 1) * sizeof *p);
    if (!p)
        return NULL;
    /* capacity doubles: growing by one per array would copy quadratically */
    if (util_reserve((void **)&m->pos_arrays, &m->cap_pos_arrays, m->n_pos_arrays + 1,
                     sizeof *m->pos_arrays)) {
        free(p);
        return NULL;
    }
    m->pos_arrays[m->n_pos_arrays++] = p;
    return p;
}

/* The transfers of one pass for pipeline 0: SPM -> layer 0, layer l -> l+1, last
 * layer -> SPM, between instructions l * rows + r (SPM ports set later). */
static int pipeline_xfers(map_result *m, const geom *g, const uint32_t *bits, uint32_t k,
                          bool functional, eng_xfer **out, uint32_t *n_out)
{
    uint32_t R = g->rows;
    size_t cap = (size_t)2 * R + (size_t)(k - 1) * R * R;
    eng_xfer *x = calloc(cap, sizeof *x);
    uint64_t *count = calloc((size_t)R * R, sizeof *count);
    uint32_t *index = calloc((size_t)R * R, sizeof *index);
    uint64_t *fill = calloc((size_t)R * R, sizeof *fill);
    int rc = (x && count && index && fill) ? UTIL_OK : UTIL_ERUN;
    uint32_t n = 0;
    for (uint32_t r = 0; r < R && !rc; r++)
        x[n++] =
            (eng_xfer){-1, (int32_t)r, 0, (uint32_t)(2 * g->m), owned(g, bits[0], r), NULL, NULL};
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
    for (uint32_t r = 0; r < R && !rc; r++)
        x[n++] = (eng_xfer){(int32_t)((k - 1) * R + r), -1,   0,   (uint32_t)(2 * g->m),
                            owned(g, bits[k - 1], r),   NULL, NULL};
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

/* The transfers of one pass for all pipelines, pipeline after pipeline: pipeline g's
 * instructions follow g's k * rows instructions on, and its share of a tag lies g T
 * elements into the slots. Each reaches the SPM through the port nearer its PE. */
static int build_xfers(const arch_desc *a, map_result *m, const geom *g, const uint32_t *bits,
                       uint32_t k, uint32_t pipes, const eng_instr *ins, bool functional,
                       eng_xfer **out, uint32_t *n_out)
{
    eng_xfer *one;
    uint32_t n1;
    int rc = pipeline_xfers(m, g, bits, k, functional, &one, &n1);
    if (rc)
        return rc;
    eng_xfer *x = calloc((size_t)pipes * n1, sizeof *x);
    if (!x) {
        free(one);
        return UTIL_ERUN;
    }
    int32_t shift = (int32_t)(k * g->rows);
    for (uint32_t gi = 0; gi < pipes; gi++) {
        for (uint32_t i = 0; i < n1; i++) {
            eng_xfer *t = &x[(size_t)gi * n1 + i];
            *t = one[i];
            t->src_instr += t->src_instr >= 0 ? (int32_t)gi * shift : 0;
            t->dst_instr += t->dst_instr >= 0 ? (int32_t)gi * shift : 0;
            if (t->src_instr < 0 || t->dst_instr < 0) {
                t->spm.first += gi * g->T;
                t->spm_port =
                    eng_spm_port_near(a, ins[t->src_instr < 0 ? t->dst_instr : t->src_instr].pe);
            }
        }
    }
    free(one);
    *out = x;
    *n_out = pipes * n1;
    return UTIL_OK;
}

/* The stage-per-layer mapping of plan pl. With block_rows = 0 every pass streams all rows
 * and hands its intermediates to the next through DRAM. With block_rows > 0 the rows go
 * block by block through all passes, and the intermediates of a block stay in the SPM
 * (the program's on-chip region): the multilayer dataflow of DESIGN.md section 5. A
 * tag holds a share for each pipeline; when the rows of a block do not fill whole tags,
 * each pass ends with a phase of one tag for fewer pipelines (a prefix of the pass's
 * instructions and transfers). */
static int map_butterfly(const arch_desc *a, const wl_butterfly *b, bool functional, const plan *pl,
                         uint64_t block_rows, map_result *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    uint32_t S = b->stages, L = arch_lanes(a, b->dtype), R = pl->rows, G = pl->pipes;
    geom g = {pl->T, pl->T / (2 * (uint64_t)R), 0, R};
    g.log2m = util_log2(g.m);
    out->passes = (S + pl->k - 1) / pl->k;
    out->strategy = block_rows         ? "multilayer (passes through the SPM)"
                    : out->passes == 1 ? "multilayer (one pass)"
                                       : "multilayer (passes through DRAM)";
    for (uint32_t p = 0; p < out->passes; p++) {
        out->first_stage[p] = p * pl->k;
        out->stages[p] = S - p * pl->k < pl->k ? S - p * pl->k : pl->k;
    }
    out->rows_used = R;
    out->pipelines = G;
    out->tag_elems = pl->T;
    bool vec_tags = pl->T >= b->n;
    uint64_t v = vec_tags ? pl->T / b->n : 1; /* vectors in a pipeline's share */
    out->vectors_per_tag = vec_tags ? v : 0;
    out->chunks = vec_tags ? 1 : b->n / pl->T;
    uint64_t Rb = block_rows ? block_rows : b->rows;
    out->blocks = b->rows / Rb;
    out->block_rows = block_rows;
    uint64_t full = Rb / (G * v), rest = Rb % (G * v) / v; /* whole tags; pipelines of the last */
    uint32_t parts = rest ? 2 : 1;
    out->phases_per_pass = parts;

    /* DRAM: x, y, up to two intermediates of a block of rows, then the weights. */
    uint64_t mat = b->rows * b->n, tmp = Rb * b->n;
    uint32_t n_tmp = out->passes > 2 ? 2 : out->passes > 1 ? 1 : 0;
    out->x_addr = 0;
    out->y_addr = mat;
    out->tmp_addr[0] = 2 * mat;
    out->tmp_addr[1] = 2 * mat + tmp;
    out->weight_addr = 2 * mat + n_tmp * tmp;

    uint32_t per_pass = G * pl->k * R, n_phases = (uint32_t)out->blocks * out->passes * parts;
    out->phases = calloc(n_phases, sizeof *out->phases);
    out->instr = calloc((size_t)out->passes * per_pass, sizeof *out->instr);
    out->layouts = calloc(n_phases, sizeof *out->layouts);
    out->pass_xfers = calloc(out->passes, sizeof *out->pass_xfers);
    out->pass_n_xfer = calloc(out->passes, sizeof *out->pass_n_xfer);
    if (!out->phases || !out->instr || !out->layouts || !out->pass_xfers || !out->pass_n_xfer) {
        map_free(out);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    }
    uint64_t waddr = out->weight_addr;
    int rc = UTIL_OK;
    for (uint32_t p = 0; p < out->passes && !rc; p++) {
        uint32_t s0 = out->first_stage[p], k = out->stages[p];
        map_tag_layout lay = {.n = b->n, .s0 = s0, .s1 = s0 + k, .tag_elems = pl->T};
        lay.in_base = p == 0 ? out->x_addr : out->tmp_addr[(p - 1) % 2];
        lay.out_base = p + 1 == out->passes ? out->y_addr : out->tmp_addr[p % 2];
        if (!vec_tags) {
            /* T = 2^k elements of each sub-butterfly times 2^lo sub-butterflies: the
             * lo lowest other bits of the index vary inside a tag. */
            uint32_t lo = util_log2(pl->T) - k;
            lay.strided = lo <= s0;
            lay.free_lo = lo;
            lay.run = lay.strided ? UINT64_C(1) << lo : pl->T;
            lay.stride = lay.strided ? UINT64_C(1) << s0 : pl->T;
            lay.count = lay.strided ? UINT64_C(1) << k : 1;
        }
        uint32_t bits[MAP_MAX_PASSES * 2];
        for (uint32_t l = 0; l < k; l++)
            bits[l] = stage_bit(&lay, s0 + l);
        /* pipeline g's layer l at slot g * pl->k + l; its replicas share pipeline 0's
         * weights */
        eng_instr *ins = &out->instr[(size_t)p * per_pass];
        for (uint32_t gi = 0; gi < G; gi++) {
            for (uint32_t l = 0; l < k; l++) {
                for (uint32_t r = 0; r < R; r++) {
                    eng_instr *in = &ins[(gi * k + l) * R + r];
                    in->pe = slot_pe(a, R, gi * pl->k + l, r);
                    in->op = ENG_OP_BFLY;
                    in->vec_ops[ARCH_FU_MAC] = (uint32_t)(4 * util_ceil_div(g.m, L));
                    in->lane_ops = 4 * g.m;
                    in->local_elems = (uint32_t)(2 * g.m);
                    in->param = map_geom_pair_bit(&g, bits[l]);
                    in->weight_elems = (uint32_t)(4 * g.m);
                    in->weight_addr = gi ? ins[l * R + r].weight_addr : waddr;
                    waddr += gi ? 0 : in->weight_elems;
                }
            }
        }
        /* Each chunk's weights follow the previous chunk's. */
        uint64_t stride = (uint64_t)k * R * 4 * g.m;
        waddr += (out->chunks - 1) * stride;
        rc = build_xfers(a, out, &g, bits, k, G, ins, functional, &out->pass_xfers[p],
                         &out->pass_n_xfer[p]);
        uint32_t n1 = out->pass_n_xfer[p] / G; /* transfers per pipeline */
        for (uint32_t part = 0; part < parts && !rc; part++) {
            uint32_t i = p * parts + part, pipes = part ? (uint32_t)rest : G;
            map_tag_layout *li = &out->layouts[i];
            *li = lay;
            li->rows = part ? rest * v : full * G * v;
            li->vectors = vec_tags ? pipes * v : 0;
            if (part) {
                li->in_base += full * G * v * b->n;
                li->out_base += full * G * v * b->n;
            }
            eng_phase *f = &out->phases[i];
            f->n_instr = pipes * k * R;
            f->instr = ins;
            f->n_xfer = pipes * n1;
            f->xfer = out->pass_xfers[p];
            f->n_tags = part ? 1 : full;
            f->repeats = out->chunks;
            f->weight_stride = stride;
            f->tag_elems = (uint32_t)(pipes * pl->T);
            f->in_slots = 2;
            f->out_slots = 2;
            f->tag_dma = tag_dma;
            f->tag_ctx = li;
        }
    }
    if (rc) {
        map_free(out);
        return util_fail(UTIL_ERUN, err, errlen, "out of memory while mapping");
    }
    /* Later blocks run the same passes on their own rows: block-major phase order. */
    uint32_t per_block = out->passes * parts;
    for (uint64_t bi = 1; bi < out->blocks; bi++)
        for (uint32_t j = 0; j < per_block; j++) {
            uint32_t i = (uint32_t)bi * per_block + j;
            out->layouts[i] = out->layouts[j];
            if (j < parts)
                out->layouts[i].in_base += bi * tmp;
            if (j >= per_block - parts)
                out->layouts[i].out_base += bi * tmp;
            out->phases[i] = out->phases[j];
            out->phases[i].tag_ctx = &out->layouts[i];
        }
    for (uint32_t i = 0; i < n_phases; i++)
        out->tags += out->phases[i].n_tags * out->phases[i].repeats;
    out->dram_elems = waddr;
    map_deepen_slots(a, b->dtype, out->phases, n_phases, block_rows ? n_tmp * tmp : 0);
    out->program = (eng_program){b->dtype,
                                 n_phases,
                                 out->phases,
                                 waddr,
                                 block_rows ? out->tmp_addr[0] : 0,
                                 block_rows ? n_tmp * tmp : 0,
                                 0,
                                 0};
    return UTIL_OK;
}

int map_butterfly_simple(const arch_desc *a, const wl_butterfly *b, bool functional,
                         map_result *out, char *err, size_t errlen)
{
    plan pl;
    int rc = choose(a, b, &pl, err, errlen);
    if (!rc)
        rc = map_butterfly(a, b, functional, &pl, 0, out, err, errlen);
    if (!rc)
        out->strategy = SIMPLE_STRATEGY;
    return rc;
}

/* Largest block of rows (a divisor of rows, at least one whole tag) whose intermediates
 * under plan pl fit the SPM beside a phase's slots and weight staging; 0 when none does
 * or one pass suffices. */
static uint64_t onchip_block_rows(const arch_desc *a, const wl_butterfly *b, const plan *pl)
{
    uint32_t passes = (b->stages + pl->k - 1) / pl->k;
    if (passes < 2)
        return 0;
    uint32_t w = util_dtype_bytes(b->dtype);
    uint64_t max_w = 2 * pl->T / pl->rows; /* 4m weights per instruction */
    uint64_t slots = (4 * pl->pipes * pl->T + 2 * max_w) * w, spm = arch_spm_bytes(a);
    uint32_t n_tmp = passes > 2 ? 2 : 1;
    if (slots >= spm)
        return 0;
    uint64_t fit = (spm - slots) / (n_tmp * b->n * w);
    uint64_t unit = pl->T >= b->n ? pl->T / b->n : 1;
    for (uint64_t r = fit < b->rows ? fit : b->rows; r >= unit * pl->pipes; r--)
        if (b->rows % r == 0 && r % unit == 0)
            return r;
    return 0;
}

/* Pipelines x v vectors of a tag, v = the vectors in a pipeline's share (1 for chunks). */
static uint64_t tag_vectors(const wl_butterfly *b, const plan *pl)
{
    return pl->pipes * (pl->T >= b->n ? pl->T / b->n : 1);
}

/* Whether blocks of br rows can keep plan pl's intermediates on chip, at most fit rows
 * fitting (onchip_block_rows): several passes, whole tags, a divisor of rows. */
static bool block_ok(const wl_butterfly *b, const plan *pl, uint64_t br, uint64_t fit)
{
    uint64_t v = tag_vectors(b, pl) / pl->pipes;
    return br && br <= fit && b->rows % br == 0 && br % v == 0 && br >= tag_vectors(b, pl);
}

/* Whether layers of R PEs exist: a power of two of PE rows. */
static bool layer_height_ok(const arch_desc *a, uint32_t R)
{
    return R && !(R & (R - 1)) && R <= a->array.rows;
}

/* The plans the search weighs, narrowed by the mapping-file entry f (NULL: none): for
 * every layer height (a power of two of PE rows) the passes balanced over the layer slots
 * (the fewest that fit and a few more, which leave room for more pipelines), the largest
 * tag that fits, and as many pipelines as the slots hold, or the most that leave no
 * partial tag. Pipelines share tags of whole vectors only (a chunk tag cannot hold all the
 * stages in one pass, and the chunks of several vectors in a later pass are no single DMA
 * pattern). f's layer_pes, stages_per_pass and pipelines replace the choices they name. */
static uint32_t candidate_plans(const arch_desc *a, const wl_butterfly *b, const map_force *f,
                                plan *out, uint32_t cap)
{
    uint32_t n = 0, S = b->stages;
    for (uint32_t rows = 1u << util_log2(a->array.rows); rows >= 1; rows /= 2) {
        if (f && f->layer_pes && f->layer_pes != rows)
            continue;
        uint32_t slots = n_slots(a, rows), kmax = S < slots ? S : slots;
        uint32_t fewest = (S + kmax - 1) / kmax, ks[MAP_EXTRA_PASSES], nk = 0;
        if (f && f->stages_per_pass)
            ks[nk++] = f->stages_per_pass <= kmax ? f->stages_per_pass : 0;
        for (uint32_t passes = fewest; !nk || (!(f && f->stages_per_pass) &&
                                               passes < fewest + MAP_EXTRA_PASSES && passes <= S);
             passes++) {
            uint32_t k = (S + passes - 1) / passes;
            if (passes == fewest || (S + k - 1) / k == passes) /* else: as fewer passes */
                ks[nk++] = k;
        }
        for (uint32_t ki = 0; ki < nk && ks[ki]; ki++) {
            uint32_t k = ks[ki];
            bool most = true;
            for (uint32_t G = slots / k; G >= 1 && n < cap; G--) {
                if (f && f->pipelines && f->pipelines != G)
                    continue;
                plan pl = {k, largest_tag(a, b, k, rows, G), rows, G};
                if (!shares_fit(b, &pl))
                    continue;
                bool whole = b->rows % tag_vectors(b, &pl) == 0;
                if (most || whole)
                    out[n++] = pl;
                most = false;
                if (whole)
                    break;
            }
        }
    }
    return n;
}

/* Why `G` pipelines of `k`-stage passes on layers of `R` PEs do not fit (UTIL_ERUN), or
 * the plan with the largest tag that fits. */
static int plan_check(const arch_desc *a, const wl_butterfly *b, uint32_t R, uint32_t G, uint32_t k,
                      plan *pl, char *err, size_t errlen)
{
    if (!layer_height_ok(a, R))
        return util_fail(UTIL_ERUN, err, errlen,
                         "layers of %u PEs: a layer takes a power of two of PE rows, at most "
                         "array.rows = %u",
                         R, a->array.rows);
    if (!k || k > b->stages || !G || (uint64_t)G * k > n_slots(a, R))
        return util_fail(UTIL_ERUN, err, errlen,
                         "%u pipelines of %u stages need %llu layers; the array holds %u layers "
                         "of %u PE%s, and the butterfly has %u stages",
                         G, k, (unsigned long long)G * k, n_slots(a, R), R, R == 1 ? "" : "s",
                         b->stages);
    *pl = (plan){k, largest_tag(a, b, k, R, G), R, G};
    if (!pl->T)
        return util_fail(UTIL_ERUN, err, errlen,
                         "no tag of at least 2^%u elements fits %u pipelines of %u-PE layers in "
                         "pe.buffer_kb and the SPM",
                         k, G, R);
    if (!shares_fit(b, pl))
        return util_fail(UTIL_ERUN, err, errlen,
                         "%u pipelines need %llu vectors per tag (rows = %llu), and pipelines "
                         "share tags of whole vectors only",
                         G, (unsigned long long)tag_vectors(b, pl), (unsigned long long)b->rows);
    return UTIL_OK;
}

int map_butterfly_with(const arch_desc *a, const wl_butterfly *b, bool functional,
                       const map_bfly_plan *want, map_result *out, char *err, size_t errlen)
{
    plan pl;
    int rc =
        plan_check(a, b, want->layer_pes, want->pipelines, want->stages_per_pass, &pl, err, errlen);
    if (rc)
        return rc;
    uint64_t fit = onchip_block_rows(a, b, &pl), br = want->block_rows;
    if (br && !block_ok(b, &pl, br, fit))
        return util_fail(UTIL_ERUN, err, errlen,
                         "blocks of %llu rows: a block needs several passes, must divide rows "
                         "(%llu) in whole tags of %llu vectors, and fit the SPM (at most %llu "
                         "rows here)",
                         (unsigned long long)br, (unsigned long long)b->rows,
                         (unsigned long long)tag_vectors(b, &pl), (unsigned long long)fit);
    return map_butterfly(a, b, functional, &pl, br, out, err, errlen);
}

#define LAYER_KEYS                                                                                 \
    (MAP_KEY_LAYER_PES | MAP_KEY_PIPELINES | MAP_KEY_STAGES_PER_PASS | MAP_KEY_INTERMEDIATES |     \
     MAP_KEY_BLOCK_ROWS)

/* The mapping-file entry of the layer (NULL when there is none), checked. */
static int layer_entry(const arch_desc *a, const wl_butterfly *b, const map_forced *how,
                       const map_force **f, char *err, size_t errlen)
{
    *f = how && how->n ? &how->f[0] : NULL;
    const char *name = wl_kind_name(WL_KIND_BUTTERFLY_LINEAR);
    if (!*f)
        return UTIL_OK;
    if (how->n > 1)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: a butterfly-linear layer takes one mapping entry (block = 0; op = "
                         "\"%s\"), and this is entry %u",
                         how->f[1].where, name, how->n);
    if ((*f)->block || strcmp((*f)->op, name))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: block = %u, op = \"%s\": a butterfly-linear workload has one op, "
                         "block = 0, op = \"%s\"",
                         (*f)->where, (*f)->block, (*f)->op, name);
    uint32_t R = (*f)->layer_pes;
    if (R && !layer_height_ok(a, R))
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: layer_pes = %u: a layer takes a power of two of PE rows, at most "
                         "array.rows = %u",
                         (*f)->where, R, a->array.rows);
    if ((*f)->stages_per_pass > b->stages)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: stages_per_pass = %u, but the butterfly has %u stages (allowed "
                         "1..%u)",
                         (*f)->where, (*f)->stages_per_pass, b->stages, b->stages);
    if ((*f)->block_rows && (*f)->intermediates == MAP_INTER_DRAM)
        return util_fail(UTIL_ECONFIG, err, errlen,
                         "%s: block_rows = %llu is for intermediates in the SPM, and the entry "
                         "says intermediates = \"dram\"",
                         (*f)->where, (unsigned long long)(*f)->block_rows);
    return map_force_keys(*f, LAYER_KEYS, "the butterfly-linear layer", err, errlen);
}

/* Whether entry f allows plan pl with blocks of `rows` rows (0: intermediates in DRAM). */
static bool allows(const map_force *f, const plan *pl, uint64_t rows)
{
    return !f || ((!f->layer_pes || f->layer_pes == pl->rows) &&
                  (!f->pipelines || f->pipelines == pl->pipes) &&
                  (!f->stages_per_pass || f->stages_per_pass == pl->k) &&
                  (f->intermediates != MAP_INTER_DRAM || !rows) &&
                  (f->intermediates != MAP_INTER_SPM || rows) &&
                  (!f->block_rows || f->block_rows == rows));
}

/* One line for --explain. */
static void plan_desc(const wl_butterfly *b, const plan *pl, uint64_t rows, bool simple, char *buf,
                      size_t len)
{
    uint32_t passes = (b->stages + pl->k - 1) / pl->k;
    char inter[64] = "";
    if (rows)
        snprintf(inter, sizeof inter, ", blocks of %llu rows in the SPM", (unsigned long long)rows);
    else if (passes > 1)
        snprintf(inter, sizeof inter, ", through DRAM");
    if (simple)
        snprintf(buf, len, "simple: %u-PE columns, %u stages per pass (%u passes)%s", pl->rows,
                 pl->k, passes, inter);
    else
        snprintf(buf, len, "%u pipeline%s of %u-PE layers, %u stages per pass (%u pass%s)%s",
                 pl->pipes, pl->pipes == 1 ? "" : "s", pl->rows, pl->k, passes,
                 passes == 1 ? "" : "es", inter);
}

int map_butterfly_search(const arch_desc *a, const wl_butterfly *b, bool functional,
                         const map_forced *how, map_result *out, char *err, size_t errlen)
{
    const map_force *f;
    plan plans[1 + MAP_MAX_PLANS];
    int rc = layer_entry(a, b, how, &f, err, errlen);
    if (!rc)
        rc = choose(a, b, &plans[0], err, errlen);
    if (rc)
        return rc;
    uint32_t n = 1 + candidate_plans(a, b, f, plans + 1, MAP_MAX_PLANS);
    /* Every plan with its intermediates in DRAM (i even), and in the SPM where a block
     * fits (i odd), scored without element positions; the cheapest under the objective
     * wins (the first on ties), but another plan must beat the simple one by a margin the
     * estimate's error cannot eat. Only the winner is built for values. */
    map_shortlist list;
    memset(&list, 0, sizeof list);
    double best = INFINITY, unused = INFINITY;
    uint32_t chosen = 0;
    uint64_t chosen_rows = 0;
    map_candidate taken;
    memset(&taken, 0, sizeof taken);
    char scratch[256], desc[MAP_CAND_DESC_MAX];
    for (uint32_t i = 0; i < 2 * n; i++) {
        const plan *pl = &plans[i / 2];
        uint64_t fit = i % 2 && i > 1 ? onchip_block_rows(a, b, pl) : 0;
        uint64_t rows =
            f && f->block_rows ? (block_ok(b, pl, f->block_rows, fit) ? f->block_rows : 0) : fit;
        map_result m;
        if ((i % 2 && !rows) || !allows(f, pl, rows) ||
            map_butterfly(a, b, false, pl, rows, &m, scratch, sizeof scratch))
            continue;
        eng_phase_estimate *pe = calloc(m.program.n_phases, sizeof *pe);
        eng_estimate_total e;
        bool ok = pe && !eng_estimate(a, &m.program, pe, &e, scratch, sizeof scratch);
        if (ok) {
            double cost = map_cost(how, a, b->dtype, &e);
            double bar = i == 0 ? cost - cost / MAP_MARGIN : cost;
            plan_desc(b, pl, rows, i == 0, desc, sizeof desc);
            const char *why = map_bottleneck(&pe[0]);
            map_shortlist_add(&list, e.cycles, cost, why, desc, &unused);
            if (bar < best) {
                best = bar;
                chosen = i;
                chosen_rows = rows;
                taken = (map_candidate){"", e.cycles, cost, why};
                memcpy(taken.desc, desc, sizeof desc);
            }
        }
        free(pe);
        map_free(&m);
    }
    if (best == INFINITY) {
        char keys[160] = "";
        plan unfit;
        if (f)
            map_force_describe(f, keys, sizeof keys);
        if (f && f->layer_pes && f->pipelines && f->stages_per_pass &&
            plan_check(a, b, f->layer_pes, f->pipelines, f->stages_per_pass, &unfit, scratch,
                       sizeof scratch))
            return util_fail(UTIL_ECONFIG, err, errlen, "%s: %s", f->where, scratch);
        return util_fail(f ? UTIL_ECONFIG : UTIL_ERUN, err, errlen,
                         "%s%sno mapping of butterfly-linear n=%llu x %llu rows fits%s%s (layers "
                         "take a power of two of PE rows, at most %u; pipelines x "
                         "stages_per_pass layers must fit the array; a tag holds whole vectors "
                         "for each pipeline; intermediates in the SPM need several passes and a "
                         "block of rows, a divisor of rows, that fits)",
                         f ? f->where : "", f ? ": " : "", (unsigned long long)b->n,
                         (unsigned long long)b->rows, f ? " with " : "", keys, a->array.rows);
    }
    if ((rc = map_butterfly(a, b, functional, &plans[chosen / 2], chosen_rows, out, err, errlen)))
        return rc;
    if (chosen == 0)
        out->strategy = SIMPLE_STRATEGY;
    /* the margin may choose a plan outside the shortlist: it takes the last place */
    while (list.chosen < list.n && strcmp(list.c[list.chosen].desc, taken.desc))
        list.chosen++;
    if (list.chosen == list.n)
        list.c[--list.chosen] = taken;
    out->shortlist = list;
    return UTIL_OK;
}

void map_write_weights(const map_result *m, const wl_butterfly *b, const float *tw, float *image)
{
    geom g = {m->tag_elems, m->tag_elems / (2 * (uint64_t)m->rows_used), 0, m->rows_used};
    g.log2m = util_log2(g.m);
    for (uint32_t p = 0; p < m->passes; p++) {
        /* pipeline 0's instructions (the others share their weights) */
        const map_tag_layout *lay = &m->layouts[p * m->phases_per_pass];
        const eng_phase *f = &m->phases[p * m->phases_per_pass];
        for (uint64_t c = 0; c < f->repeats; c++) {
            for (uint32_t i = 0; i < m->stages[p] * m->rows_used; i++) {
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

/* check_transform.c: the transform ops of a model (butterfly, block butterfly, sequence
 * butterfly, Fourier mixing, fft-compress) mapped onto the array match sim/ref and obey
 * the lower bounds. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../sim/config/config.h"
#include "../sim/engine/engine.h"
#include "../sim/mapper/internal.h"
#include "../sim/mapper/mapper.h"
#include "../sim/ref/ref.h"
#include "../sim/util/util.h"
#include "../sim/workload/workload.h"
#include "testutil.h"

/* Untouched DRAM holds this value: a mapping that writes outside its output shows. */
#define SENTINEL 12345.0f

/* A one-block model. */
static void model(wl_desc *d, uint64_t seq, uint64_t hidden, uint64_t ffn, uint64_t batch,
                  util_dtype t, wl_mixer mix, wl_linear lin, uint64_t bs, uint64_t chunk)
{
    memset(d, 0, sizeof *d);
    snprintf(d->name, sizeof d->name, "t");
    d->kind = WL_KIND_MODEL;
    d->dtype = t;
    d->seed = 11;
    d->seq_len = seq;
    d->hidden = hidden;
    d->heads = 2;
    d->ffn = ffn;
    d->batch = batch;
    d->n_blocks = 1;
    d->blocks[0] = (wl_block){1, mix, lin, lin, bs, chunk, 0.5};
}

/* The op of the model's block with this name. */
static wl_op find_op(const wl_desc *d, const char *name)
{
    wl_op ops[WL_MAX_BLOCK_OPS];
    uint32_t n = wl_block_ops(d, 0, ops);
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(ops[i].name, name) == 0)
            return ops[i];
    ck_abort_msg("no op %s", name);
    return ops[0];
}

/* ---------------------------------------------------------------- reference */

/* y[rows x out] of the op from x[rows x in] (packed), in double, from the same rounded
 * inputs and weights. The FFT ops zero-pad to op->n tokens and the padded hidden size;
 * fft-compress is composed from ref_fft because its sequence FFTs take the complex
 * hidden spectrum (ref_fft_compress takes real input). */
static void reference(const wl_desc *d, const wl_op *op, const float *x, const float *w, double *y)
{
    uint64_t rows = op->rows, in = op->in, out = op->out, n = op->n;
    if (op->kind == WL_OP_BUTTERFLY || op->kind == WL_OP_BLOCK_BFLY) {
        double *xp = calloc(rows * n, sizeof *xp), *yp = calloc(rows * n, sizeof *yp);
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t c = 0; c < in; c++)
                xp[r * n + c] = x[r * in + c];
        uint64_t bs = op->kind == WL_OP_BLOCK_BFLY ? op->param : 1;
        ref_block_butterfly(n, bs, rows, w, xp, yp);
        for (uint64_t r = 0; r < rows; r++)
            for (uint64_t c = 0; c < out; c++)
                y[r * out + c] = yp[r * n + c];
        free(xp);
        free(yp);
        return;
    }
    uint64_t S = d->seq_len, H = d->hidden, B = op->groups, nh = wl_pow2_ceil(H);
    if (op->kind == WL_OP_SEQ_BFLY) {
        float *v = calloc(n, sizeof *v);
        double *o = calloc(n, sizeof *o);
        for (uint64_t b = 0; b < B; b++)
            for (uint64_t c = 0; c < H; c++) {
                for (uint64_t t = 0; t < n; t++)
                    v[t] = t < S ? x[(b * S + t) * H + c] : 0.0f;
                ref_butterfly(n, 1, w, v, o);
                for (uint64_t t = 0; t < S; t++)
                    y[(b * S + t) * H + c] = o[t];
            }
        free(v);
        free(o);
        return;
    }
    double *re = calloc(n * nh, sizeof *re), *im = calloc(n * nh, sizeof *im);
    double *cr = calloc(n, sizeof *cr), *ci = calloc(n, sizeof *ci);
    for (uint64_t b = 0; b < B; b++) {
        memset(re, 0, n * nh * sizeof *re);
        memset(im, 0, n * nh * sizeof *im);
        for (uint64_t t = 0; t < S; t++)
            for (uint64_t c = 0; c < H; c++)
                re[t * nh + c] = x[(b * S + t) * H + c];
        if (op->kind == WL_OP_FFT_MIX) {
            ref_fourier_mix(n, nh, re, re);
            for (uint64_t t = 0; t < S; t++)
                for (uint64_t c = 0; c < H; c++)
                    y[(b * S + t) * H + c] = re[t * nh + c];
            continue;
        }
        for (uint64_t t = 0; t < S; t++)
            ref_fft(nh, re + t * nh, im + t * nh, false);
        uint64_t chunk = op->param, keep = op->d;
        for (uint64_t c = 0; c < H; c++)
            for (uint64_t t0 = 0; t0 < n; t0 += chunk) {
                for (uint64_t t = 0; t < chunk; t++) {
                    cr[t] = re[(t0 + t) * nh + c];
                    ci[t] = im[(t0 + t) * nh + c];
                }
                ref_fft(chunk, cr, ci, false);
                for (uint64_t t = 0; t < chunk && t0 + t < S; t++)
                    y[(b * S + t0 + t) * H + c] = t < keep ? cr[t] : 0.0;
            }
    }
    free(re);
    free(im);
    free(cr);
    free(ci);
}

/* ---------------------------------------------------------------- functional runs */

/* Largest |got - want| over max |want|. Also checks that the stride gap of dst kept
 * its sentinel. */
enum { PLANT_NONE, PLANT_MID, PLANT_LATE };

/* With scratch and max_block_lines as map_transform_with takes them; want_desc (if set)
 * must appear in the mapping's description. */
static double run_functional_with(const arch_desc *a, const wl_desc *d, const wl_op *op, int plant,
                                  bool want_split, map_scratch scratch, uint64_t max_block_lines,
                                  const char *want_desc)
{
    uint64_t rows = op->rows, in = op->in, out = op->out;
    /* strides wider than the rows, so that row addressing is tested */
    map_op_io io = {
        {0, rows, in, in + 3}, {0, rows, in, in + 3}, {0, 0, 0, 0}, 0, NULL, false, NULL};
    io.dst = (map_tensor){rows * io.src0.stride + 5, rows, out, out + 2};
    io.free_addr = io.dst.addr + rows * io.dst.stride + 7;
    map_op_result m;
    char err[512];
    int rc = map_transform_with(a, d, op, &io, true, scratch, max_block_lines, &m, err, sizeof err);
    ck_assert_msg(rc == UTIL_OK, "%s: %s", op->name, err);
    ck_assert(m.kind == op->kind && m.desc[0] && m.dram_end >= io.free_addr);
    ck_assert_msg(!want_desc || strstr(m.desc, want_desc), "%s: \"%s\" not in %s", op->name,
                  want_desc, m.desc);
    /* the on-chip region is part of the image, above the op's tensors and weights */
    ck_assert(m.program.onchip_first + m.program.onchip_elems <= m.dram_end);
    ck_assert(!m.program.onchip_elems || m.program.onchip_first >= m.weight_addr + m.weight_elems);
    ck_assert_msg(eng_validate(a, &m.program, err, sizeof err) == UTIL_OK, "%s: %s", op->name, err);
    ck_assert(m.weight_addr >= io.free_addr && m.weight_addr + m.weight_elems <= m.dram_end);
    /* split mappings say so ("parts of" a line per tag) */
    ck_assert_msg(!want_split || strstr(m.desc, "parts of"), "%s not split: %s", op->name, m.desc);
    float *image = malloc(m.dram_end * sizeof *image);
    for (uint64_t i = 0; i < m.dram_end; i++)
        image[i] = SENTINEL;
    /* seeded inputs in [-1, 1), rounded to the element type */
    float *x = malloc(rows * in * sizeof *x);
    util_rng rng;
    util_rng_seed(&rng, d->seed * 31 + op->kind);
    for (uint64_t i = 0; i < rows * in; i++) {
        x[i] = util_round_dtype(d->dtype, (float)(2.0 * util_rng_uniform(&rng) - 1.0));
        image[io.src0.addr + (i / in) * io.src0.stride + i % in] = x[i];
    }
    uint64_t nw = wl_op_weights(d, op, 0, NULL);
    float *w = malloc((nw ? nw : 1) * sizeof *w);
    wl_op_weights(d, op, 0, w);
    ck_assert(op->kind >= WL_OP_FFT_MIX || nw == op->weights);
    map_transform_write_weights(&m, op, w, image);
    /* one weight (or twiddle) of the image off by 0.5: in the middle, or three quarters in
     * (a late part of a split mapping) */
    if (plant != PLANT_NONE)
        image[m.weight_addr + (plant == PLANT_MID ? m.weight_elems / 2 : m.weight_elems * 3 / 4)] +=
            0.5f;
    m.program.dram_elems = m.dram_end;
    eng_stats st;
    rc = eng_run(a, &m.program, image, &st, err, sizeof err);
    ck_assert_msg(rc == UTIL_OK, "%s: %s", op->name, err);
    eng_stats_free(&st);
    double *y = calloc(rows * out, sizeof *y), maxw = 0.0, maxe = 0.0;
    reference(d, op, x, w, y);
    for (uint64_t r = 0; r < rows; r++) {
        for (uint64_t c = 0; c < out; c++) {
            double want = y[r * out + c], got = image[io.dst.addr + r * io.dst.stride + c];
            maxw = fmax(maxw, fabs(want));
            maxe = fmax(maxe, fabs(got - want));
            ck_assert(!isnan(got));
        }
        for (uint64_t c = out; c < io.dst.stride; c++)
            ck_assert(image[io.dst.addr + r * io.dst.stride + c] == SENTINEL);
    }
    ck_assert(maxw > 0.0);
    free(x);
    free(w);
    free(y);
    free(image);
    map_transform_free(&m);
    return maxe / maxw;
}

static double run_functional(const arch_desc *a, const wl_desc *d, const wl_op *op, int plant,
                             bool want_split)
{
    return run_functional_with(a, d, op, plant, want_split, MAP_SCRATCH_BEST, 0, NULL);
}

/* Tolerance on max |error| / max |y|. Every stage rounds each result once to the element
 * type (unit roundoff u: 2^-11 for FP16, 2^-24 for FP32), and the FFT twiddles are
 * rounded too; with S <= 10 stages here and intermediates of the size of the outputs the
 * error is a few S u. FP16: 2e-2 (about 4 x S u); FP32: 1e-4, far above S u = 6e-7 yet
 * far below the O(1) error of a wrong pairing, twiddle or position (the planted test). */
static double tolerance(util_dtype t)
{
    return t == UTIL_FP32 ? 1e-4 : 2e-2;
}

typedef struct fcase {
    wl_mixer mix;
    wl_linear lin;
    const char *op;
    uint64_t seq, hidden, ffn, batch, bs, chunk;
} fcase;

static const fcase cases[] = {
    /* butterfly: in < out, in > out, a 5-stage (two-pass on small arrays) size */
    {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "ffn1", 6, 12, 16, 2, 1, 4},
    {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "ffn2", 6, 12, 20, 2, 1, 4},
    {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "q-proj", 16, 8, 16, 1, 1, 4},
    /* block butterfly, tiles of 4 and 2 */
    {WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "ffn1", 6, 12, 32, 2, 4, 4},
    {WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "ffn2", 5, 12, 16, 1, 2, 4},
    /* sequence butterfly: padded and power-of-two sequences */
    {WL_MIX_BUTTERFLY, WL_LIN_NONE, "mix", 12, 12, 16, 2, 1, 4},
    {WL_MIX_BUTTERFLY, WL_LIN_NONE, "mix", 16, 8, 16, 1, 1, 4},
    /* Fourier mixing */
    {WL_MIX_FFT, WL_LIN_NONE, "mix", 12, 12, 16, 2, 1, 4},
    {WL_MIX_FFT, WL_LIN_NONE, "mix", 16, 8, 16, 1, 1, 4},
    /* fft-compress: chunks of 4 and 8, half of each kept */
    {WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 12, 12, 16, 2, 1, 4},
    {WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 16, 8, 16, 1, 1, 8},
};

static const wl_op_kind case_kind[] = {WL_OP_BUTTERFLY,    WL_OP_BUTTERFLY,   WL_OP_BUTTERFLY,
                                       WL_OP_BLOCK_BFLY,   WL_OP_BLOCK_BFLY,  WL_OP_SEQ_BFLY,
                                       WL_OP_SEQ_BFLY,     WL_OP_FFT_MIX,     WL_OP_FFT_MIX,
                                       WL_OP_FFT_COMPRESS, WL_OP_FFT_COMPRESS};

static wl_op case_op(const fcase *c, util_dtype t, wl_desc *d)
{
    model(d, c->seq, c->hidden, c->ffn, c->batch, t, c->mix, c->lin, c->bs, c->chunk);
    return find_op(d, c->op);
}

static void check_cases(const char *arch, util_dtype t)
{
    arch_desc a;
    tu_load_arch(arch, &a);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_desc d;
        wl_op op = case_op(&cases[i], t, &d);
        ck_assert_int_eq(op.kind, case_kind[i]);
        double e = run_functional(&a, &d, &op, PLANT_NONE, false);
        ck_assert_msg(e <= tolerance(t), "%s case %zu (%s %s): relative error %g above %g", arch, i,
                      wl_op_kind_name(op.kind), op.name, e, tolerance(t));
    }
}

START_TEST(test_functional_tiny_fp16)
{
    check_cases("tests/data/tiny-1x2.cfg", UTIL_FP16);
}
END_TEST

START_TEST(test_functional_4x4)
{
    check_cases("arch/mld-4x4.cfg", UTIL_FP16);
    check_cases("arch/mld-4x4.cfg", UTIL_FP32);
}
END_TEST

START_TEST(test_functional_8x8)
{
    check_cases("arch/mld-8x8.cfg", UTIL_FP16);
    check_cases("arch/mld-8x8.cfg", UTIL_FP32);
}
END_TEST

/* One corrupted weight (or FFT twiddle) in the image must break every op's comparison. */
START_TEST(test_planted_error)
{
    arch_desc a;
    tu_load_arch("arch/mld-4x4.cfg", &a);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_desc d;
        wl_op op = case_op(&cases[i], UTIL_FP32, &d);
        double e = run_functional(&a, &d, &op, PLANT_MID, false);
        ck_assert_msg(e > tolerance(UTIL_FP32), "case %zu (%s): planted error not seen (%g)", i,
                      wl_op_kind_name(op.kind), e);
    }
}
END_TEST

/* ---------------------------------------------------------------- split lines
 *
 * PE buffers too small for one vector (or one column of tokens) force tags that hold
 * parts of a line: strided sub-transforms over a window of the line's bits, with each
 * part's weights and twiddles, padding and cropping the same in every part. */

typedef struct scase {
    fcase c;
    wl_op_kind kind;
    uint32_t buffer_elems; /* pe.buffer_bytes in elements of the case's type */
} scase;

static const scase split_cases[] = {
    /* Fourier mixing: power-of-two and padded sequences, padded hidden size */
    {{WL_MIX_FFT, WL_LIN_NONE, "mix", 64, 8, 16, 1, 1, 4}, WL_OP_FFT_MIX, 75},
    {{WL_MIX_FFT, WL_LIN_NONE, "mix", 60, 6, 16, 2, 1, 4}, WL_OP_FFT_MIX, 75},
    /* fft-compress: lines of several chunks, split */
    {{WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 64, 8, 16, 1, 1, 16}, WL_OP_FFT_COMPRESS, 75},
    {{WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 60, 6, 16, 2, 1, 8}, WL_OP_FFT_COMPRESS, 75},
    /* sequence butterfly (a padded sequence cannot split: see test_too_large) */
    {{WL_MIX_BUTTERFLY, WL_LIN_NONE, "mix", 64, 8, 16, 1, 1, 4}, WL_OP_SEQ_BFLY, 75},
    {{WL_MIX_BUTTERFLY, WL_LIN_NONE, "mix", 64, 6, 16, 2, 1, 4}, WL_OP_SEQ_BFLY, 75},
    /* block butterfly, tiles of 2 and 4, padded input and cropped output */
    {{WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "ffn1", 6, 16, 64, 2, 2, 4}, WL_OP_BLOCK_BFLY, 75},
    {{WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "ffn2", 6, 16, 64, 2, 2, 4}, WL_OP_BLOCK_BFLY, 75},
    {{WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "ffn1", 5, 32, 64, 1, 4, 4}, WL_OP_BLOCK_BFLY, 150},
    /* butterfly */
    {{WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "ffn1", 6, 48, 64, 1, 1, 4}, WL_OP_BUTTERFLY, 75},
    {{WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "ffn2", 6, 48, 64, 1, 1, 4}, WL_OP_BUTTERFLY, 75},
};

static void split_arch(const scase *c, util_dtype t, arch_desc *a)
{
    tu_load_arch("arch/mld-4x4.cfg", a);
    a->pe.buffer_bytes = c->buffer_elems * util_dtype_bytes(t);
}

START_TEST(test_functional_split)
{
    static const util_dtype types[] = {UTIL_FP32, UTIL_FP16};
    for (size_t ti = 0; ti < 2; ti++) {
        for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
            arch_desc a;
            wl_desc d;
            split_arch(&split_cases[i], types[ti], &a);
            wl_op op = case_op(&split_cases[i].c, types[ti], &d);
            ck_assert_int_eq(op.kind, split_cases[i].kind);
            double e = run_functional(&a, &d, &op, PLANT_NONE, true);
            ck_assert_msg(e <= tolerance(types[ti]), "split case %zu (%s %s): relative error %g", i,
                          wl_op_kind_name(op.kind), op.name, e);
        }
    }
}
END_TEST

/* Every part has its own weights: a wrong one in the middle or in a late part shows (a
 * single weight may meet only padding or dropped outputs, so one of the two suffices). */
START_TEST(test_planted_error_split)
{
    for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
        arch_desc a;
        wl_desc d;
        split_arch(&split_cases[i], UTIL_FP32, &a);
        wl_op op = case_op(&split_cases[i].c, UTIL_FP32, &d);
        double e1 = run_functional(&a, &d, &op, PLANT_MID, true);
        double e2 = run_functional(&a, &d, &op, PLANT_LATE, true);
        ck_assert_msg(e1 > tolerance(UTIL_FP32) || e2 > tolerance(UTIL_FP32),
                      "split case %zu (%s): planted errors not seen (%g, %g)", i,
                      wl_op_kind_name(op.kind), e1, e2);
    }
}
END_TEST

/* ---------------------------------------------------------------- timing */

/* The op's input, then its output, packed; weights and intermediates above them. */
static map_op_io packed_io(const wl_op *op)
{
    map_op_io io = {{0, op->rows, op->in, op->in},
                    {0, op->rows, op->in, op->in},
                    {0, 0, 0, 0},
                    0,
                    NULL,
                    false,
                    NULL};
    io.dst = (map_tensor){op->rows * op->in, op->rows, op->out, op->out};
    io.free_addr = io.dst.addr + op->rows * op->out;
    return io;
}

/* Runs an op in timing mode; returns the stats (caller frees). */
static void run_timing(const arch_desc *a, const wl_desc *d, const wl_op *op, eng_stats *st,
                       map_op_result *m)
{
    map_op_io io = packed_io(op);
    char err[512];
    ck_assert_msg(map_transform(a, d, op, &io, false, m, err, sizeof err) == UTIL_OK, "%s: %s",
                  op->name, err);
    ck_assert_msg(eng_run(a, &m->program, NULL, st, err, sizeof err) == UTIL_OK, "%s: %s", op->name,
                  err);
}

/* Useful lane operations the mapping must report: 4 per real pair element (butterfly), 4
 * B^2 per tile pair, 8 per complex FFT pair (4 on the MAC, 4 on the adder). */
static uint64_t expected_lane_ops(const wl_desc *d, const wl_op *op)
{
    uint64_t nh = wl_pow2_ceil(d->hidden);
    switch (op->kind) {
    case WL_OP_BUTTERFLY:
    case WL_OP_BLOCK_BFLY:
    case WL_OP_SEQ_BFLY:
        return op->macs;
    case WL_OP_FFT_MIX:
        return op->rows * (nh / 2) * util_log2(nh) * 8 +
               op->groups * d->hidden * (op->n / 2) * util_log2(op->n) * 8;
    default:
        return op->rows * (nh / 2) * util_log2(nh) * 8 +
               op->groups * d->hidden * (op->n / 2) * util_log2(op->param) * 8;
    }
}

/* Whether an op's mapping keeps every chunk's weights in the PE buffers (one repeat whose
 * tags each use their chunk's set) or reloads them chunk by chunk (a repeat each). */
static bool maps_resident(const arch_desc *a, const wl_desc *d, const wl_op *op)
{
    map_op_io io = packed_io(op);
    map_op_result m;
    char err[512];
    ck_assert_msg(map_transform(a, d, op, &io, false, &m, err, sizeof err) == UTIL_OK, "%s", err);
    bool sets = false, repeats = false;
    for (uint32_t p = 0; p < m.program.n_phases; p++) {
        const eng_phase *f = &m.program.phases[p];
        for (uint32_t i = 0; i < f->n_instr; i++)
            sets = sets || f->instr[i].weight_sets > 1;
        repeats = repeats || f->repeats > 1;
        /* a phase either streams its chunks in one repeat or repeats them, never both */
        ck_assert(f->repeats == 1 || f->instr[0].weight_sets <= 1);
    }
    map_transform_free(&m);
    ck_assert(sets || repeats);
    return sets;
}

/* Split mappings whose chunks' weights fit the buffers beside the slots keep them all
 * and stream every chunk in one repeat; the values are still right, a wrong weight of
 * a late chunk still shows, and both ways are exercised (buffers 1x to 4x the split
 * cases', still too small for whole lines). */
START_TEST(test_resident_chunks)
{
    int resident = 0, reloaded = 0;
    for (size_t i = 0; i < sizeof split_cases / sizeof split_cases[0]; i++) {
        for (uint32_t grow = 1; grow <= 4; grow++) {
            arch_desc a;
            wl_desc d;
            split_arch(&split_cases[i], UTIL_FP32, &a);
            a.pe.buffer_bytes *= grow;
            wl_op op = case_op(&split_cases[i].c, UTIL_FP32, &d);
            map_op_io io = packed_io(&op);
            map_op_result m;
            char err[512];
            ck_assert(map_transform(&a, &d, &op, &io, false, &m, err, sizeof err) == UTIL_OK);
            bool split = strstr(m.desc, "parts of") != NULL;
            map_transform_free(&m);
            if (!split)
                continue;
            bool res = maps_resident(&a, &d, &op);
            resident += res, reloaded += !res;
            double e = run_functional(&a, &d, &op, PLANT_NONE, true);
            ck_assert_msg(e <= tolerance(UTIL_FP32), "split case %zu x%u: relative error %g", i,
                          grow, e);
            double e1 = run_functional(&a, &d, &op, PLANT_MID, true);
            double e2 = run_functional(&a, &d, &op, PLANT_LATE, true);
            ck_assert_msg(e1 > tolerance(UTIL_FP32) || e2 > tolerance(UTIL_FP32),
                          "split case %zu x%u: planted errors not seen", i, grow);
        }
    }
    ck_assert_msg(resident >= 4 && reloaded >= 4, "%d resident, %d reloaded", resident, reloaded);
}
END_TEST

static const fcase big[] = {
    {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "q-proj", 1024, 768, 3072, 4, 1, 64},
    {WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "q-proj", 1024, 768, 3072, 1, 8, 64},
    {WL_MIX_BUTTERFLY, WL_LIN_NONE, "mix", 1024, 768, 3072, 1, 1, 64},
    {WL_MIX_FFT, WL_LIN_NONE, "mix", 1024, 768, 3072, 1, 1, 64},
    {WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 1024, 768, 3072, 1, 1, 64},
};

/* Runs one case in timing mode: at or above the compute and DRAM bounds, every useful
 * operation accounted for, at least the compulsory traffic; split mappings when asked. */
static void check_bounds(const arch_desc *a, const char *arch, const fcase *c, bool want_split)
{
    wl_desc d;
    wl_op op = case_op(c, UTIL_FP16, &d);
    eng_stats st;
    map_op_result m;
    run_timing(a, &d, &op, &st, &m);
    ck_assert_msg(!want_split || strstr(m.desc, "parts of"), "%s: %s", op.name, m.desc);
    double lanes = arch_lanes(a, d.dtype) * (double)arch_pe_count(a);
    double compute = (double)st.lane_ops / lanes;
    double bytes = (double)(st.dram.read_bytes + st.dram.write_bytes);
    double dram = bytes / arch_dram_bytes_per_cycle(a);
    ck_assert_uint_eq(st.lane_ops, expected_lane_ops(&d, &op));
    ck_assert_msg((double)st.cycles >= compute && (double)st.cycles >= dram,
                  "%s %s: %llu cycles below a bound (compute %.0f, DRAM %.0f)", arch, op.name,
                  (unsigned long long)st.cycles, compute, dram);
    /* compulsory traffic: read the input, write the output */
    ck_assert(bytes >= (double)op.rows * (double)(op.in + op.out) * 2.0);
    eng_stats_free(&st);
    map_transform_free(&m);
}

START_TEST(test_timing_bounds)
{
    static const char *const arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg",
                                         "arch/mld-16x16.cfg"};
    for (size_t ai = 0; ai < 3; ai++) {
        arch_desc a;
        tu_load_arch(arches[ai], &a);
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
            check_bounds(&a, arches[ai], &big[i], false);
    }
}
END_TEST

/* Long lines on mld-8x8: 16K-token Fourier mixing and fft-compress, whose token columns
 * do not fit a PE column, and block butterflies on n = 4096 with tiles of 8 and 16, whose
 * vectors and weights do not: split mappings, at or above the compute and DRAM bounds,
 * with every useful operation accounted for. */
static const fcase long_cases[] = {
    {WL_MIX_FFT, WL_LIN_NONE, "mix", 16384, 768, 3072, 1, 1, 64},
    {WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 16384, 768, 3072, 1, 1, 256},
    {WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "ffn1", 1024, 768, 3072, 1, 8, 64},
    {WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "ffn2", 1024, 768, 3072, 1, 16, 64},
};

START_TEST(test_timing_long)
{
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    for (size_t i = 0; i < sizeof long_cases / sizeof long_cases[0]; i++)
        check_bounds(&a, "arch/mld-8x8.cfg", &long_cases[i], true);
}
END_TEST

START_TEST(test_timing_deterministic)
{
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
        wl_desc d;
        wl_op op = case_op(&big[i], UTIL_FP16, &d);
        eng_stats s1, s2;
        map_op_result m1, m2;
        run_timing(&a, &d, &op, &s1, &m1);
        run_timing(&a, &d, &op, &s2, &m2);
        ck_assert_uint_eq(s1.cycles, s2.cycles);
        ck_assert_uint_eq(s1.events, s2.events);
        ck_assert(memcmp(&s1.pe_total, &s2.pe_total, sizeof s1.pe_total) == 0);
        ck_assert(memcmp(&s1.noc, &s2.noc, sizeof s1.noc) == 0);
        ck_assert(memcmp(&s1.spm, &s2.spm, sizeof s1.spm) == 0);
        ck_assert(memcmp(&s1.dram, &s2.dram, sizeof s1.dram) == 0);
        ck_assert(memcmp(s1.pe, s2.pe, s1.n_pes * sizeof *s1.pe) == 0);
        eng_stats_free(&s1);
        eng_stats_free(&s2);
        map_transform_free(&m1);
        map_transform_free(&m2);
    }
}
END_TEST

/* ---------------------------------------------------------------- multilayer
 *
 * An op of several passes may run its lines in blocks through all passes, a block's
 * intermediates in the program's on-chip region; map_transform keeps that mapping when
 * the estimate finds it clearly faster. */

/* Every case with intermediates on chip, in blocks of at most cap lines (several blocks
 * even in these small cases), and (FP32) a planted error in every case still seen. */
static void check_multilayer_cases(const char *arch, util_dtype t, uint64_t cap)
{
    arch_desc a;
    tu_load_arch(arch, &a);
    uint32_t multi = 0, split_blocks = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wl_desc d;
        wl_op op = case_op(&cases[i], t, &d);
        map_op_result m;
        map_op_io io = packed_io(&op);
        char err[512];
        ck_assert(map_transform_with(&a, &d, &op, &io, false, MAP_SCRATCH_ONCHIP, cap, &m, err,
                                     sizeof err) == UTIL_OK);
        const char *at = strstr(m.desc, "multilayer: blocks of ");
        bool on = at != NULL;
        /* blocks of fewer lines than the op has rows: several blocks */
        split_blocks += on && strtoull(at + strlen("multilayer: blocks of "), NULL, 10) < op.rows;
        ck_assert(on == (m.program.onchip_elems > 0));
        map_transform_free(&m);
        multi += on;
        double e =
            run_functional_with(&a, &d, &op, PLANT_NONE, false, MAP_SCRATCH_ONCHIP, cap, NULL);
        ck_assert_msg(e <= tolerance(t), "%s case %zu (%s) multilayer: error %g", arch, i, op.name,
                      e);
        if (t != UTIL_FP32)
            continue;
        e = run_functional_with(&a, &d, &op, PLANT_MID, false, MAP_SCRATCH_ONCHIP, cap, NULL);
        ck_assert_msg(e > tolerance(UTIL_FP32), "%s case %zu: planted error not seen (%g)", arch, i,
                      e);
    }
    ck_assert_msg(multi > 0, "%s: no case ran multilayer", arch);
    ck_assert_msg(!cap || split_blocks > 0, "%s: no case ran several blocks", arch);
}

START_TEST(test_functional_multilayer)
{
    check_multilayer_cases("tests/data/tiny-1x2.cfg", UTIL_FP16, 4);
    check_multilayer_cases("arch/mld-4x4.cfg", UTIL_FP32, 4);
    check_multilayer_cases("arch/mld-4x4.cfg", UTIL_FP16, 0);
    /* map_transform's own choice, multilayer here (blocks of all 32 rows, and of 64 lines
     * of both groups of an fft-compress) */
    static const struct {
        const char *arch;
        fcase c;
    } chosen[] = {
        {"arch/mld-8x8.cfg", {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "q-proj", 32, 1024, 16, 1, 1, 4}},
        {"arch/mld-4x4.cfg", {WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 64, 64, 16, 1, 1, 64}},
    };
    for (size_t i = 0; i < sizeof chosen / sizeof chosen[0]; i++) {
        arch_desc a;
        wl_desc d;
        tu_load_arch(chosen[i].arch, &a);
        wl_op op = case_op(&chosen[i].c, UTIL_FP32, &d);
        double e = run_functional_with(&a, &d, &op, PLANT_NONE, false, MAP_SCRATCH_BEST, 0,
                                       "multilayer: blocks of");
        ck_assert_msg(e <= tolerance(UTIL_FP32), "chosen case %zu: error %g", i, e);
    }
}
END_TEST

/* Maps op both ways (map_transform's choice and intermediates in DRAM) and simulates
 * both; returns whether the choice is multilayer. */
static bool run_both(const arch_desc *a, const wl_desc *d, const wl_op *op, eng_stats *best,
                     eng_stats *dram)
{
    map_op_io io = packed_io(op);
    char err[512];
    map_op_result mb, md;
    ck_assert_msg(map_transform(a, d, op, &io, false, &mb, err, sizeof err) == UTIL_OK, "%s", err);
    ck_assert_msg(map_transform_with(a, d, op, &io, false, MAP_SCRATCH_DRAM, 0, &md, err,
                                     sizeof err) == UTIL_OK,
                  "%s", err);
    ck_assert(md.program.onchip_elems == 0 && !strstr(md.desc, "multilayer"));
    bool multi = strstr(mb.desc, "multilayer") != NULL;
    ck_assert(multi == (mb.program.onchip_elems > 0));
    ck_assert(mb.program.onchip_first + mb.program.onchip_elems <= mb.dram_end);
    ck_assert_msg(eng_run(a, &mb.program, NULL, best, err, sizeof err) == UTIL_OK, "%s", err);
    ck_assert_msg(eng_run(a, &md.program, NULL, dram, err, sizeof err) == UTIL_OK, "%s", err);
    /* the same work either way */
    ck_assert_uint_eq(best->lane_ops, dram->lane_ops);
    map_transform_free(&mb);
    map_transform_free(&md);
    return multi;
}

/* Two passes whose intermediates fit on chip: the butterfly of hidden 1024 (256 tokens)
 * and fft-compress at 1K tokens on mld-8x8 choose multilayer, which is faster in the
 * engine and moves fewer DRAM bytes. (Fourier mixing at 1K does not: its sequence FFTs
 * over 1K-token lines leave room for small blocks only, and the estimate rightly keeps
 * DRAM.) */
START_TEST(test_multilayer_chosen)
{
    static const fcase fast[] = {
        {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "q-proj", 256, 1024, 4096, 1, 1, 64},
        {WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 1024, 768, 3072, 1, 1, 64},
    };
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    for (size_t i = 0; i < sizeof fast / sizeof fast[0]; i++) {
        wl_desc d;
        wl_op op = case_op(&fast[i], UTIL_FP16, &d);
        eng_stats sb, sd;
        ck_assert_msg(run_both(&a, &d, &op, &sb, &sd), "case %zu not multilayer", i);
        ck_assert_msg(sb.cycles < sd.cycles, "case %zu: multilayer %llu cycles, DRAM %llu", i,
                      (unsigned long long)sb.cycles, (unsigned long long)sd.cycles);
        ck_assert_msg(sb.dram.read_bytes + sb.dram.write_bytes <
                          sd.dram.read_bytes + sd.dram.write_bytes,
                      "case %zu: multilayer moves no fewer DRAM bytes", i);
        eng_stats_free(&sb);
        eng_stats_free(&sd);
    }
}
END_TEST

/* The choice is never slower in the engine than intermediates in DRAM: every transform
 * kind on two arrays, and FABNet's ffn2 at 4K on mld-8x8 (3072 -> 768), where the bare
 * estimate finds multilayer 8.5% faster and the engine 12% slower. */
START_TEST(test_multilayer_never_slower)
{
    static const char *const arches[] = {"arch/mld-4x4.cfg", "arch/mld-8x8.cfg"};
    static const fcase ops[] = {
        {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "ffn1", 1024, 768, 3072, 1, 1, 64},
        {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "ffn2", 1024, 768, 3072, 1, 1, 64},
        {WL_MIX_ATTENTION, WL_LIN_BLOCK_BUTTERFLY, "q-proj", 1024, 768, 3072, 1, 8, 64},
        {WL_MIX_BUTTERFLY, WL_LIN_NONE, "mix", 1024, 768, 3072, 1, 1, 64},
        {WL_MIX_FFT, WL_LIN_NONE, "mix", 1024, 768, 3072, 1, 1, 64},
        {WL_MIX_FFT_COMPRESS, WL_LIN_NONE, "mix", 1024, 768, 3072, 1, 1, 64},
    };
    uint32_t multi = 0;
    for (size_t ai = 0; ai < 2; ai++) {
        arch_desc a;
        tu_load_arch(arches[ai], &a);
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            wl_desc d;
            wl_op op = case_op(&ops[i], UTIL_FP16, &d);
            eng_stats sb, sd;
            multi += run_both(&a, &d, &op, &sb, &sd);
            ck_assert_msg(sb.cycles <= sd.cycles, "%s case %zu (%s): chosen %llu > DRAM %llu",
                          arches[ai], i, op.name, (unsigned long long)sb.cycles,
                          (unsigned long long)sd.cycles);
            eng_stats_free(&sb);
            eng_stats_free(&sd);
        }
    }
    ck_assert(multi > 0);
    arch_desc a;
    tu_load_arch("arch/mld-8x8.cfg", &a);
    fcase c = {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "ffn2", 4096, 768, 3072, 1, 1, 64};
    wl_desc d;
    wl_op op = case_op(&c, UTIL_FP16, &d);
    eng_stats sb, sd;
    run_both(&a, &d, &op, &sb, &sd);
    ck_assert_msg(sb.cycles <= sd.cycles, "ffn2 4K: chosen %llu > DRAM %llu",
                  (unsigned long long)sb.cycles, (unsigned long long)sd.cycles);
    eng_stats_free(&sb);
    eng_stats_free(&sd);
}
END_TEST

/* An op that cannot fit says so instead of mapping something wrong: a PE buffer below
 * the smallest tag, and a padded sequence whose parts would need two-level DMA patterns. */
START_TEST(test_too_large)
{
    arch_desc a;
    tu_load_arch("tests/data/tiny-1x2.cfg", &a);
    a.pe.buffer_bytes = 8;
    wl_desc d;
    fcase c = {WL_MIX_ATTENTION, WL_LIN_BUTTERFLY, "q-proj", 4, 768, 16, 1, 1, 4};
    wl_op op = case_op(&c, UTIL_FP16, &d);
    map_op_io io = {
        {0, 4, 768, 768}, {0, 4, 768, 768}, {4 * 768, 4, 768, 768}, 8 * 768, NULL, false, NULL};
    map_op_result m;
    char err[512] = "";
    ck_assert_int_eq(map_transform(&a, &d, &op, &io, false, &m, err, sizeof err), UTIL_ERUN);
    ck_assert(strstr(err, "cannot map") != NULL);
    scase sc = {{WL_MIX_BUTTERFLY, WL_LIN_NONE, "mix", 60, 6, 16, 2, 1, 4}, WL_OP_SEQ_BFLY, 75};
    split_arch(&sc, UTIL_FP32, &a);
    op = case_op(&sc.c, UTIL_FP32, &d);
    io = (map_op_io){{0, 120, 6, 6}, {0, 120, 6, 6}, {720, 120, 6, 6}, 1440, NULL, false, NULL};
    err[0] = 0;
    ck_assert_int_eq(map_transform(&a, &d, &op, &io, true, &m, err, sizeof err), UTIL_ERUN);
    ck_assert(strstr(err, "cannot map seq-butterfly") != NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("transform");
    TCase *tc = tcase_create("transform");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_functional_tiny_fp16);
    tcase_add_test(tc, test_functional_4x4);
    tcase_add_test(tc, test_functional_8x8);
    tcase_add_test(tc, test_planted_error);
    tcase_add_test(tc, test_functional_split);
    tcase_add_test(tc, test_planted_error_split);
    tcase_add_test(tc, test_resident_chunks);
    tcase_add_test(tc, test_timing_bounds);
    tcase_add_test(tc, test_timing_long);
    tcase_add_test(tc, test_timing_deterministic);
    tcase_add_test(tc, test_functional_multilayer);
    tcase_add_test(tc, test_multilayer_chosen);
    tcase_add_test(tc, test_multilayer_never_slower);
    tcase_add_test(tc, test_too_large);
    suite_add_tcase(s, tc);
    return tu_main(s);
}

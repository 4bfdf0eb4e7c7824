/* energy.c: prices the engine's action counts with the arch's energy table (docs/ENERGY.md). */
#include "energy.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *en_part_name(en_part p)
{
    static const char *const names[] = {"compute", "PE buffers", "SPM",     "NoC",      "DMA",
                                        "DRAM",    "leakage",    "control", "pipeline", "clock"};
    return p < EN_PART_COUNT ? names[p] : "?";
}

static void add(en_result *r, const char *name, en_part part, double count, const char *unit,
                double price, const char *price_unit)
{
    if (r->n >= EN_MAX_ACTIONS)
        return;
    en_action *x = &r->act[r->n++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->unit = unit, x->price_unit = price_unit;
    x->part = part, x->count = count, x->price = price, x->pj = count * price;
    r->part_pj[part] += x->pj;
    r->total_pj += x->pj;
}

/* An SRAM access of `bytes` bytes to a memory of `size` bytes: the 64-bit, 32 KiB price
 * scaled with the access width and the square root of the size (Horowitz's 8 KB, 32 KB
 * and 1 MB figures lie on that curve within 15%). */
static double sram_pj(double price_64b_32k, double bytes, double size)
{
    return price_64b_32k * (bytes / 8.0) * sqrt(size / 32768.0);
}

/* The leakage terms: each one's power (mW) while the arch is on, busy or idle. */
enum { LEAK_COUNT = 4 };
static const char *const leak_names[LEAK_COUNT] = {"pe_leakage", "spm_leakage", "router_leakage",
                                                   "dram_leakage"};

static void leak_mw(const arch_desc *a, double mw[LEAK_COUNT])
{
    const arch_energy *e = &a->energy;
    uint32_t P = arch_pe_count(a);
    mw[0] = P * e->pe_leak_mw;
    mw[1] = (double)arch_spm_bytes(a) / 1024.0 * e->spm_leak_mw_per_kb;
    mw[2] = P * e->router_leak_mw;
    mw[3] = e->dram_leak_mw;
}

double en_leakage_mw(const arch_desc *a)
{
    double mw[LEAK_COUNT], sum = 0;
    leak_mw(a, mw);
    for (int k = 0; k < LEAK_COUNT; k++)
        sum += mw[k];
    return sum;
}

/* ASSUMPTION: an instruction-store entry is 64 bits */
double en_instruction_pj(const arch_desc *a)
{
    return sram_pj(a->energy.sram_read_pj, 8, 8.0 * a->pe.istore) + a->energy.decode_pj;
}

/* Each lane of a vector operation latches its two operands and its result at every
 * stage of its unit. */
double en_pipeline_bits(const arch_desc *a, util_dtype t, const eng_stats *st)
{
    double bits = 0, per = 3.0 * 8 * util_dtype_bytes(t) * arch_lanes(a, t);
    for (uint32_t u = 0; u < ARCH_FU_COUNT; u++)
        bits += (double)st->pe_total.fu_vec_ops[u] * per * a->pe.fu[u].latency;
    return bits;
}

void en_compute(const arch_desc *a, util_dtype t, const eng_stats *st, uint64_t ops, en_result *out)
{
    const arch_energy *e = &a->energy;
    memset(out, 0, sizeof *out);
    int fp32 = t == UTIL_FP32;
    uint32_t lanes = arch_lanes(a, t), w = util_dtype_bytes(t);
    /* every lane of a vector operation switches, used or not */
    for (uint32_t u = 0; u < ARCH_FU_COUNT; u++) {
        char name[24];
        snprintf(name, sizeof name, "%s_%s", arch_fu_name((arch_fu_kind)u), util_dtype_name(t));
        add(out, name, EN_COMPUTE, (double)st->pe_total.fu_vec_ops[u] * lanes, "lane ops",
            e->lane_pj[u][fp32], "pJ");
    }
    double buf_rd = sram_pj(e->sram_read_pj, w, a->pe.buffer_bytes);
    double buf_wr = sram_pj(e->sram_write_pj, w, a->pe.buffer_bytes);
    add(out, "buffer_read", EN_BUFFER, (double)st->pe_total.buf_reads, "elements", buf_rd, "pJ");
    add(out, "buffer_write", EN_BUFFER,
        (double)(st->pe_total.buf_writes + st->pe_total.weight_elems), "elements", buf_wr, "pJ");
    add(out, "spm_read", EN_SPM, (double)st->spm.reads, "accesses",
        sram_pj(e->sram_read_pj, a->spm.width_bytes, a->spm.bank_bytes), "pJ");
    add(out, "spm_write", EN_SPM, (double)st->spm.writes, "accesses",
        sram_pj(e->sram_write_pj, a->spm.width_bytes, a->spm.bank_bytes), "pJ");
    add(out, "router", EN_NOC, (double)st->noc.router_traversals * a->noc.link_bits, "bits",
        e->router_pj_per_bit, "pJ");
    add(out, "link", EN_NOC, (double)st->noc.flit_hops * a->noc.link_bits, "bits",
        e->link_pj_per_bit, "pJ");
    add(out, "dma", EN_DMA, (double)st->dma.bytes, "bytes", e->dma_pj_per_byte, "pJ");
    add(out, "dram", EN_DRAM, 8.0 * (double)(st->dram.read_bytes + st->dram.write_bytes), "bits",
        e->dram_pj_per_bit, "pJ");
    add(out, "instruction", EN_CONTROL, (double)st->pe_total.fires, "firings", en_instruction_pj(a),
        "pJ");
    add(out, "pipeline", EN_PIPELINE, en_pipeline_bits(a, t, st), "bits", e->pipeline_pj_per_bit,
        "pJ");
    add(out, "clock", EN_CLOCK, (double)arch_pe_count(a) * (double)st->cycles, "PE cycles",
        e->clock_pj_per_pe_cycle, "pJ");
    out->dynamic_pj = out->total_pj;
    double ns = (double)st->cycles / a->clock_ghz, mw[LEAK_COUNT];
    leak_mw(a, mw);
    for (int k = 0; k < LEAK_COUNT; k++)
        add(out, leak_names[k], EN_LEAKAGE, ns, "ns", mw[k], "mW");
    out->seconds = ns * 1e-9;
    double joules = out->total_pj * 1e-12;
    out->watts = out->seconds > 0 ? joules / out->seconds : 0;
    out->gops_per_w = joules > 0 ? (double)ops / joules * 1e-9 : 0;
    out->edp_js = joules * out->seconds;
}

/* ------------------------------------------------------------- Accelergy's view */

/* e's price of the action named name; 0 when it has none. */
static double price_of(const en_result *e, const char *name)
{
    for (uint32_t i = 0; i < e->n; i++)
        if (strcmp(e->act[i].name, name) == 0)
            return e->act[i].price;
    return 0;
}

typedef struct ac_list {
    en_ac_row *rows;
    uint32_t n;
} ac_list;

static void row(ac_list *l, const char *component, const char *action, uint64_t count, double pj)
{
    if (l->n >= EN_MAX_AC_ROWS)
        return;
    en_ac_row *r = &l->rows[l->n++];
    snprintf(r->component, sizeof r->component, "%s", component);
    r->action = action, r->count = count, r->pj = pj;
}

/* Bytes as whole actions of per bytes. The engine moves whole DRAM bursts and whole DMA
 * elements, so this is exact there; the analytical estimate's bytes are rounded. */
static uint64_t whole(uint64_t bytes, uint64_t per)
{
    return (bytes + per / 2) / per;
}

uint32_t en_accelergy(const arch_desc *a, util_dtype t, const eng_stats *st, const en_result *e,
                      en_ac_row rows[EN_MAX_AC_ROWS])
{
    ac_list l = {rows, 0};
    uint32_t P = arch_pe_count(a), lanes = arch_lanes(a, t), w = util_dtype_bytes(t);
    uint32_t banks = a->spm.banks, burst = a->dram.burst_bytes, bits = a->noc.link_bits;
    uint64_t cyc = st->cycles;
    double ns = 1.0 / a->clock_ghz; /* per cycle; leakage is mW, and mW x ns = pJ */
    char pe[48], name[96];
    snprintf(pe, sizeof pe, "system.chip.pe_array.pe[0..%u]", P - 1);
    /* a function unit is `lanes` one-lane units: one action is one lane's operation */
    for (uint32_t u = 0; u < ARCH_FU_COUNT; u++) {
        const char *fu = arch_fu_name((arch_fu_kind)u);
        char op[24];
        snprintf(name, sizeof name, "%s.%s[0..%u]", pe, fu, lanes - 1);
        snprintf(op, sizeof op, "%s_%s", fu, util_dtype_name(t));
        row(&l, name, fu, st->pe_total.fu_vec_ops[u] * lanes, price_of(e, op));
    }
    /* the operand buffer is as wide as one element */
    snprintf(name, sizeof name, "%s.buffer", pe);
    row(&l, name, "read", st->pe_total.buf_reads, price_of(e, "buffer_read"));
    row(&l, name, "write", st->pe_total.buf_writes + st->pe_total.weight_elems,
        price_of(e, "buffer_write"));
    /* the table's leakage is per PE, not per part: a leaf of its own carries it */
    snprintf(name, sizeof name, "%s.core", pe);
    row(&l, name, "leak", P * cyc, price_of(e, "pe_leakage") / P * ns);
    snprintf(name, sizeof name, "%s.control", pe);
    row(&l, name, "issue", st->pe_total.fires, price_of(e, "instruction"));
    snprintf(name, sizeof name, "%s.pipeline", pe);
    row(&l, name, "latch", (uint64_t)llround(en_pipeline_bits(a, t, st)), price_of(e, "pipeline"));
    snprintf(name, sizeof name, "%s.clock", pe);
    row(&l, name, "cycle", P * cyc, price_of(e, "clock"));
    snprintf(name, sizeof name, "system.chip.spm.bank[0..%u]", banks - 1);
    row(&l, name, "read", st->spm.reads, price_of(e, "spm_read"));
    row(&l, name, "write", st->spm.writes, price_of(e, "spm_write"));
    row(&l, name, "leak", banks * cyc, price_of(e, "spm_leakage") / banks * ns);
    /* a transfer is one flit through one router, or over one hop */
    snprintf(name, sizeof name, "system.chip.noc.router[0..%u]", P - 1);
    row(&l, name, "transfer", st->noc.router_traversals, price_of(e, "router") * bits);
    row(&l, name, "leak", P * cyc, price_of(e, "router_leakage") / P * ns);
    row(&l, "system.chip.noc.link", "transfer", st->noc.flit_hops, price_of(e, "link") * bits);
    row(&l, "system.chip.dma", "transfer", whole(st->dma.bytes, w), price_of(e, "dma") * w);
    double per_burst = price_of(e, "dram") * 8.0 * burst;
    row(&l, "system.dram", "read", whole(st->dram.read_bytes, burst), per_burst);
    row(&l, "system.dram", "write", whole(st->dram.write_bytes, burst), per_burst);
    row(&l, "system.dram", "leak", cyc, price_of(e, "dram_leakage") * ns);
    return l.n;
}

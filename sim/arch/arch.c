/* arch.c: derived quantities of a hardware description. */
#include "arch.h"

#include <math.h>

const char *arch_fu_name(arch_fu_kind k)
{
    static const char *const names[ARCH_FU_COUNT] = {"mac", "add", "mul", "max", "exp", "rcp"};
    return (unsigned)k < ARCH_FU_COUNT ? names[k] : "?";
}

uint32_t arch_pe_count(const arch_desc *a)
{
    return a->array.rows * a->array.cols;
}

uint32_t arch_lanes(const arch_desc *a, util_dtype t)
{
    uint32_t l = t == UTIL_FP32 ? a->pe.lanes / 2 : a->pe.lanes;
    return l ? l : 1;
}

uint32_t arch_link_bytes(const arch_desc *a)
{
    return a->noc.link_bits / 8;
}

uint32_t arch_bisection_links(const arch_desc *a)
{
    uint32_t h = a->array.cols / 2, per_row = 0;
    if (h == 0)
        return 0;
    /* a link of stride s from column c crosses when c < h <= c + s (and c + s < cols) */
    uint32_t strides[ARCH_MAX_SKIP + 1] = {1};
    for (uint32_t k = 0; k < a->noc.n_skip; k++)
        strides[k + 1] = a->noc.skip[k];
    for (uint32_t k = 0; k <= a->noc.n_skip; k++)
        for (uint32_t c = 0; c < h; c++)
            per_row += c + strides[k] >= h && c + strides[k] < a->array.cols;
    return per_row * a->array.rows;
}

bool arch_crosses_bisection(const arch_desc *a, uint32_t col0, uint32_t col1)
{
    uint32_t h = a->array.cols / 2, lo = col0 < col1 ? col0 : col1, hi = col0 ^ col1 ^ lo;
    return h > 0 && lo < h && hi >= h;
}

uint64_t arch_spm_bytes(const arch_desc *a)
{
    return (uint64_t)a->spm.banks * a->spm.bank_bytes;
}

double arch_dram_bytes_per_cycle(const arch_desc *a)
{
    return a->dram.bandwidth_gbs / a->clock_ghz;
}

uint64_t arch_dram_latency_cycles(const arch_desc *a)
{
    return (uint64_t)ceil(a->dram.latency_ns * a->clock_ghz - 1e-9);
}

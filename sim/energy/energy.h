/* energy.h: a run's energy: the engine's action counts times the arch's prices, plus leakage. */
#ifndef BFLY_ENERGY_H
#define BFLY_ENERGY_H

#include "../arch/arch.h"
#include "../engine/engine.h"
#include "../util/util.h"

/* The breakdown the reports give. */
typedef enum {
    EN_COMPUTE = 0, /* function-unit lane operations */
    EN_BUFFER,      /* PE operand-buffer (and weight) accesses */
    EN_SPM,
    EN_NOC,
    EN_DMA,
    EN_DRAM,
    EN_LEAKAGE,
    EN_CONTROL,  /* instruction-store reads and issue of each firing */
    EN_PIPELINE, /* the function units' pipeline registers */
    EN_CLOCK,    /* the clock tree */
    EN_PART_COUNT
} en_part;
const char *en_part_name(en_part p);

/* One priced action: count x price = pj. Leakage terms count nanoseconds of run time at
 * a price in mW (1 mW for 1 ns is 1 pJ). */
typedef struct en_action {
    char name[24];    /* "mac_fp16", "spm_read", "pe_leakage" ... */
    const char *unit; /* what count counts: "lane ops", "elements", "accesses", "bits" ... */
    const char *price_unit;
    en_part part;
    double count, price, pj;
} en_action;

#define EN_MAX_ACTIONS 32
typedef struct en_result {
    uint32_t n;
    en_action act[EN_MAX_ACTIONS];
    double part_pj[EN_PART_COUNT];
    double total_pj, dynamic_pj;
    double seconds;    /* run time at the arch's clock */
    double watts;      /* average power */
    double gops_per_w; /* ops (flops) per joule, in G */
    double edp_js;     /* energy x delay */
} en_result;

/* Prices the statistics st of a run in data type t (st->cycles at a->clock_ghz) doing ops
 * operations; a must carry an energy table (a->energy.present). */
void en_compute(const arch_desc *a, util_dtype t, const eng_stats *st, uint64_t ops,
                en_result *out);

/* The price of one firing (its instruction-store read and its issue), and the bits a
 * run's vector operations latch in pipeline registers (docs/ENERGY.md, "Overheads"). */
double en_instruction_pj(const arch_desc *a);
double en_pipeline_bits(const arch_desc *a, util_dtype t, const eng_stats *st);

/* The arch's leakage power (mW): what it draws while on, working or waiting (the sum of
 * en_compute's leakage prices). */
double en_leakage_mw(const arch_desc *a);

/* One row of the Accelergy export (docs/ENERGY.md): count actions of one component class,
 * each at pj. A name with a range ("pe[0..3]") stands for all its instances: the count is
 * theirs together, the energy one instance's. */
typedef struct en_ac_row {
    char component[96]; /* "system.chip.pe_array.pe[0..15].buffer" */
    const char *action; /* "read", "write", "leak", "transfer" or a unit's operation */
    uint64_t count;
    double pj;
} en_ac_row;

#define EN_MAX_AC_ROWS 32
/* Re-expresses e, the pricing of st in data type t, as whole actions of Accelergy
 * component classes, so that the sum of count x pj is e's total; returns the rows. */
uint32_t en_accelergy(const arch_desc *a, util_dtype t, const eng_stats *st, const en_result *e,
                      en_ac_row rows[EN_MAX_AC_ROWS]);

#endif

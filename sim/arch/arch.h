/* arch.h: plain description of the simulated hardware, filled by config and read by the models. */
#ifndef BFLY_ARCH_H
#define BFLY_ARCH_H

#include <stdint.h>

#include "../util/util.h"

/* Function units of a PE. Each runs SIMD vector operations with its own latency and
 * width (lanes per cycle); a unit narrower than the SIMD width needs several cycles
 * per vector operation. */
typedef enum {
    ARCH_FU_MAC = 0,
    ARCH_FU_ADD,
    ARCH_FU_MUL,
    ARCH_FU_MAX,
    ARCH_FU_EXP,
    ARCH_FU_RCP,
    ARCH_FU_COUNT
} arch_fu_kind;

const char *arch_fu_name(arch_fu_kind k);

typedef struct arch_fu {
    uint32_t latency;         /* cycles from issue to result */
    uint32_t lanes_per_cycle; /* FP16 lanes accepted per cycle (<= pe.lanes) */
} arch_fu;

#define ARCH_NAME_MAX 64
#define ARCH_MAX_SKIP 8
#define ARCH_PATH_MAX 512

/* Energy per action and leakage (arch/energy/NODE.cfg, named by the arch file's
 * energy.table; any value overridable). SRAM accesses scale with the square root of the
 * memory's size and linearly with the access width (docs/ENERGY.md). */
typedef struct arch_energy {
    bool present;                              /* the arch names an energy table */
    char table[ARCH_PATH_MAX];                 /* that table, as the arch file names it */
    uint32_t table_nm;                         /* the node the table says it prices (0: none) */
    double lane_pj[ARCH_FU_COUNT][2];          /* one lane operation of each unit: FP16, FP32 */
    double sram_read_pj, sram_write_pj;        /* 64 bits of a 32 KiB SRAM */
    double router_pj_per_bit, link_pj_per_bit; /* per bit: a router traversed, a hop */
    double dma_pj_per_byte, dram_pj_per_bit;
    double pe_leak_mw, spm_leak_mw_per_kb, router_leak_mw, dram_leak_mw;
    /* what a datapath-and-memory model leaves out (docs/ENERGY.md, "Overheads"): issuing a
     * firing beyond its instruction-store read, a pipeline register's bit, and the clock
     * tree of one PE for one cycle */
    double decode_pj, pipeline_pj_per_bit, clock_pj_per_pe_cycle;
} arch_energy;

/* Silicon area at the arch's node (the same table file as the energy, its area group;
 * docs/AREA.md), in square micrometres: a function unit per FP16 lane, SRAM per KiB, a
 * router per link bit and port, and fixed blocks. */
typedef struct arch_area {
    bool present;
    double fu_um2[ARCH_FU_COUNT]; /* one FP16 lane of each unit */
    double sram_um2_per_kb;       /* SRAM macros, periphery included */
    double router_um2_per_port_bit;
    double pe_control_um2; /* a PE's issue, tag matching and decode, beside its store */
    double dma_um2, controller_um2;
} arch_area;

/* A design's area by component (mm2), from arch_area. */
typedef enum {
    ARCH_AREA_DATAPATH = 0, /* the PEs' function units */
    ARCH_AREA_PE_BUFFERS,
    ARCH_AREA_PE_CONTROL, /* instruction stores and issue logic */
    ARCH_AREA_SPM,
    ARCH_AREA_NOC,
    ARCH_AREA_DMA_CONTROL, /* the DMA engine and the controller */
    ARCH_AREA_PART_COUNT
} arch_area_part;

typedef struct arch_desc {
    char name[ARCH_NAME_MAX];
    double clock_ghz;
    uint32_t tech_nm;
    struct {
        uint32_t rows, cols;
    } array;
    struct {
        uint32_t lanes;         /* SIMD lanes at FP16; FP32 uses half as many */
        uint32_t buffer_bytes;  /* PE local memory: operand slots and weights */
        uint32_t tags;          /* tag contexts (operand slots) per instruction */
        uint32_t out_slots;     /* finished results waiting to enter the NoC */
        uint32_t istore;        /* instruction store entries */
        uint32_t config_cycles; /* cycles to load one instruction-store entry */
        uint32_t dtypes;        /* bit mask of supported util_dtype values */
        arch_fu fu[ARCH_FU_COUNT];
    } pe;
    struct {
        uint32_t link_bits;   /* bits per cycle per link and direction */
        uint32_t hop_latency; /* cycles per router hop (mesh or skip link) */
        uint32_t n_skip;
        uint32_t skip[ARCH_MAX_SKIP]; /* express-link strides, in hops, both dimensions */
    } noc;
    struct {
        uint32_t banks;
        uint32_t bank_bytes;
        uint32_t width_bytes; /* bytes per bank access */
        uint32_t ports;       /* accesses per bank per cycle */
    } spm;
    struct {
        uint32_t channels; /* descriptors processed concurrently */
    } dma;
    struct {
        uint32_t channels;
        double bandwidth_gbs; /* all channels together, GB/s (1e9 bytes) */
        double latency_ns;
        uint32_t burst_bytes;
    } dram;
    arch_energy energy;
    arch_area area;
} arch_desc;

uint32_t arch_pe_count(const arch_desc *a);
const char *arch_area_part_name(arch_area_part p);
/* area.c: fills parts (mm2) and returns their sum; 0 when the arch has no area figures. */
double arch_area_mm2(const arch_desc *a, double parts[ARCH_AREA_PART_COUNT]);
/* SIMD lanes for a data type (FP32 pairs two FP16 lanes). */
uint32_t arch_lanes(const arch_desc *a, util_dtype t);
uint32_t arch_link_bytes(const arch_desc *a);
/* The bisection cuts the array between columns cols/2 - 1 and cols/2. Links that cross
 * it in one direction (mesh links and skip links, all rows); 0 for a one-column array. */
uint32_t arch_bisection_links(const arch_desc *a);
bool arch_crosses_bisection(const arch_desc *a, uint32_t col0, uint32_t col1);
uint64_t arch_spm_bytes(const arch_desc *a);
/* DRAM bytes per clock cycle, all channels together. */
double arch_dram_bytes_per_cycle(const arch_desc *a);
uint64_t arch_dram_latency_cycles(const arch_desc *a);

#endif

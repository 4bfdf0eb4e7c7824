/* schema.c: every key of every config file kind: type, range, default, unit and meaning
 * (the single source of validation, defaults and --list-keys). */
#include <stddef.h>

#include "../gpu/gpu.h"
#include "../mapper/mapper.h"
#include "../peer/peer.h"
#include "../system/system.h"
#include "config.h"
#include "internal.h"

static const char *const dtype_names[] = {"fp16", "fp32", NULL};
static const char *const kind_names[] = {"butterfly-linear", "model", "gemm", NULL};
static const char *const mixer_names[] = {"attention", "butterfly", "fft", "fft-compress", NULL};
static const char *const linear_names[] = {"dense", "butterfly", "block-butterfly", "none", NULL};
static const char *const ffn_names[] = {"dense", "butterfly", "block-butterfly", NULL};
static const char *const mask_names[] = {"none", "causal", NULL};
static const char *const init_names[] = {"random", "identity", NULL};
static const char *const inter_names[] = {"any", "dram", "spm", NULL}; /* map_inter order */
static const char *const weights_names[] = {"any", "kept", "reloaded", "resident",
                                            NULL};                 /* map_weights */
static const char *const chaining_names[] = {"auto", "off", NULL}; /* map_chaining order */
static const char *const fusing_names[] = {"auto", "off", NULL};   /* map_fusing order */

#define AOFF(field) offsetof(arch_desc, field)
#define U32(nm, fl, field, lo, hi, dflt, unit, doc)                                                \
    {                                                                                              \
        nm, K_U32, fl, AOFF(field), 0, 0, lo, hi, 0, NULL, NULL, dflt, unit, doc                   \
    }

#define FU_KEYS(kind)                                                                              \
    static const key_def fu_##kind##_keys[] = {                                                    \
        U32("latency", F_REQ, pe.fu[ARCH_FU_##kind].latency, 1, 1000, NULL, "cycles",              \
            "cycles from issue to result"),                                                        \
        U32("lanes_per_cycle", F_REQ, pe.fu[ARCH_FU_##kind].lanes_per_cycle, 1, 256, NULL,         \
            "lanes", "FP16 lanes accepted per cycle (at most pe.lanes)"),                          \
        END_KEYS}
FU_KEYS(MAC);
FU_KEYS(ADD);
FU_KEYS(MUL);
FU_KEYS(MAX);
FU_KEYS(EXP);
FU_KEYS(RCP);

#define GROUP(nm, fl, kids, doc)                                                                   \
    {                                                                                              \
        nm, K_GROUP, fl, 0, 0, 0, 0, 0, 0, NULL, kids, NULL, NULL, doc                             \
    }

static const key_def fu_keys[] = {GROUP("mac", F_REQ, fu_MAC_keys, "multiply-accumulate unit"),
                                  GROUP("add", F_REQ, fu_ADD_keys, "adder"),
                                  GROUP("mul", F_REQ, fu_MUL_keys, "multiplier"),
                                  GROUP("max", F_REQ, fu_MAX_keys, "comparator (max)"),
                                  GROUP("exp", F_REQ, fu_EXP_keys, "exponential unit"),
                                  GROUP("rcp", F_REQ, fu_RCP_keys, "reciprocal unit"),
                                  END_KEYS};

static const key_def array_keys[] = {
    U32("rows", F_REQ, array.rows, 1, 64, NULL, "PEs", "PE rows of the mesh"),
    U32("cols", F_REQ, array.cols, 1, 64, NULL, "PEs", "PE columns of the mesh (the PE layers)"),
    END_KEYS};

static const key_def pe_keys[] = {
    U32("lanes", F_REQ | F_POW2, pe.lanes, 1, 256, NULL, "lanes", "SIMD lanes at FP16"),
    {"buffer_kb", K_U32, F_REQ, AOFF(pe.buffer_bytes), 0, 0, 1, 65536, 1024, NULL, NULL, NULL,
     "KiB", "PE local memory for operand slots and weights"},
    U32("tags", F_REQ, pe.tags, 1, 64, NULL, "tags",
        "tag contexts (operand slots) per instruction"),
    U32("out_slots", 0, pe.out_slots, 1, 64, "2", "results",
        "finished results that may wait for the NoC"),
    U32("istore", F_REQ, pe.istore, 1, 4096, NULL, "entries", "instruction store entries"),
    U32("config_cycles", 0, pe.config_cycles, 0, 1000, "1", "cycles",
        "cycles to load one instruction-store entry"),
    {"dtypes", K_ENUM_MASK, 0, AOFF(pe.dtypes), 0, 0, 0, 0, 0, dtype_names, NULL, "[\"fp16\"]",
     NULL, "data types the datapath supports"},
    GROUP("fu", F_REQ, fu_keys, "function units"),
    END_KEYS};

static const key_def noc_keys[] = {
    U32("link_bits", F_REQ, noc.link_bits, 8, 4096, NULL, "bits",
        "link width per cycle and direction (a multiple of 8)"),
    U32("hop_latency", F_REQ, noc.hop_latency, 1, 100, NULL, "cycles", "cycles per router hop"),
    {"skip", K_U32_LIST, 0, AOFF(noc.skip), ARCH_MAX_SKIP, AOFF(noc.n_skip), 2, 63, 0, NULL, NULL,
     "[]", "hops", "express-link strides in both dimensions, e.g. [2, 4]"},
    END_KEYS};

static const key_def spm_keys[] = {
    U32("banks", F_REQ, spm.banks, 1, 1024, NULL, "banks", "scratchpad banks"),
    {"bank_kb", K_U32, F_REQ, AOFF(spm.bank_bytes), 0, 0, 1, 65536, 1024, NULL, NULL, NULL, "KiB",
     "capacity of one bank"},
    U32("width_bytes", F_REQ | F_POW2, spm.width_bytes, 1, 1024, NULL, "bytes",
        "bytes per bank access"),
    U32("ports", 0, spm.ports, 1, 8, "1", "accesses", "accesses per bank per cycle"),
    END_KEYS};

static const key_def dma_keys[] = {
    U32("channels", F_REQ, dma.channels, 1, 64, NULL, "channels", "DMA descriptors in flight"),
    END_KEYS};

static const key_def dram_keys[] = {
    U32("channels", F_REQ, dram.channels, 1, 64, NULL, "channels", "independent DRAM channels"),
    {"bandwidth_gbs", K_F64, F_REQ, AOFF(dram.bandwidth_gbs), 0, 0, 0.01, 1e5, 0, NULL, NULL, NULL,
     "GB/s", "peak bandwidth of all channels together"},
    {"latency_ns", K_F64, F_REQ, AOFF(dram.latency_ns), 0, 0, 0, 1e6, 0, NULL, NULL, NULL, "ns",
     "access latency"},
    U32("burst_bytes", F_REQ | F_POW2, dram.burst_bytes, 1, 4096, NULL, "bytes",
        "bytes per burst (the access granularity)"),
    END_KEYS};

/* Energy prices: every key of a table file (required there) may be overridden in the arch
 * file's energy group or with --set (optional there, no default: the table's stands). */
#define ENERGY_KEYS(req)                                                                           \
    {ENERGY_F64("mac_fp16_pj", req, lane_pj[ARCH_FU_MAC][0], "pJ", "an FP16 multiply-add lane")},  \
        {ENERGY_F64("add_fp16_pj", req, lane_pj[ARCH_FU_ADD][0], "pJ", "an FP16 add lane")},       \
        {ENERGY_F64("mul_fp16_pj", req, lane_pj[ARCH_FU_MUL][0], "pJ", "an FP16 multiply lane")},  \
        {ENERGY_F64("max_fp16_pj", req, lane_pj[ARCH_FU_MAX][0], "pJ", "an FP16 compare lane")},   \
        {ENERGY_F64("exp_fp16_pj", req, lane_pj[ARCH_FU_EXP][0], "pJ", "an FP16 exp lane")},       \
        {ENERGY_F64("rcp_fp16_pj", req, lane_pj[ARCH_FU_RCP][0], "pJ",                             \
                    "an FP16 reciprocal lane")},                                                   \
        {ENERGY_F64("mac_fp32_pj", req, lane_pj[ARCH_FU_MAC][1], "pJ",                             \
                    "an FP32 multiply-add lane")},                                                 \
        {ENERGY_F64("add_fp32_pj", req, lane_pj[ARCH_FU_ADD][1], "pJ", "an FP32 add lane")},       \
        {ENERGY_F64("mul_fp32_pj", req, lane_pj[ARCH_FU_MUL][1], "pJ", "an FP32 multiply lane")},  \
        {ENERGY_F64("max_fp32_pj", req, lane_pj[ARCH_FU_MAX][1], "pJ", "an FP32 compare lane")},   \
        {ENERGY_F64("exp_fp32_pj", req, lane_pj[ARCH_FU_EXP][1], "pJ", "an FP32 exp lane")},       \
        {ENERGY_F64("rcp_fp32_pj", req, lane_pj[ARCH_FU_RCP][1], "pJ",                             \
                    "an FP32 reciprocal lane")},                                                   \
        {ENERGY_F64("sram_read_pj", req, sram_read_pj, "pJ",                                       \
                    "reading 64 bits of a 32 KiB SRAM (scaled by sqrt(size) and width)")},         \
        {ENERGY_F64("sram_write_pj", req, sram_write_pj, "pJ",                                     \
                    "writing 64 bits of a 32 KiB SRAM")},                                          \
        {ENERGY_F64("router_pj_per_bit", req, router_pj_per_bit, "pJ",                             \
                    "a bit through one router (buffer, crossbar)")},                               \
        {ENERGY_F64("link_pj_per_bit", req, link_pj_per_bit, "pJ", "a bit over one link hop")},    \
        {ENERGY_F64("dma_pj_per_byte", req, dma_pj_per_byte, "pJ",                                 \
                    "a byte moved by the DMA engine")},                                            \
        {ENERGY_F64("dram_pj_per_bit", req, dram_pj_per_bit, "pJ", "a DRAM bit read or written")}, \
        {ENERGY_F64("pe_leakage_mw", req, pe_leak_mw, "mW", "leakage of one PE")},                 \
        {ENERGY_F64("spm_leakage_mw_per_kb", req, spm_leak_mw_per_kb, "mW",                        \
                    "leakage per KiB of SPM")},                                                    \
        {ENERGY_F64("router_leakage_mw", req, router_leak_mw, "mW", "leakage of one router")},     \
        {ENERGY_F64("decode_pj", req, decode_pj, "pJ",                                             \
                    "issuing a firing: tag match, decode, operand select (the instruction "        \
                    "store's read is priced as an SRAM read)")},                                   \
        {ENERGY_F64("pipeline_pj_per_bit", req, pipeline_pj_per_bit, "pJ",                         \
                    "a bit latched in a function unit's pipeline register")},                      \
        {ENERGY_F64("clock_pj_per_pe_cycle", req, clock_pj_per_pe_cycle, "pJ",                     \
                    "the clock tree of one PE for one cycle, gated leaves excluded")},             \
    {                                                                                              \
        ENERGY_F64("dram_leakage_mw", req, dram_leak_mw, "mW",                                     \
                   "DRAM background power (refresh, standby)")                                     \
    }
#define ENERGY_F64(nm, req, field, unit, doc)                                                      \
    nm, K_F64, req, AOFF(energy.field), 0, 0, 0, 1e9, 0, NULL, NULL, NULL, unit, doc
static const key_def energy_table_keys[] = {ENERGY_KEYS(F_REQ), END_KEYS};
#define AREA_F64(nm, req, field, doc)                                                              \
    {                                                                                              \
        nm, K_F64, req, AOFF(area.field), 0, 0, 0, 1e12, 0, NULL, NULL, NULL, "um2", doc           \
    }
#define AREA_KEYS(req)                                                                             \
    AREA_F64("mac_fp16_um2", req, fu_um2[ARCH_FU_MAC], "one FP16 multiply-add lane"),              \
        AREA_F64("add_fp16_um2", req, fu_um2[ARCH_FU_ADD], "one FP16 add lane"),                   \
        AREA_F64("mul_fp16_um2", req, fu_um2[ARCH_FU_MUL], "one FP16 multiply lane"),              \
        AREA_F64("max_fp16_um2", req, fu_um2[ARCH_FU_MAX], "one FP16 compare lane"),               \
        AREA_F64("exp_fp16_um2", req, fu_um2[ARCH_FU_EXP], "one FP16 exp lane"),                   \
        AREA_F64("rcp_fp16_um2", req, fu_um2[ARCH_FU_RCP], "one FP16 reciprocal lane"),            \
        AREA_F64("sram_um2_per_kb", req, sram_um2_per_kb, "a KiB of SRAM, periphery included"),    \
        AREA_F64("router_um2_per_port_bit", req, router_um2_per_port_bit,                          \
                 "a router, per port and link bit"),                                               \
        AREA_F64("pe_control_um2", req, pe_control_um2,                                            \
                 "a PE's issue, tag matching and decode logic"),                                   \
        AREA_F64("dma_um2", req, dma_um2, "the DMA engine"),                                       \
        AREA_F64("controller_um2", req, controller_um2, "the array's controller")
const key_def cfg_area_keys[] = {AREA_KEYS(0), END_KEYS};
const key_def cfg_energy_keys[] = {
    {"table", K_STR, 0, AOFF(energy.table), ARCH_PATH_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "energy table file, relative to the arch file (e.g. \"energy/12nm.cfg\")"},
    ENERGY_KEYS(0),
    END_KEYS};
const key_def cfg_energy_file_keys[] = {
    U32("tech_nm", 0, energy.table_nm, 3, 180, NULL, "nm",
        "technology node the table prices (checked against the arch's tech_nm)"),
    GROUP("energy", F_REQ, energy_table_keys, "energy per action and leakage"),
    GROUP("area", 0, cfg_area_keys,
          "silicon area of each component (docs/AREA.md; all its keys, or no group: no area)"),
    END_KEYS};

const key_def cfg_arch_keys[] = {
    {"name", K_STR, 0, AOFF(name), ARCH_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "preset name (default: the file name)"},
    {"clock_ghz", K_F64, F_REQ, AOFF(clock_ghz), 0, 0, 0.001, 100, 0, NULL, NULL, NULL, "GHz",
     "clock frequency"},
    U32("tech_nm", F_REQ, tech_nm, 3, 180, NULL, "nm", "technology node"),
    GROUP("array", F_REQ, array_keys, "PE mesh"),
    GROUP("pe", F_REQ, pe_keys, "processing element"),
    GROUP("noc", F_REQ, noc_keys, "2-D mesh network on chip"),
    GROUP("spm", F_REQ, spm_keys, "banked scratchpad memory"),
    GROUP("dma", F_REQ, dma_keys, "DMA engine"),
    GROUP("dram", F_REQ, dram_keys, "off-chip memory"),
    GROUP("energy", 0, cfg_energy_keys, "energy table and overrides of its values"),
    GROUP("area", 0, cfg_area_keys, "overrides of the energy table's area figures"),
    END_KEYS};

#define WOFF(field) offsetof(wl_desc, field)
/* The keys every workload file starts with. */
#define WL_NAME_KIND_KEYS                                                                          \
    {                                                                                              \
        "name",      K_STR,                                                                        \
        0,           WOFF(name),                                                                   \
        WL_NAME_MAX, 0,                                                                            \
        0,           0,                                                                            \
        0,           NULL,                                                                         \
        NULL,        NULL,                                                                         \
        NULL,        "workload name (default: the file name)"},                                    \
    {                                                                                              \
        "kind", K_ENUM, F_REQ, WOFF(kind), 0, 0, 0, 0, 0, kind_names, NULL, NULL, NULL,            \
            "workload kind"                                                                        \
    }
const key_def cfg_wl_keys[] = {WL_NAME_KIND_KEYS,
                               {"n", K_U64, F_REQ | F_POW2, WOFF(n), 0, 0, 2, 16777216, 0, NULL,
                                NULL, NULL, "elements", "butterfly size: elements per vector"},
                               {"rows", K_U64, F_REQ, WOFF(rows), 0, 0, 1, 4294967296.0, 0, NULL,
                                NULL, NULL, "vectors", "vectors the layer is applied to"},
                               {"dtype", K_ENUM, 0, WOFF(dtype), 0, 0, 0, 0, 0, dtype_names, NULL,
                                "\"fp16\"", NULL, "element data type"},
                               {"seed", K_U64, 0, WOFF(seed), 0, 0, 0, 9.2e18, 0, NULL, NULL, "1",
                                NULL, "seed of the twiddle and input generator"},
                               {"init", K_ENUM, 0, WOFF(init), 0, 0, 0, 0, 0, init_names, NULL,
                                "\"random\"", NULL,
                                "twiddles: random (uniform, norm-preserving) or identity"},
                               END_KEYS};

#define BOFF(field) offsetof(wl_block, field)
static const key_def block_keys[] = {
    {"repeat", K_U64, 0, BOFF(repeat), 0, 0, 1, 1024, 0, NULL, NULL, "1", "blocks",
     "identical blocks in a row"},
    {"mixer", K_ENUM, F_REQ, BOFF(mixer), 0, 0, 0, 0, 0, mixer_names, NULL, NULL, NULL,
     "token mixer"},
    {"proj", K_ENUM, 0, BOFF(proj), 0, 0, 0, 0, 0, linear_names, NULL, "\"dense\"", NULL,
     "projections: Q/K/V/O for attention, O after other mixers (none: no projection)"},
    {"ffn", K_ENUM, 0, BOFF(ffn), 0, 0, 0, 0, 0, ffn_names, NULL, "\"dense\"", NULL,
     "structure of the two FFN layers"},
    {"block_size", K_U64, F_POW2, BOFF(block_size), 0, 0, 1, 256, 0, NULL, NULL, "8", "elements",
     "block-butterfly tile size B"},
    {"chunk", K_U64, F_POW2, BOFF(chunk), 0, 0, 2, 1048576, 0, NULL, NULL, "64", "tokens",
     "fft-compress: tokens per chunk"},
    {"keep", K_F64, F_GT, BOFF(keep), 0, 0, 0, 1, 0, NULL, NULL, "0.5", NULL,
     "fft-compress: fraction of each chunk's coefficients kept"},
    END_KEYS};

const key_def cfg_model_keys[] = {
    WL_NAME_KIND_KEYS,
    {"seq_len", K_U64, 0, WOFF(seq_len), 0, 0, 1, 1048576, 0, NULL, NULL, NULL, "tokens",
     "tokens per sequence (required unless new_tokens makes the workload a decode step)"},
    {"new_tokens", K_U64, 0, WOFF(new_tokens), 0, 0, 1, 1048576, 0, NULL, NULL, NULL, "tokens",
     "a decode step: tokens run through the model against the K/V cache of kv_len tokens "
     "(instead of seq_len)"},
    {"kv_len", K_U64, 0, WOFF(kv_len), 0, 0, 0, 1048576, 0, NULL, NULL, "0", "tokens",
     "a decode step: tokens already in each attention block's K/V cache (needs new_tokens)"},
    {"hidden", K_U64, F_REQ, WOFF(hidden), 0, 0, 1, 65536, 0, NULL, NULL, NULL, "features",
     "features per token"},
    {"heads", K_U64, F_REQ, WOFF(heads), 0, 0, 1, 1024, 0, NULL, NULL, NULL, "heads",
     "attention heads (must divide hidden)"},
    {"ffn", K_U64, F_REQ, WOFF(ffn), 0, 0, 1, 1048576, 0, NULL, NULL, NULL, "features",
     "FFN inner width"},
    {"batch", K_U64, 0, WOFF(batch), 0, 0, 1, 65536, 0, NULL, NULL, "1", "sequences",
     "independent sequences"},
    {"dtype", K_ENUM, 0, WOFF(dtype), 0, 0, 0, 0, 0, dtype_names, NULL, "\"fp16\"", NULL,
     "element data type"},
    {"seed", K_U64, 0, WOFF(seed), 0, 0, 0, 9.2e18, 0, NULL, NULL, "1", NULL,
     "seed of the weight and input generator"},
    {"mask", K_ENUM, 0, WOFF(mask), 0, 0, 0, 0, 0, mask_names, NULL, "\"none\"", NULL,
     "attention mask: none or causal"},
    {"blocks", K_GROUP_LIST, F_REQ, WOFF(blocks), WL_MAX_BLOCKS, WOFF(n_blocks), 0, 0,
     sizeof(wl_block), NULL, block_keys, NULL, NULL,
     "encoder blocks, in order: ( { mixer = ...; ... }, ... )"},
    END_KEYS};

#define GMOFF(field) offsetof(wl_gemm, field)
static const key_def gemm_keys[] = {
    {"name", K_STR, 0, GMOFF(name), WL_GEMM_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "the GEMM's name in the per-op table (default: gN)"},
    {"m", K_U64, F_REQ, GMOFF(m), 0, 0, 1, 1e12, 0, NULL, NULL, NULL, "rows", "rows of A and C"},
    {"n", K_U64, F_REQ, GMOFF(n), 0, 0, 1, 1e12, 0, NULL, NULL, NULL, "columns",
     "columns of B and C"},
    {"k", K_U64, F_REQ, GMOFF(k), 0, 0, 1, 1e12, 0, NULL, NULL, NULL, "elements",
     "the reduction: columns of A, rows of B"},
    {"count", K_U64, 0, GMOFF(count), 0, 0, 1, 1e9, 0, NULL, NULL, "1", "GEMMs",
     "how many times it runs"},
    END_KEYS};

const key_def cfg_gemm_keys[] = {
    WL_NAME_KIND_KEYS,
    {"dtype", K_ENUM, 0, WOFF(dtype), 0, 0, 0, 0, 0, dtype_names, NULL, "\"fp16\"", NULL,
     "element data type"},
    {"gemms", K_GROUP_LIST, F_REQ, WOFF(gemms), WL_MAX_GEMMS, WOFF(n_gemms), 0, 0, sizeof(wl_gemm),
     NULL, gemm_keys, NULL, NULL,
     "the GEMMs, in order: ( { m = ...; n = ...; k = ...; }, ... ); a SCALE-Sim topology CSV "
     "(FILE.csv) gives them instead"},
    END_KEYS};

#define FOFF(field) offsetof(map_force, field)
#define CFG_MAX_BLOCK_ROWS 1e12
#define FKEY(nm, field, hi, doc)                                                                   \
    {                                                                                              \
        nm, K_U32, 0, FOFF(field), 0, 0, 0, hi, 0, NULL, NULL, "0", NULL, doc                      \
    }
static const key_def force_keys[] = {
    {"block", K_U32, 0, FOFF(block), 0, 0, 0, WL_MAX_BLOCKS - 1, 0, NULL, NULL, "0", NULL,
     "index of the block entry"},
    {"op", K_STR, F_REQ, FOFF(op), WL_OP_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "op name, as the summary prints it (q-proj, scores, softmax, ffn1 ...; \"butterfly-linear\" "
     "for that workload kind)"},
    FKEY("chain_pes", chain_pes, 4096, "GEMM: PEs per chain (a divisor of the PEs; 0: search)"),
    FKEY("rows_per_tag", rows_per_tag, 65536, "GEMM: rows of X per tag (0: search)"),
    FKEY("columns_per_chain", columns_per_chain, 65536,
         "GEMM: output columns per chain (0: the widest that fits)"),
    FKEY("segments", segments, 4096, "row ops: segments per row (0: search)"),
    FKEY("rows_per_chain", rows_per_chain, 65536, "row ops: rows per chain and tag (0: search)"),
    FKEY("layer_pes", layer_pes, 4096,
         "butterfly-linear: PEs per layer, a power of two of PE rows (0: search)"),
    FKEY("pipelines", pipelines, 4096,
         "butterfly-linear: pipelines side by side, each a share of every tag (0: search)"),
    FKEY("stages_per_pass", stages_per_pass, 64,
         "butterfly-linear: stages per pass, one layer each (0: search)"),
    {"intermediates", K_ENUM, 0, FOFF(intermediates), 0, 0, 0, 0, 0, inter_names, NULL, "\"any\"",
     NULL,
     "butterfly-linear, butterflies and FFTs: where the intermediates between passes lie: "
     "\"dram\", \"spm\" (blocks of rows go through all passes on chip) or \"any\" (search)"},
    {"block_rows", K_U64, 0, FOFF(block_rows), 0, 0, 0, CFG_MAX_BLOCK_ROWS, 0, NULL, NULL, "0",
     "rows",
     "butterfly-linear, butterflies and FFTs: rows (lines) per block with the intermediates in "
     "the SPM (0: the most that fit)"},
    {"weights", K_ENUM, 0, FOFF(weights), 0, 0, 0, 0, 0, weights_names, NULL, "\"any\"", NULL,
     "butterflies and FFTs with intermediates in the SPM: \"kept\" (the SPM keeps every "
     "pass's weights across the blocks), \"reloaded\" (every block loads them from DRAM) or "
     "\"any\" (search); a fused group: its layers stream, every tag, the weights their PEs "
     "cannot hold, kept in the SPM (\"kept\") or read from DRAM (\"reloaded\"), or never "
     "(\"resident\"); \"any\": they stream only where no plan with the weights in the PEs "
     "fits, kept where the SPM holds them"},
    FKEY("unit_columns", unit_columns, 65536,
         "FFTs along the sequence (mix-seq, a Fourier mixer's mix): feature columns per unit, "
         "a divisor of the features (0: search)"),
    FKEY("part_units", part_units, 1u << 30,
         "FFTs along the sequence (mix-seq, a Fourier mixer's mix): units (tokens) per tag, "
         "each tag a part of a line, a power of two (0: search)"),
    {"fused_through", K_STR, 0, FOFF(fused_through), WL_OP_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL,
     NULL,
     "fused group: the group's last op (op is its first): op .. fused_through run as one "
     "pipeline of PE groups; its entry also takes rows_per_tag, fold, stage_pes, "
     "stage_steps and weights"},
    FKEY("fold", fold, MAP_FUSE_MAX_FOLD, "fused group: PE groups per PE, 1 or 2 (0: search)"),
    {"stage_pes", K_U32_LIST, 0, FOFF(stage_pes), MAP_FUSE_MAX_STAGES, FOFF(n_stage_pes), 1, 4096,
     0, NULL, NULL, "[]", NULL,
     "fused group: each pipeline stage's PEs, in order (a run of butterfly or FFT stages: a "
     "power of two; a norm: its row segments; a dense layer: its weight tiles); [] to search"},
    {"stage_steps", K_U32_LIST, 0, FOFF(stage_steps), MAP_FUSE_MAX_STAGES, FOFF(n_stage_steps), 1,
     64, 0, NULL, NULL, "[]", NULL,
     "fused group: each pipeline stage's butterfly or FFT stages, or a dense layer's input "
     "chunks (its stage_pes over stage_steps are its column tiles); 1 for a norm"},
    END_KEYS};

const key_def cfg_mapping_keys[] = {
    {"mapping", K_GROUP_LIST, F_REQ, offsetof(map_forced, f), MAP_MAX_FORCED,
     offsetof(map_forced, n), 0, 0, sizeof(map_force), NULL, force_keys, NULL, NULL,
     "per-op mappings: ( { block = 0; op = \"q-proj\"; chain_pes = 4; }, ... )"},
    {"chain", K_ENUM, 0, offsetof(map_forced, chaining), 0, 0, 0, 0, 0, chaining_names, NULL,
     "\"auto\"", NULL,
     "\"auto\": run consecutive ops of a model as producer and consumer side by side where the "
     "estimate says it pays; \"off\": never (as --no-chain)"},
    {"fuse", K_ENUM, 0, offsetof(map_forced, fusing), 0, 0, 0, 0, 0, fusing_names, NULL, "\"auto\"",
     NULL,
     "\"auto\": run a block's row-local ops as fused groups (one pipeline of PE groups) where "
     "the estimate says it pays; \"off\": map every op on its own (as --no-fuse)"},
    END_KEYS};

/* GPU baseline presets (arch/gpu/, docs/GPU.md). */
#define GOFF(field) offsetof(gpu_desc, field)
#define GF64(nm, fl, field, lo, hi, unit, doc)                                                     \
    {                                                                                              \
        nm, K_F64, F_REQ | (fl), GOFF(field), 0, 0, lo, hi, 0, NULL, NULL, NULL, unit, doc         \
    }
#define EFF_KEYS(kind, what)                                                                       \
    static const key_def eff_##kind##_keys[] = {                                                   \
        GF64("compute", 0, eff[GPU_##kind].compute, 0.001, 1, NULL,                                \
             "achieved fraction of the unit's peak, " what),                                       \
        GF64("memory", 0, eff[GPU_##kind].memory, 0.001, 1, NULL,                                  \
             "achieved fraction of the DRAM bandwidth, " what),                                    \
        END_KEYS}
EFF_KEYS(GEMM, "matrix products");
EFF_KEYS(ELEMWISE, "elementwise kernels");
EFF_KEYS(SOFTMAX, "row reductions (softmax, layernorm)");
EFF_KEYS(FFT, "FFT passes");
EFF_KEYS(BUTTERFLY, "butterfly passes at strides of a sector or more");

static const key_def gpu_eff_keys[] = {
    GROUP("gemm", F_REQ, eff_GEMM_keys, "GEMM on tensor cores (FP16) or FP32 cores"),
    GROUP("elementwise", F_REQ, eff_ELEMWISE_keys, "add, GELU, the softmax merge"),
    GROUP("softmax", F_REQ, eff_SOFTMAX_keys, "softmax and layernorm"),
    GROUP("fft", F_REQ, eff_FFT_keys, "cuFFT-like passes"),
    GROUP("butterfly", F_REQ, eff_BUTTERFLY_keys, "one butterfly stage per pass"),
    END_KEYS};

static const key_def gpu_peak_keys[] = {
    GF64("tensor_fp16_gflops", 0, tensor_fp16_gflops, 0.01, 1e7, "GFLOP/s",
         "FP16 tensor-core peak (a GPU without tensor cores: its FP16 CUDA-core peak)"),
    GF64("cuda_fp16_gflops", 0, cuda_fp16_gflops, 0.01, 1e7, "GFLOP/s", "FP16 CUDA-core peak"),
    GF64("fp32_gflops", 0, fp32_gflops, 0.01, 1e7, "GFLOP/s", "FP32 peak"), END_KEYS};

static const key_def gpu_memory_keys[] = {
    GF64("bandwidth_gbs", 0, dram_gbs, 0.01, 1e5, "GB/s", "DRAM peak bandwidth"),
    {"l2_kb", K_U32, F_REQ, GOFF(l2_bytes), 0, 0, 0, 1048576, 1024, NULL, NULL, NULL, "KiB",
     "L2 cache (a transform's intermediates stay there when they fit twice)"},
    {"sector_bytes", K_U32, F_REQ | F_POW2, GOFF(sector_bytes), 0, 0, 1, 4096, 0, NULL, NULL, NULL,
     "bytes", "DRAM transaction granularity (butterfly stride model)"},
    END_KEYS};

static const char *const bfly_kernel_names[] = {"per-stage", "fused", "monarch", NULL};
static const char *const attn_kernel_names[] = {"unfused", "fused", NULL};
static const key_def gpu_attn_keys[] = {
    {"kernel", K_ENUM, 0, GOFF(attn_kernel), 0, 0, 0, 0, 0, attn_kernel_names, NULL, "\"unfused\"",
     NULL,
     "unfused: scores, softmax and context as three kernels, the scores through DRAM; fused: "
     "one FlashAttention-style kernel, the scores on chip (docs/GPU.md)"},
    END_KEYS};
static const key_def gpu_bfly_keys[] = {
    {"kernel", K_ENUM, 0, GOFF(bfly_kernel), 0, 0, 0, 0, 0, bfly_kernel_names, NULL,
     "\"per-stage\"", NULL,
     "per-stage: one DRAM pass per stage; fused: fused_stages_per_pass stages per pass in "
     "shared memory; monarch: two batched block-diagonal GEMMs on the tensor cores "
     "(docs/GPU.md)"},
    {"fused_stages_per_pass", K_U32, 0, GOFF(bfly_fused_stages), 0, 0, 1, 30, 0, NULL, NULL, "12",
     "stages", "kernel = \"fused\": the stages one pass does in shared memory"},
    GF64("stride_floor", 0, stride_floor, 0.001, 1, NULL,
         "least share of the butterfly memory efficiency at strides below a sector"),
    END_KEYS};

static const key_def gpu_fft_keys[] = {{"stages_per_pass", K_U32, F_REQ, GOFF(fft_stages_per_pass),
                                        0, 0, 1, 30, 0, NULL, NULL, NULL, "stages",
                                        "radix-2 stages one FFT kernel pass does on chip"},
                                       END_KEYS};

static const key_def gpu_power_keys[] = {
    GF64("idle_w", 0, power.idle_w, 0, 1e6, "W", "module power with the GPU idle"),
    GF64("busy_w", 0, power.busy_w, 0, 1e6, "W",
         "added while a kernel works, whatever its utilization"),
    GF64("compute_w", 0, power.compute_w, 0, 1e6, "W", "added at the unit's full compute peak"),
    GF64("memory_w", 0, power.memory_w, 0, 1e6, "W", "added at the full DRAM bandwidth"),
    GF64("budget_w", 0, power.budget_w, 0.01, 1e6, "W", "the power mode's cap"),
    END_KEYS};

static const key_def gpu_cpu_keys[] = {
    {"cores", K_U32, F_REQ, GOFF(cpu.cores), 0, 0, 0, 1024, 0, NULL, NULL, NULL, "cores",
     "CPU cores sharing the work (0: no GPU+CPU co-execution)"},
    GF64("clock_ghz", 0, cpu.clock_ghz, 0.001, 100, "GHz", "CPU clock of the power mode"),
    GF64("fp32_gflops_per_core", 0, cpu.fp32_gflops_per_core, 0.001, 1e5, "GFLOP/s",
         "FP32 peak of one core"),
    GF64("fp16_gflops_per_core", 0, cpu.fp16_gflops_per_core, 0.001, 1e5, "GFLOP/s",
         "FP16 peak of one core"),
    GF64("gemm_eff", 0, cpu.gemm_eff, 0.001, 1, NULL, "achieved fraction of the peak in GEMMs"),
    GF64("vector_eff", 0, cpu.vector_eff, 0.001, 1, NULL,
         "achieved fraction of the peak in other kernels"),
    GF64("memory_eff", 0, cpu.memory_eff, 0.001, 1, NULL,
         "achieved fraction of the bandwidth share"),
    GF64("bandwidth_share", 0, cpu.bandwidth_share, 0.001, 1, NULL,
         "the most of the DRAM bandwidth the CPU cluster draws alone"),
    GF64("launch_us", 0, cpu.launch_us, 0, 1e6, "us", "fork and join of a parallel kernel"),
    GF64("active_w", 0, cpu.active_w, 0, 1e6, "W", "added while the cores work"),
    END_KEYS};

const key_def cfg_gpu_keys[] = {
    {"name", K_STR, 0, GOFF(name), GPU_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "preset name (default: the file name)"},
    GF64("clock_mhz", 0, clock_mhz, 1, 1e5, "MHz", "GPU clock the peaks are given at"),
    GF64("launch_us", 0, launch_us, 0, 1e6, "us", "launch overhead per kernel"),
    GROUP("peak", F_REQ, gpu_peak_keys, "peak throughputs"),
    GROUP("memory", F_REQ, gpu_memory_keys, "DRAM and L2"),
    GROUP("efficiency", F_REQ, gpu_eff_keys, "efficiency factors per kernel class"),
    GROUP("butterfly", F_REQ, gpu_bfly_keys, "butterfly kernels and stride model"),
    GROUP("attention", 0, gpu_attn_keys, "attention kernels"),
    GROUP("fft", F_REQ, gpu_fft_keys, "FFT passes"),
    GROUP("power", F_REQ, gpu_power_keys, "power model"),
    GROUP("cpu", F_REQ, gpu_cpu_keys, "CPU cluster for GPU+CPU co-execution"),
    END_KEYS};

/* System files (arch/systems/, docs/SYSTEM.md). */
#define SOFF(field) offsetof(sys_desc, field)
static const char *const system_kind_names[] = {"system", NULL};
static const char *const topology_names[] = {"ring", "switch", "shared-dram", "mesh",
                                             NULL}; /* sys_topology */
static const char *const partition_names[] = {"sequence", "strided", "heads", "cascade",
                                              NULL}; /* sys_partition */
static const key_def sys_link_keys[] = {
    {"topology", K_ENUM, F_REQ, SOFF(topology), 0, 0, 0, 0, 0, topology_names, NULL, NULL, NULL,
     "how the devices are joined: a ring of point-to-point links, a switch, a 2-D mesh of "
     "links to row and column neighbours, or one shared DRAM (a SoC's GPU and CPU; the "
     "link's bandwidth, latency and energy are the memory's)"},
    {"bandwidth_gbs", K_F64, F_REQ, SOFF(link_gbs), 0, 0, 0.01, 1e5, 0, NULL, NULL, NULL, "GB/s",
     "bandwidth of one link, each way"},
    {"latency_ns", K_F64, F_REQ, SOFF(link_latency_ns), 0, 0, 0, 1e9, 0, NULL, NULL, NULL, "ns",
     "latency of one message over one link"},
    {"energy_pj_per_bit", K_F64, 0, SOFF(link_pj_per_bit), 0, 0, 0, 100, 0, NULL, NULL, "1.9", "pJ",
     "energy of a bit over one link (a switch's path is two); the default is a published "
     "board-level SerDes (docs/SYSTEM.md); 0 prices the links free"},
    END_KEYS};
const key_def cfg_system_keys[] = {
    {"name", K_STR, 0, SOFF(name), SYS_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "system name (default: the file name)"},
    {"kind", K_ENUM, F_REQ, SOFF(kind), 0, 0, 0, 0, 0, system_kind_names, NULL, NULL, NULL,
     "\"system\": what tells a system file from an arch file"},
    {"device", K_STR, F_REQ, SOFF(device), ARCH_PATH_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "the array every device is: an arch preset name or file (relative to this file)"},
    {"devices", K_U32, F_REQ, SOFF(devices), 0, 0, 0, SYS_MAX_DEVICES, 0, NULL, NULL, NULL,
     "devices", "how many arrays (0: none, only with the heads partition and a gpu)"},
    {"gpu", K_STR, 0, SOFF(gpu), ARCH_PATH_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "a GPU beside the arrays (heads partition only): a GPU preset name or file"},
    GROUP("link", F_REQ, sys_link_keys, "the links between devices"),
    {"partition", K_ENUM, 0, SOFF(partition), 0, 0, 0, 0, 0, partition_names, NULL, "\"sequence\"",
     NULL,
     "how the work splits: \"sequence\" (token ranges), \"strided\" (R-sharding), "
     "\"heads\" (every op by heads or columns, in proportion to each device's speed) or "
     "\"cascade\" (CompNodes and AttnNodes)"},
    {"cpu_cores", K_U32, 0, SOFF(cpu_cores), 0, 0, 0, 1024, 0, NULL, NULL, "0", "cores",
     "heads partition with a gpu: the GPU's SoC's CPU cluster joins as a device with this "
     "many cores, priced by the GPU preset's cpu model (0: it does not join)"},
    {"comp_nodes", K_U32, 0, SOFF(comp_nodes), 0, 0, 0, SYS_MAX_DEVICES, 0, NULL, NULL, "0",
     "devices",
     "cascade: CompNodes, each the row-local ops of a strided share of the tokens (alpha)"},
    {"attn_groups", K_U32, 0, SOFF(attn_groups), 0, 0, 0, 32, 0, NULL, NULL, "0", "groups",
     "cascade: token groups (beta); attn_groups^2 AttnNodes each attend one query group to "
     "one key group"},
    END_KEYS};

/* Peer accelerators (arch/peers/, docs/PEERS.md). */
#define POFF(field) offsetof(peer_desc, field)
static const char *const peer_kind_names[] = {"peer", NULL};
static const char *const peer_model_names[] = {"systolic", "butterfly", "sparse",
                                               NULL};           /* peer_kind */
static const char *const dataflow_names[] = {"os", "ws", NULL}; /* peer_dataflow */
static const key_def peer_array_keys[] = {
    {"rows", K_U32, F_REQ, POFF(array.rows), 0, 0, 1, 4096, 0, NULL, NULL, NULL, "PEs",
     "rows of MAC PEs"},
    {"cols", K_U32, F_REQ, POFF(array.cols), 0, 0, 1, 4096, 0, NULL, NULL, NULL, "PEs",
     "columns of MAC PEs"},
    {"dataflow", K_ENUM, F_REQ, POFF(array.dataflow), 0, 0, 0, 0, 0, dataflow_names, NULL, NULL,
     NULL, "what stays in the PEs: outputs (os) or weights (ws), as SCALE-Sim names them"},
    {"vector_lanes", K_U32, 0, POFF(array.vector_lanes), 0, 0, 0, 65536, 0, NULL, NULL, "0",
     "lanes",
     "the vector unit at the array's edge (softmax, layernorm, GELU, add of a model): "
     "elementwise flops per cycle (0: one per column)"},
    END_KEYS};
static const key_def peer_butterfly_keys[] = {
    {"engines", K_U32, 0, POFF(butterfly.engines), 0, 0, 1, 65536, 0, NULL, NULL, NULL, "engines",
     "butterfly engines, each on its own transforms"},
    {"units", K_U32, 0, POFF(butterfly.units), 0, 0, 1, 4096, 0, NULL, NULL, NULL, "units",
     "butterfly units per engine, 4 multipliers each (engines x units x 4 = rows x cols)"},
    END_KEYS};
static const key_def peer_sparse_keys[] = {
    {"density", K_F64, F_GT, POFF(sparse.density), 0, 0, 0, 1, 0, NULL, NULL, NULL, NULL,
     "the share of attention scores the predicted mask keeps"},
    {"threshold", K_F64, F_GT, POFF(sparse.threshold), 0, 0, 0, 1, 0, NULL, NULL, NULL, NULL,
     "a kept score's least probability (so at most 1/threshold kept a row)"},
    {"predict_bits", K_U32, 0, POFF(sparse.predict_bits), 0, 0, 1, 16, 0, NULL, NULL, NULL, "bits",
     "the mask prediction's quantized Q and K"},
    {"pack_efficiency", K_F64, 0, POFF(sparse.pack_efficiency), 0, 0, 0.01, 1, 0, NULL, NULL, NULL,
     NULL, "the array's use on the packed sparse scores"},
    {"index_bits", K_U32, 0, POFF(sparse.index_bits), 0, 0, 0, 64, 0, NULL, NULL, NULL, "bits",
     "a kept score's column index"},
    END_KEYS};
static const key_def peer_sram_keys[] = {
    {"ifmap_kb", K_U64, F_REQ, POFF(sram.ifmap_bytes), 0, 0, 1, 1048576, 1024, NULL, NULL, NULL,
     "KiB", "the input operand's double-buffered SRAM (A of a GEMM)"},
    {"filter_kb", K_U64, F_REQ, POFF(sram.filter_bytes), 0, 0, 1, 1048576, 1024, NULL, NULL, NULL,
     "KiB", "the weights' double-buffered SRAM (B)"},
    {"ofmap_kb", K_U64, F_REQ, POFF(sram.ofmap_bytes), 0, 0, 1, 1048576, 1024, NULL, NULL, NULL,
     "KiB", "the outputs' double-buffered SRAM (C)"},
    END_KEYS};
static const key_def peer_dram_keys[] = {{"bandwidth_gbs", K_F64, F_REQ, POFF(dram.bandwidth_gbs),
                                          0, 0, 0.01, 1e5, 0, NULL, NULL, NULL, "GB/s",
                                          "the SRAMs' fill and drain from DRAM, all together"},
                                         END_KEYS};
static const key_def peer_energy_keys[] = {
    {"arch", K_STR, 0, POFF(energy_arch), PEER_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "the mld arch (a preset name or a file) whose energy table and node price the peer"},
    END_KEYS};
const key_def cfg_peer_keys[] = {
    {"name", K_STR, 0, POFF(name), PEER_NAME_MAX, 0, 0, 0, 0, NULL, NULL, NULL, NULL,
     "preset name (default: the file name)"},
    {"kind", K_ENUM, F_REQ, POFF(kind), 0, 0, 0, 0, 0, peer_kind_names, NULL, NULL, NULL,
     "\"peer\": an accelerator other than the mld array"},
    {"model", K_ENUM, F_REQ, POFF(model), 0, 0, 0, 0, 0, peer_model_names, NULL, NULL, NULL,
     "the dataflow model that times it"},
    {"clock_ghz", K_F64, F_REQ, POFF(clock_ghz), 0, 0, 0.001, 100, 0, NULL, NULL, NULL, "GHz",
     "clock frequency"},
    GROUP("array", F_REQ, peer_array_keys,
          "the systolic array (a butterfly peer's multipliers "
          "as one, for dense work)"),
    GROUP("butterfly", 0, peer_butterfly_keys, "model \"butterfly\": the butterfly engines"),
    GROUP("sparse", 0, peer_sparse_keys, "model \"sparse\": the sparse attention"),
    GROUP("sram", F_REQ, peer_sram_keys, "on-chip buffers"),
    GROUP("dram", F_REQ, peer_dram_keys, "off-chip memory"),
    GROUP("energy", 0, peer_energy_keys, "how the peer is priced (no group: not priced)"),
    END_KEYS};

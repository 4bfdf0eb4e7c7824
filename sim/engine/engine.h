/* engine.h: deterministic discrete-event, cycle-resolution simulation of the PE array. */
#ifndef BFLY_ENGINE_H
#define BFLY_ENGINE_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../arch/arch.h"
#include "../util/util.h"

/* ---------------------------------------------------------------- programs
 *
 * A program is a sequence of phases. In a phase every PE holds a few instructions
 * (a static dataflow graph) and a stream of tags flows through it: each tag's input
 * is copied by DMA from DRAM into an SPM input slot, sent from there to the first
 * instructions, passed between instructions over the NoC, and collected in an SPM
 * output slot that DMA copies back to DRAM. Phases run one after another, except that a
 * chained phase runs at the same time as the phase before it (a producer and its
 * consumer overlap; see eng_phase.chained). */

/* NoC endpoints: PE (r, c) is node r*cols + c; SPM port p (eng_spm_port) is node
 * rows*cols + p. Port r (0 <= r < rows) attaches to the west side of router (r, 0),
 * port rows + r to the east side of router (r, cols-1). */
uint32_t eng_spm_port(const arch_desc *a, uint32_t row, bool east);
/* The SPM port on the nearer side of PE pe's row (west on ties). */
uint32_t eng_spm_port_near(const arch_desc *a, uint32_t pe);

/* Elements first + i*stride + j for i < count, j < run, in ascending order. */
typedef struct eng_pattern {
    uint64_t first, run, stride, count;
} eng_pattern;

uint64_t eng_pattern_elems(const eng_pattern *p);
/* One past the pattern's last element (count >= 1). */
uint64_t eng_pattern_end(const eng_pattern *p);

typedef enum {
    /* Butterfly stage on a PE's operand buffer: every local position l with bit
     * `param` clear pairs with l + 2^param; pair k (in ascending l) uses the weights
     * (a, b, c, d) at 4k: y_l = a x_l + b x_l', y_l' = c x_l + d x_l'. */
    ENG_OP_BFLY = 0,
    /* Any other operation: the engine times it from its vector operations per unit;
     * in functional mode the instruction's kernel computes it on the operand buffer. */
    ENG_OP_KERNEL,
    ENG_OP_COUNT
} eng_opcode;

/* A transfer of part of every tag between two endpoints. Endpoints are instructions
 * (by index in the phase) or, with index -1, the SPM slot of the tag (the input slot
 * as a source, the output slot as a destination) reached through spm_port. */
typedef struct eng_xfer {
    int32_t src_instr, dst_instr;
    uint32_t spm_port;
    uint32_t elems;          /* per tag */
    eng_pattern spm;         /* slot positions when one end is the SPM */
    const uint32_t *src_pos; /* functional mode: producer buffer positions, or NULL */
    const uint32_t *dst_pos; /* functional mode: consumer buffer positions, or NULL */
} eng_xfer;

typedef struct eng_instr eng_instr;

/* Functional semantics of an ENG_OP_KERNEL instruction: computes on one tag's operand
 * buffer (local_elems values) with the instruction's weights, rounding results to t.
 * tag is the tag's number within the phase repeat. */
typedef void (*eng_kernel_fn)(const void *ctx, const eng_instr *in, uint64_t repeat, uint64_t tag,
                              float *buf, const float *weights, util_dtype t);

/* An instruction streams its SIMD vector operations through the units it uses
 * concurrently (a fused pipeline: e.g. subtract on the adder, then exp): it starts when
 * every unit it uses is free, keeps each busy for its vector operations, and its result
 * is ready after the slowest unit's share plus the latencies of all units it uses. */
struct eng_instr {
    uint32_t pe; /* r*cols + c */
    eng_opcode op;
    uint32_t vec_ops[ARCH_FU_COUNT]; /* SIMD vector operations per tag on each unit */
    uint64_t lane_ops;               /* useful lane operations per tag */
    uint32_t local_elems;            /* operand buffer elements per tag slot */
    uint32_t param;                  /* opcode parameter (ENG_OP_BFLY: pair bit) */
    uint32_t weight_elems;
    uint64_t weight_addr; /* DRAM element address of the weights */
    /* Weights in DRAM: one contiguous run when weight_run is 0, else runs of weight_run
     * elements weight_pitch apart (e.g. a tile of a row-major activation matrix). */
    uint32_t weight_run;
    uint64_t weight_pitch;
    /* The weights are weight_sets equal sets (0 or 1: one) and tag t of a repeat uses set
     * t % weight_sets: e.g. the twiddles of every chunk of a long FFT kept in the buffer
     * at once, so that the chunks' tags stream in one repeat. */
    uint32_t weight_sets;
    /* Streamed weights (0: resident, loaded once at configuration). With P > 0 the weights
     * do not stay in the PE: every tag loads them again in P equal parts, in order,
     * through the weight staging buffers into a double buffer of two parts on the PE, and
     * a firing runs in P steps, step p once part p has arrived (its vector operations
     * split evenly over the steps). One set, contiguous in DRAM. */
    uint32_t weight_parts;
    eng_kernel_fn kernel; /* ENG_OP_KERNEL */
    const void *kernel_ctx;
};

/* DRAM element addresses of one tag's input and output: up to ENG_TAG_PARTS patterns each
 * way (a fused group reads its input and a residual, or writes two tensors), packed one
 * after another, in order, into the tag's SPM slot. Each part is its own DMA transfer,
 * served from DRAM, the on-chip region or a FIFO ring, wherever it lies. */
#define ENG_TAG_PARTS 4
typedef struct eng_tag_io {
    uint32_t n_in, n_out;
    eng_pattern in[ENG_TAG_PARTS], out[ENG_TAG_PARTS];
} eng_tag_io;
typedef void (*eng_tag_fn)(const void *ctx, uint64_t tag, eng_tag_io *io);
/* One pattern each way (what most mappings move). */
void eng_tag_single(eng_tag_io *io, eng_pattern in, eng_pattern out);
/* Elements of n parts. */
uint64_t eng_parts_elems(const eng_pattern *parts, uint32_t n);

/* A phase may run `repeats` times back to back, each time with every instruction's
 * weights taken `weight_stride` elements further on in DRAM (e.g. one repeat per chunk
 * of a vector whose twiddles differ), so that the program stays small. Repeat r
 * streams tags r*n_tags .. (r+1)*n_tags - 1 (the numbers tag_dma sees). */
typedef struct eng_phase {
    uint32_t n_instr;
    const eng_instr *instr;
    uint32_t n_xfer;
    const eng_xfer *xfer;
    uint64_t n_tags;  /* per repeat */
    uint64_t repeats; /* at least 1 */
    uint64_t weight_stride;
    uint32_t tag_elems; /* elements of one tag in its SPM slots (the larger of in and out) */
    uint32_t in_slots, out_slots;
    eng_tag_fn tag_dma;
    const void *tag_ctx;
    uint32_t out_tag_elems; /* elements a tag writes into its output slot (0: tag_elems) */
    /* Weight staging buffers in the SPM (0: 2, at most ENG_STAGE_MAX): each holds one
     * instruction's weights on their way to its PE, so this many configurations are in
     * flight at once. */
    uint32_t stage_slots;
    /* The controller feeds every instruction the phase feeds from the SPM from a queue of
     * its own, instead of a tag's feeds all before the next tag's: an instruction deep in
     * a tag's path (a residual add reading the input again) then holds back only the
     * reuse of the tag's input slot, not the feeds of the first layer. */
    bool feed_each;
    /* Chaining. A chained phase starts with the phase before it (its producer) and runs
     * beside it; a run of chained phases is a group, and the group's phases keep their own
     * tags, SPM slots and weight staging (all repeats 1, instructions of the group together
     * within each PE's store). Both stream the same rows in order, so the consumer's tag t
     * is fetched only once the producer has stored ceil((t + 1) x P / C) of its tags (P, C:
     * the two phases' tag counts). With fifo_tags set, the image elements fifo_first ..
     * fifo_first + fifo_elems - 1 (the tensor the producer writes and this phase reads) live
     * in an SPM ring of fifo_tags producer tags instead of DRAM: DMA moves them SPM to SPM,
     * and the producer stores tag t only once the consumer has fetched the tags that read
     * ring entry t - fifo_tags. */
    bool chained;
    uint32_t fifo_tags;
    uint64_t fifo_first, fifo_elems;
} eng_phase;

/* Elements onchip_first .. onchip_first + onchip_elems - 1 of the image live in the SPM
 * (above the phase's slots), not in DRAM: a mapping keeps intermediates there between
 * passes. DMA to or from them moves data SPM to SPM, at the banks' pace, with no DRAM
 * latency or bandwidth. Weights among elements kept_first .. kept_first + kept_elems - 1
 * stay in the SPM (below the on-chip region) once loaded: a configuration whose weights
 * were all loaded before reads them there, SPM to SPM; one that needs any not yet loaded
 * reads DRAM and keeps them (e.g. twiddles that every block of a blocked FFT reloads). */
typedef struct eng_program {
    util_dtype dtype;
    uint32_t n_phases;
    const eng_phase *phases;
    uint64_t dram_elems; /* size of the DRAM image */
    uint64_t onchip_first, onchip_elems;
    uint64_t kept_first, kept_elems;
} eng_program;

/* The most weight staging buffers a phase may have. */
#define ENG_STAGE_MAX 32
/* A phase's weight staging buffers. */
uint32_t eng_phase_stage_slots(const eng_phase *f);

/* Whether a pattern of image elements lies in the program's on-chip region. */
bool eng_pattern_onchip(const eng_program *p, const eng_pattern *q);

/* Largest weight block of the phase's instructions (a streamed instruction's part): the
 * size of a weight staging buffer. */
uint32_t eng_phase_max_weights(const eng_phase *f);
/* Elements of one weight load of an instruction: its part when streamed, else all. */
uint32_t eng_instr_load_elems(const eng_instr *in);
/* Elements of an instruction's configuration: its weights unless they stream. */
uint32_t eng_instr_config_elems(const eng_instr *in);
/* Elements an instruction's weights take in its PE's buffer: two parts when streamed. */
uint32_t eng_instr_buffer_weights(const eng_instr *in);
/* Elements one tag writes into its output slot (out_tag_elems, or tag_elems where 0). */
uint32_t eng_phase_out_elems(const eng_phase *f);
/* Weights one execution reads: one set of them. */
uint32_t eng_instr_set_elems(const eng_instr *in);
/* The DRAM pattern of an instruction's weights placed at addr (whole, or weight_run
 * elements every weight_pitch). */
eng_pattern eng_instr_weights(const eng_instr *in, uint64_t addr);
/* SPM elements the phase's slots and its two weight staging buffers take (the program's
 * on-chip region comes on top): what eng_validate checks against the SPM. */
uint64_t eng_phase_spm_elems(const eng_phase *f);
/* Elements of a chained phase's FIFO ring (0 without one): fifo_tags of its producer's
 * output tags. */
uint64_t eng_fifo_ring_elems(const eng_phase *producer, const eng_phase *consumer);
/* Phases of the group that starts at phase first (1 + the chained phases after it). */
uint32_t eng_group_len(const eng_program *p, uint32_t first);
/* Producer tags the consumer's tag t needs stored: min(P, ceil((t + 1) x P / C)). */
uint64_t eng_chain_need(uint64_t producer_tags, uint64_t consumer_tags, uint64_t t);
/* Producer tags whose FIFO ring entries are free once the consumer has fetched its
 * first `fetched` tags: floor(fetched x P / C). */
uint64_t eng_chain_freed(uint64_t producer_tags, uint64_t consumer_tags, uint64_t fetched);

/* Cycles a vector operation of data type t keeps unit u busy (a unit narrower than the
 * SIMD width takes several; an FP32 lane takes two FP16 lanes). */
uint64_t eng_unit_cycles(const arch_desc *a, util_dtype t, arch_fu_kind u);
/* The busiest unit's cycles of one firing of an instruction (its vector operations on
 * each unit times that unit's cycles). */
uint64_t eng_instr_busy(const arch_desc *a, util_dtype t, const eng_instr *in);

/* Checks a program against the hardware: PEs exist, buffers, slots and the SPM are
 * large enough, instruction stores are not overfull, transfers are consistent. */
int eng_validate(const arch_desc *a, const eng_program *p, char *err, size_t errlen);

/* ---------------------------------------------------------------- statistics */

typedef struct eng_pe_stats {
    uint64_t fires;
    uint64_t lane_ops;               /* useful lane operations */
    uint64_t fu_busy[ARCH_FU_COUNT]; /* cycles each unit accepted vector operations */
    uint64_t fu_vec_ops[ARCH_FU_COUNT];
    uint64_t buf_writes, buf_reads; /* operand buffer elements */
    uint64_t weight_elems;          /* weights loaded */
    uint64_t configs;               /* instruction-store entries loaded */
    uint64_t flits_out;
} eng_pe_stats;

typedef struct eng_stats {
    uint64_t cycles;
    uint64_t events;   /* events processed: the simulator's own work */
    uint64_t lane_ops; /* useful lane operations, all PEs */
    uint64_t tags;     /* tags streamed, all phases */
    uint32_t n_pes;
    eng_pe_stats pe_total;
    eng_pe_stats *pe; /* n_pes entries */
    struct {
        uint64_t messages, flits;
        uint64_t flit_hops;         /* flits x router-to-router links traversed */
        uint64_t skip_flit_hops;    /* of which over skip links */
        uint64_t bisection_flits;   /* flits over links that cross the array's bisection */
        uint64_t router_traversals; /* flits x routers passed, ejection included */
        uint64_t wait_cycles;       /* cycles heads waited for a busy link */
    } noc;
    struct {
        uint64_t reads, writes; /* bank accesses (width_bytes words) */
        uint64_t read_bytes, write_bytes;
        uint64_t conflicts;       /* accesses that waited for a busy bank */
        uint64_t conflict_cycles; /* cycles requests were delayed by busy banks */
    } spm;
    struct {
        uint64_t descriptors;
        uint64_t bytes; /* useful bytes moved */
    } dma;
    struct {
        uint64_t read_bursts, write_bursts;
        uint64_t read_bytes, write_bytes; /* whole bursts */
        uint64_t busy_cycles;             /* summed over channels */
    } dram;
} eng_stats;

void eng_stats_free(eng_stats *s);

/* ---------------------------------------------------------------- running */

typedef struct eng_sim eng_sim;

/* Simulates the program. With image non-NULL (program->dram_elems floats, inputs and
 * weights already in place) values flow through the simulated array (functional
 * mode) and the outputs are left in the image. */
int eng_run(const arch_desc *a, const eng_program *p, float *image, eng_stats *stats, char *err,
            size_t errlen);

/* What a component did, as an observer is told it (eng_observer.event). */
typedef enum {
    ENG_EVENT_PE,   /* a PE fires an instruction for a tag (or one step of it): component
                     * the PE, duration until its result (units still busy delay its
                     * start), amount the MAC unit's busy cycles (their sum is the PE's
                     * fu_busy[ARCH_FU_MAC]) */
    ENG_EVENT_NOC,  /* a message is sent: component its source node (PEs, then the SPM
                     * ports), duration until its head enters the first router, amount its
                     * flits (their sum is noc.flits) */
    ENG_EVENT_DRAM, /* the DRAM takes a request: duration until its last channel is free,
                     * amount its bytes in whole bursts (their sum is dram read + write) */
    ENG_EVENT_SPM,  /* the SPM serves a request: duration until its last bank is done,
                     * amount its words (their sum is spm reads + writes), tag those that
                     * found their bank busy (their sum is spm.conflicts) */
    ENG_EVENT_DMA,  /* the DMA completes a descriptor: tag its tag, amount its bytes (their
                     * sum is dma.bytes) */
    /* Reservations, told when made and out of cycle order (cycle is when they begin): */
    ENG_EVENT_LINK,         /* a message takes a router-to-router link: component tells the
                             * links apart, cycle when it begins, duration its flits */
    ENG_EVENT_DRAM_CHANNEL, /* a request takes a DRAM channel: component the channel,
                             * cycle when it begins (now or later), amount its bytes there */
    ENG_EVENT_DMA_CHANNEL,  /* a descriptor lets its DMA channel go: component the channel
                             * (the lowest free one when it was taken), cycle when it took
                             * it (earlier), tag its tag, amount its bytes */
    ENG_EVENT_DMA_TAKE,     /* a descriptor takes DMA channel component (now), tag its tag */
    ENG_EVENT_KIND_COUNT
} eng_event_kind;

typedef struct eng_event {
    eng_event_kind kind;
    uint32_t component;
    uint64_t cycle, duration, amount;
    uint64_t tag;            /* PE, NoC and DMA: the tag (a NoC part's: its part); SPM: conflicts */
    bool write;              /* DRAM, SPM and the channels: a write (DMA: a store) */
    const eng_pattern *dram; /* DMA: the DRAM elements it moved (valid during the call) */
} eng_event;

/* Who watches a run (eng_run_observed): told of every DRAM burst as its channel takes it
 * (the cycle, the burst's first byte in the program's address space, write or read), in
 * the order the DRAM serves the requests, and of every event above at the cycle it
 * happens (events come in cycle order, except the reservations). NULL members are not
 * called. */
typedef struct eng_observer {
    void (*dram_burst)(void *ctx, uint64_t cycle, uint64_t byte_addr, bool write);
    void (*event)(void *ctx, const eng_event *e);
    uint32_t kinds; /* the event kinds it wants, bit 1 << kind each (0: all) */
    void *ctx;
    /* when it turns nonzero (a signal handler's flag), the run stops at its next event and
     * fails with "interrupted" (NULL: never) */
    const volatile sig_atomic_t *stop;
} eng_observer;
/* eng_run, with obs (may be NULL) told what happens. */
int eng_run_observed(const arch_desc *a, const eng_program *p, float *image,
                     const eng_observer *obs, eng_stats *stats, char *err, size_t errlen);

/* Who simulates a program: a scheduler with eng_run_observed's contract (the same
 * results), run with ctx. eng_run_with(NULL, ...) is eng_run_observed. */
typedef struct eng_runner {
    const char *name; /* "native", "systemc" */
    int (*run)(void *ctx, const arch_desc *a, const eng_program *p, float *image,
               const eng_observer *obs, eng_stats *stats, char *err, size_t errlen);
    void *ctx;
} eng_runner;
int eng_run_with(const eng_runner *r, const arch_desc *a, const eng_program *p, float *image,
                 const eng_observer *obs, eng_stats *stats, char *err, size_t errlen);

/* Router-to-router links of the array's NoC (skip links included): the links
 * ENG_EVENT_LINK events name. */
uint32_t eng_noc_links(const arch_desc *a);

/* The same run, one component at a time, for other schedulers (the SystemC binding).
 * Components only post events to other components at least one cycle ahead, so the
 * order in which components are stepped within a cycle does not change the result. */
int eng_sim_create(const arch_desc *a, const eng_program *p, float *image, eng_sim **out, char *err,
                   size_t errlen);
/* Tells obs (NULL: nobody) of the run's events, as eng_run_observed does; its stop flag is
 * the scheduler's to poll. */
void eng_sim_observe(eng_sim *s, const eng_observer *obs);
/* Calls fn for every event posted from now on: the component it is for and its cycle (so
 * that a scheduler can wake that component; the first events are already posted). */
void eng_sim_on_post(eng_sim *s, void (*fn)(void *ctx, uint32_t comp, uint64_t time), void *ctx);
uint32_t eng_sim_components(const eng_sim *s);
/* Cycle of the component's next event, UINT64_MAX when it has none. */
uint64_t eng_sim_next(const eng_sim *s, uint32_t comp);
/* Processes the component's events at cycle now (which must equal eng_sim_next). */
void eng_sim_step(eng_sim *s, uint32_t comp, uint64_t now);
/* True once the last phase has finished (later events, if any, change nothing). */
bool eng_sim_done(const eng_sim *s);
/* After the last event: checks completion and fills stats (caller frees with
 * eng_stats_free). */
int eng_sim_finish(eng_sim *s, eng_stats *stats, char *err, size_t errlen);
void eng_sim_destroy(eng_sim *s);

/* ---------------------------------------------------------------- estimating */

/* The closed-form estimate of one phase: the interval between tags in steady state (the
 * largest of its terms), one tag's latency, and the phase's cycles. */
typedef struct eng_phase_estimate {
    double interval;
    double t_pe;      /* busiest PE function unit or injection link, per tag */
    double t_link;    /* busiest NoC link (routed as the engine routes), per tag */
    double t_port;    /* busiest SPM port injection, per tag */
    double t_spm;     /* SPM bank accesses over banks x ports, per tag */
    double t_dram;    /* DRAM bursts over bandwidth, per tag */
    double t_feed;    /* in-order feeding of instructions deep in a tag's latency */
    double t_slots;   /* SPM input and output slots: their fetch and write-back loops */
    double t_weights; /* DRAM cycles of one repeat's weights, instruction by instruction */
    double latency;
    double tag_time; /* one tag alone: fetched, through the array, stored */
    double cycles;
    double lane_ops, read_bytes, write_bytes; /* the whole phase */
} eng_phase_estimate;

/* A program's estimated totals: cycles, and the useful lane operations and DRAM bytes
 * its instructions and tag patterns imply; counts holds the action counts the engine
 * would report (vector operations per unit, buffer, SPM, NoC, DMA and DRAM traffic: exact
 * from the program but for bursts and SPM words, which follow the sampled tags), with
 * no per-PE breakdown (counts.pe is NULL) and no contention figures. */
typedef struct eng_estimate_total {
    uint64_t cycles, lane_ops, dram_read_bytes, dram_write_bytes;
    eng_stats counts;
} eng_estimate_total;

/* Estimates a program without simulating it (phases may be NULL, or hold p->n_phases
 * entries for the breakdown). */
int eng_estimate(const arch_desc *a, const eng_program *p, eng_phase_estimate *phases,
                 eng_estimate_total *total, char *err, size_t errlen);

#endif

/* internal.h: component state and event plumbing shared by the engine's source files. */
#ifndef BFLY_ENGINE_INTERNAL_H
#define BFLY_ENGINE_INTERNAL_H

#include "engine.h"

/* Cycles between vector operations of `lanes` lanes on unit fu (an FP32 lane takes two
 * FP16 lanes of the unit): the engine's firing rule, shared with the estimate. */
static inline uint64_t eng_fu_interval(const arch_desc *a, util_dtype t, uint32_t lanes,
                                       arch_fu_kind fu)
{
    uint32_t lpc = a->pe.fu[fu].lanes_per_cycle;
    if (t == UTIL_FP32)
        lpc = lpc / 2 ? lpc / 2 : 1;
    return util_ceil_div(lanes, lpc);
}

/* ---------------------------------------------------------------- events */

typedef struct ev {
    uint64_t time;
    uint32_t to;    /* the component it is for */
    uint64_t order; /* source component << 40 | the source's post count */
    uint32_t kind;
    uint32_t a;
    uint64_t b;
    void *p;
    uint32_t
        epoch; /* group (or repeat) it was posted in: late credits of a finished one are dropped */
    uint32_t stream; /* controller events: the stream (phase of the group) they concern */
} ev;

typedef struct evheap {
    ev *v;
    size_t n, cap;
} evheap;

/* One cycle's events from head on, in (component, post order) order once sorted. */
typedef struct evslot {
    ev *v;
    uint32_t head, n, cap;
    bool sorted;
} evslot;

/* eng_run's queue: a timing wheel of ENG_WHEEL cycles from `base` (the events are near
 * the present: a cycle's slot is found in O(1), its events appended and sorted once when
 * its cycle comes), and a heap for the few further away. */
#define ENG_WHEEL 4096
typedef struct evwheel {
    evslot *slot;
    uint64_t base; /* the slots hold cycles base .. base + ENG_WHEEL - 1 */
    size_t n;      /* events in the slots */
    evheap far;
} evwheel;

enum ev_kind {
    EV_CTL_PHASE,       /* start the next group of phases */
    EV_CTL_IN_READY,    /* a = in slot: DMA put the tag's input into the SPM */
    EV_CTL_FEED_READ,   /* a = in slot: one feed read left the SPM */
    EV_CTL_CREDIT,      /* a = consumer instruction freed a slot fed from the SPM */
    EV_CTL_OUT_WRITTEN, /* b = tag, a = elements written into its output slot */
    EV_CTL_STORED,      /* b = tag: DMA wrote its output to DRAM */
    EV_CTL_STAGED,      /* a = staging slot: weights arrived in the SPM */
    EV_CTL_STAGE_SENT,  /* a = staging slot: weights left the SPM */
    EV_CTL_PART_USED,   /* a = instruction of the stream: a streamed weight part was used */
    EV_DMA_REQ,         /* p = descriptor */
    EV_DMA_ACCEPTED,    /* p = descriptor: DRAM took the last burst */
    EV_DMA_DATA,        /* p = descriptor: DRAM read data or write completion */
    EV_DMA_SPM_DONE,    /* p = descriptor: SPM side of the transfer finished */
    EV_DMA_ONCHIP_DONE, /* p = descriptor: its on-chip source or destination was served */
    EV_DRAM_REQ,        /* p = descriptor */
    EV_SPM_REQ,         /* p = SPM request */
    EV_NOC_HOP,         /* p = message: its head reached router (msg->r, msg->c) */
    EV_PE_CONFIG,       /* p = message carrying an instruction and its weights */
    EV_PE_DATA,         /* p = message carrying one transfer of a tag */
    EV_PE_CREDIT,       /* a = producer instruction, b = its target index */
    EV_PE_PART,         /* p = message carrying a streamed weight part */
    EV_PE_STEP,         /* a = instruction: a step of a streamed firing (not its last) done */
    EV_PE_DONE,         /* a = instruction, b = tag */
    EV_PE_WAKE
};

/* ---------------------------------------------------------------- pools */

/* Free-list pool of equal-size objects; each object begins with a pool_link. */
typedef struct pool_link {
    struct pool_link *next_free;
    struct pool_link *all_next; /* every object ever allocated, for cleanup */
} pool_link;

typedef struct pool {
    size_t size;
    pool_link *free, *all;
} pool;

/* An object with everything after its link zeroed, or NULL when memory runs out. */
void *eng_pool_get(pool *p);
void eng_pool_put(pool *p, void *obj);
void eng_pool_destroy(pool *p);

/* ---------------------------------------------------------------- messages */

enum msg_kind { MSG_DATA, MSG_CONFIG, MSG_PART };

typedef struct msg {
    pool_link link;
    enum msg_kind kind;
    uint32_t src_node, dst_node;
    uint32_t flits;
    uint32_t index; /* MSG_DATA: transfer; MSG_CONFIG, MSG_PART: instruction */
    uint64_t tag;   /* MSG_PART: the part's number in the instruction's stream of parts */
    uint32_t r, c;  /* router the head is at */
    float *payload; /* functional mode only */
} msg;

/* ---------------------------------------------------------------- DMA and DRAM */

enum dma_dir { DMA_IN, DMA_OUT, DMA_WEIGHTS };

typedef struct dma_desc {
    pool_link link;
    enum dma_dir dir;
    uint32_t stream;
    uint32_t slot; /* SPM slot (input, output or staging) */
    uint64_t tag;
    eng_pattern dram;  /* element addresses */
    uint64_t spm_addr; /* byte address of the SPM slot */
    uint64_t elems;
    uint64_t bursts;
    uint32_t lane;          /* the channel it took */
    uint64_t taken;         /* when it took it */
    struct dma_desc *next;  /* the DMA queue */
    uint32_t chan_bursts[]; /* per DRAM channel */
} dma_desc;

/* ---------------------------------------------------------------- SPM requests */

enum spm_after {
    SPM_AFTER_DMA,    /* notify the DMA engine */
    SPM_AFTER_ONCHIP, /* the on-chip side of a DMA transfer (instead of DRAM) is done */
    SPM_AFTER_FEED,   /* inject a data message, tell the controller */
    SPM_AFTER_CONFIG, /* inject a configuration message, tell the controller */
    SPM_AFTER_OUTPUT  /* a message was written into an output slot */
};

typedef struct spm_req {
    pool_link link;
    bool write;
    enum spm_after after;
    uint64_t base;   /* byte address of the slot */
    eng_pattern pat; /* element positions inside the slot */
    uint32_t port;   /* SPM port for injection */
    msg *m;          /* message to inject, or the one just ejected */
    dma_desc *d;
    uint32_t slot;
    uint32_t stream;
} spm_req;

/* ---------------------------------------------------------------- components */

enum comp_kind { COMP_CTL, COMP_DMA, COMP_DRAM, COMP_SPM, COMP_NOC, COMP_PE };

typedef struct comp {
    uint32_t id;
    enum comp_kind kind;
    uint32_t index; /* PE index for COMP_PE */
    evheap inbox;
    uint64_t posts;
} comp;

/* A consumer that a producer instruction (or the controller) holds credits for. */
typedef struct target {
    int32_t instr; /* consumer instruction, -1 for the SPM output slots */
    uint32_t credit;
} target;

typedef struct instr_state {
    const eng_instr *ins;
    uint32_t index;  /* in the group */
    uint32_t stream; /* the phase of the group it belongs to */
    bool configured;
    uint64_t config_ready;
    uint64_t next_fire;
    uint32_t step;       /* streamed weights: steps of tag next_fire begun */
    uint64_t part_in[2]; /* streamed weights: the part in each half of the double buffer
                          * (part k goes to half k % 2; a later part may arrive first) */
    uint32_t expect;     /* elements arriving per tag */
    uint32_t *received;  /* per slot */
    uint32_t n_in, n_out;
    uint32_t *in_x, *out_x; /* transfer indices */
    uint32_t n_targets;
    target *targets; /* consumers this instruction holds credits for */
    uint32_t n_prod;
    int32_t *prod_instr;   /* producers (group indices) to return credits to (-1: the controller) */
    uint32_t *prod_target; /* our index in each producer's target list */
    uint32_t *prod_port;   /* SPM port of a controller feed */
    uint64_t *out_ring;    /* out_slots entries: cycle each result slot frees */
    float *buf;            /* functional: tags x local_elems */
    float *weights;        /* functional */
} instr_state;

typedef struct pe_state {
    comp base;
    uint32_t row, col;
    uint32_t n_instr;
    uint32_t *instr; /* indices of this PE's instructions */
    uint64_t fu_free[ARCH_FU_COUNT];
    uint64_t inject_free;
    uint64_t wake_at; /* pending wake-up, UINT64_MAX if none */
} pe_state;

typedef struct link_state {
    uint64_t free;
} link_state;

/* A transfer of the running group: its stream and its endpoints among the group's
 * instructions. */
typedef struct group_xfer {
    const eng_xfer *t;
    uint32_t stream;
    int32_t src, dst; /* group instruction indices, -1 for the SPM */
    uint32_t target;  /* index in its producer's target list */
} group_xfer;

/* One phase of the running group: its controller state. */
typedef struct ctl_stream {
    const eng_phase *ph;
    uint32_t phase;                 /* number in the program */
    uint32_t instr_base, xfer_base; /* its instructions and transfers in the group's lists */
    uint64_t spm_base;  /* SPM byte address of its input slots (output slots, staging follow) */
    uint64_t ring_base; /* SPM byte address of its FIFO ring (chained with fifo_tags) */
    uint64_t ring_elems;
    uint64_t next_in;     /* next tag to fetch from DRAM */
    uint64_t fetched;     /* tags whose inputs arrived, counted in tag order (ring only) */
    uint64_t next_feed;   /* next tag to send to the array */
    uint32_t feed_x;      /* next feed transfer of that tag */
    uint64_t next_store;  /* next tag to write back */
    uint64_t stored;      /* tags written back, counted in tag order */
    uint64_t *out_stored; /* per output slot: last tag written back from it (UINT64_MAX: none) */
    uint32_t *in_state;   /* per input slot: 0 free, 1 loading, 2 ready, 3 feeding */
    uint32_t *in_reads;   /* feed reads outstanding per input slot */
    uint64_t *in_tag;     /* tag held by each input slot */
    uint32_t *in_parts;   /* per input slot: DMA parts of its tag still loading */
    uint32_t *out_parts;  /* per output slot: DMA parts of its tag still storing */
    uint64_t *out_elems;  /* per output slot: elements written */
    bool *out_done;       /* per output slot: complete, waiting for its turn */
    uint32_t *feed;       /* transfers from the SPM */
    uint32_t n_feed;
    uint32_t *feed_credit; /* per instruction: credits for SPM feeds */
    uint64_t *feed_tag;    /* per instruction: last tag a credit was taken for */
    uint32_t n_fed;        /* feed_each: instructions fed from the SPM */
    uint32_t *fed_first;   /* feed_each: each one's feeds start at feed[fed_first[j]] */
    uint64_t *fed_next;    /* feed_each: the next tag each one takes */
    uint32_t *drain_instr; /* instructions writing into output slots */
    uint32_t *drain_port;  /* and the SPM port each writes through */
    uint32_t n_drain;
    uint32_t next_weight; /* next instruction to configure */
    uint32_t stage_free;  /* staging slots free (bit mask) */
    uint32_t stage_instr[ENG_STAGE_MAX];
    uint64_t stage_part[ENG_STAGE_MAX]; /* a streamed part's number, UINT64_MAX: a configuration */
    /* streamed weights: the instructions that stream, and per instruction the next part
     * to load and the PE's free part buffers (two each) */
    uint32_t n_streamed;
    uint32_t *streamed;
    uint64_t *part_next;
    uint32_t *part_room;
    uint64_t stage_base;  /* SPM byte address of the staging slots */
    uint32_t stage_elems; /* elements per staging slot */
} ctl_stream;

struct eng_sim {
    const arch_desc *a;
    const eng_program *p;
    float *image;
    const eng_observer *obs; /* NULL: nobody watches */
    bool functional;
    uint64_t now;
    uint32_t lanes; /* SIMD lanes for the program's data type */
    uint32_t elem_bytes;
    uint32_t link_bytes;

    /* components: ctl, dma, dram, spm, noc, then the PEs */
    uint32_t n_comps;
    comp **comps;
    comp ctl_c, dma_c, dram_c, spm_c, noc_c;
    pe_state *pes;

    /* eng_run: every event in one queue, ordered by (time, component, post order): the
     * order in which stepping the components one at a time handles them (the inboxes
     * serve eng_sim_step instead) */
    evwheel queue;
    bool one_queue;
    /* the step interface's binding, told of every event posted (eng_sim_on_post) */
    void (*on_post)(void *ctx, uint32_t comp, uint64_t time);
    void *on_post_ctx;

    pool msgs, spm_reqs, dma_descs;

    /* the running group: phases phase .. phase + n_streams - 1, one stream each */
    uint32_t phase;
    uint64_t repeat; /* of a one-phase group */
    uint32_t epoch;  /* counts groups (and repeats) begun */
    bool done;
    uint32_t n_streams, streams_left;
    ctl_stream *str;
    uint32_t n_is; /* the group's instructions, all streams */
    instr_state *is;
    uint32_t n_xf; /* the group's transfers */
    group_xfer *xf;

    /* DMA and DRAM */
    struct {
        dma_desc *head, *tail;
        uint32_t busy;
        uint64_t lanes; /* the channels taken, one bit each (for ENG_EVENT_DMA_CHANNEL) */
    } dma;
    uint64_t *dram_free; /* per channel */
    uint64_t dram_latency;
    double dram_bpc_chan; /* bytes per cycle per channel */

    /* SPM */
    uint64_t *bank_free;
    uint32_t *bank_count;       /* scratch */
    uint64_t *port_inject_free; /* per SPM port */
    float *spm_data;            /* functional: in slots, out slots, staging */
    uint64_t onchip_base;       /* SPM byte address of the program's on-chip region */
    uint64_t kept_base;         /* SPM byte address of the kept weights */
    uint64_t *kept_loaded;      /* a bit per kept weight: loaded from DRAM already */
    uint64_t spm_out_base;      /* byte addresses */
    uint64_t spm_data_elems;

    /* NoC */
    uint32_t n_nodes;
    link_state *links;
    uint32_t n_links;
    uint32_t link_dirs; /* outgoing links per router */

    eng_stats st;
    int fault; /* first internal error or allocation failure */
    char fault_msg[256];
};

/* kernel.c */
void eng_post(eng_sim *s, comp *from, comp *to, uint64_t time, uint32_t kind, uint32_t a,
              uint64_t b, void *p);
/* An event for the controller about one stream. */
void eng_post_ctl(eng_sim *s, comp *from, uint64_t time, uint32_t kind, uint32_t stream, uint32_t a,
                  uint64_t b);
msg *eng_msg_alloc(eng_sim *s);
void eng_msg_free(eng_sim *s, msg *m);
spm_req *eng_spm_req_alloc(eng_sim *s);
void eng_spm_req_free(eng_sim *s, spm_req *r);
dma_desc *eng_dma_alloc(eng_sim *s);
void eng_dma_free(eng_sim *s, dma_desc *d);
void eng_oom(eng_sim *s); /* records an allocation failure */
void eng_fault(eng_sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t eng_flits(const eng_sim *s, uint64_t elems);
/* Whether every element of q lies in first .. first + elems - 1. */
bool eng_pattern_within(const eng_pattern *q, uint64_t first, uint64_t elems);
/* Whether image pattern q lies in the program's on-chip region; rel gets its positions
 * there. */
bool eng_region_place(const eng_program *p, const eng_pattern *q, eng_pattern *rel);
/* Whether image pattern q lies in the FIFO ring (ring_elems elements, 0: none) of chained
 * phase cons; rel gets its positions there (producer tag t's entry is t mod fifo_tags, so
 * positions wrap). */
bool eng_ring_place(const eng_phase *cons, uint64_t ring_elems, const eng_pattern *q,
                    eng_pattern *rel);
uint32_t eng_manhattan(const eng_sim *s, uint32_t node_a, uint32_t node_b);
void eng_node_pos(const eng_sim *s, uint32_t node, uint32_t *r, uint32_t *c);
/* NoC node of SPM port `port` (the ports follow the routers). */
/* Whether the observer wants events of kind k (inline: tested on every firing, message
 * and hop). */
static inline bool eng_obs_wants(const eng_sim *s, eng_event_kind k)
{
    return s->obs && s->obs->event && (!s->obs->kinds || (s->obs->kinds >> k & 1));
}

static inline uint32_t eng_port_node(const eng_sim *s, uint32_t port)
{
    return s->n_nodes - 2 * s->a->array.rows + port;
}
/* Cycles a one-flit signal (a credit, a freed part buffer) takes between two nodes: one to
 * leave, then a hop per mesh step. Inline: every firing returns credits through it. */
static inline uint64_t eng_signal_latency(const eng_sim *s, uint32_t node_a, uint32_t node_b)
{
    return 1 + (uint64_t)eng_manhattan(s, node_a, node_b) * s->a->noc.hop_latency;
}

/* ctl.c */
void eng_ctl_free(eng_sim *s);
/* SPM byte address of the output slot of a stream's tag. */
uint64_t eng_out_slot_addr(const eng_sim *s, uint32_t stream, uint64_t tag);
/* Whether a DMA transfer's DRAM side is served on chip (the program's on-chip region, or
 * the FIFO ring its stream reads from (inputs) or the next stream reads (outputs)); if so,
 * its SPM byte base and pattern there. */
bool eng_dma_onchip(const eng_sim *s, const dma_desc *d, uint64_t *base, eng_pattern *pat);
/* Marks the kept weights a weight pattern covers as loaded (bits from p->kept_first on);
 * whether it lies among the kept weights with every one loaded before. */
bool eng_kept_mark(const eng_program *p, uint64_t *loaded, const eng_pattern *q);
/* Words of a kept-weight bitmap. */
uint64_t eng_kept_words(const eng_program *p);
void eng_ctl_handle(eng_sim *s, const ev *e);

/* mem.c */
void eng_dma_handle(eng_sim *s, const ev *e);
void eng_dram_handle(eng_sim *s, const ev *e);
void eng_spm_handle(eng_sim *s, const ev *e);
void eng_spm_submit(eng_sim *s, comp *from, spm_req *r);
void eng_dma_submit(eng_sim *s, comp *from, dma_desc *d);

/* noc.c */
int eng_noc_init(eng_sim *s);
/* Sends m (already on its way out of node src at cycle t, first flit on the router's
 * input at t) from the router next to src_node toward dst_node. */
void eng_noc_send(eng_sim *s, comp *from, msg *m, uint64_t head_at_router);
void eng_noc_handle(eng_sim *s, const ev *e);

/* pe.c */
int eng_pe_begin_group(eng_sim *s);
void eng_pe_end_group(eng_sim *s);
void eng_pe_handle(eng_sim *s, pe_state *pe, const ev *e);

#endif

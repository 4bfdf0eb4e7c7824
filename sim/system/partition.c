/* partition.c: how attention and linear layers split over devices, and what the
 * collectives that join them cost.
 *
 * Notes: collectives follow the alpha-beta model (a message costs the link's latency plus
 * its bytes over the link's bandwidth; Thakur, Rabenseifner and Gropp, IJHPCA 2005). Links
 * are full duplex, a node sends on one link at a time, and nothing else shares a link:
 * contention between collectives, switch buffering and the time to add the received
 * data (the reduction's compute) are left out. */
#include <math.h>
#include <stddef.h>

#include "system.h"

static const char *const split_names[SYS_SPLIT_COUNT] = {"ranges", "strided"};

const char *sys_split_name(sys_split k)
{
    return k < SYS_SPLIT_COUNT ? split_names[k] : "?";
}

size_t sys_shard_tokens(sys_split k, uint64_t n, uint32_t p, uint32_t s, uint64_t *tokens)
{
    size_t m = 0;
    if (p == 0 || s >= p)
        return 0;
    if (k == SYS_SPLIT_RANGES) {
        /* n s / p without overflow for n up to 2^40 and p up to 2^20 */
        uint64_t lo = n / p * s + n % p * s / p, hi = n / p * (s + 1) + n % p * (s + 1) / p;
        for (uint64_t t = lo; t < hi; t++)
            tokens[m++] = t;
    } else {
        for (uint64_t t = s; t < n; t += p)
            tokens[m++] = t;
    }
    return m;
}

bool sys_apportion(uint64_t items, uint32_t n, const double *rate, uint64_t *first, uint64_t *count)
{
    double total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += rate[i] > 0 ? rate[i] : 0;
    if (!(total > 0))
        return false;
    uint64_t given = 0;
    for (uint32_t i = 0; i < n; i++) {
        double share = rate[i] > 0 ? (double)items * rate[i] / total : 0;
        count[i] = (uint64_t)floor(share);
        given += count[i];
    }
    /* the rest, one each, to the largest remainders (the lower device on ties) */
    while (given < items) {
        uint32_t best = n;
        double best_rem = -1;
        for (uint32_t i = 0; i < n; i++) {
            if (!(rate[i] > 0))
                continue;
            double rem = (double)items * rate[i] / total - (double)count[i];
            if (rem > best_rem)
                best = i, best_rem = rem;
        }
        count[best]++;
        given++;
    }
    uint64_t at = 0;
    for (uint32_t i = 0; i < n; at += count[i], i++)
        first[i] = at;
    return true;
}

uint32_t sys_mesh_rows(uint32_t p)
{
    uint32_t r = 1;
    for (uint32_t k = 1; (uint64_t)k * k <= p; k++)
        r = p % k ? r : k;
    return r;
}

static const char *const coll_names[] = {
    "ring-allreduce", "tree-reduce", "ring-allgather", "gather", "recursive-doubling-allgather",
    "mesh-allgather"};
_Static_assert(sizeof coll_names / sizeof coll_names[0] == SYS_COLLECTIVE_COUNT,
               "a name for every collective");

const char *sys_collective_name(sys_collective c)
{
    return c < SYS_COLLECTIVE_COUNT ? coll_names[c] : "?";
}

/* Steps (latencies paid in turn) and bytes each node sends, per the algorithms above. */
static void collective_terms(sys_collective c, uint32_t p, double bytes, double *steps,
                             double *sent)
{
    double q = p;
    switch (c) {
    case SYS_RING_ALLREDUCE:
        *steps = 2 * (q - 1), *sent = 2 * (q - 1) / q * bytes;
        return;
    case SYS_TREE_REDUCE:
        *steps = ceil(log2(q)), *sent = *steps * bytes; /* the root's link, step by step */
        return;
    case SYS_RING_ALLGATHER:
        *steps = q - 1, *sent = (q - 1) * bytes;
        return;
    case SYS_RD_ALLGATHER:
        *steps = ceil(log2(q)), *sent = (q - 1) * bytes;
        return;
    case SYS_MESH_ALLGATHER: {
        uint32_t r = sys_mesh_rows(p), cols = p / r;
        *steps = (cols - 1) + (r - 1);
        *sent = (cols - 1) * bytes + (r - 1) * (double)cols * bytes; /* = (p - 1) blocks */
        return;
    }
    case SYS_GATHER:
    default:
        *steps = q - 1, *sent = (q - 1) * bytes; /* all through the root's one link */
        return;
    }
}

double sys_collective_time(sys_collective c, uint32_t p, double bytes, double bytes_per_s,
                           double latency_s)
{
    if (p <= 1)
        return 0;
    double steps, sent;
    collective_terms(c, p, bytes, &steps, &sent);
    return steps * latency_s + sent / bytes_per_s;
}

double sys_collective_bytes(sys_collective c, uint32_t p, double bytes)
{
    if (p <= 1)
        return 0;
    double steps, sent;
    collective_terms(c, p, bytes, &steps, &sent);
    return sent;
}

double sys_link_energy_j(const sys_desc *s, double bytes)
{
    /* a ring's or a mesh's link once (a mesh all-gather passes each block neighbour to
     * neighbour); a switch's two (in and out); shared DRAM a write and a read */
    double links = s->topology == SYS_TOPO_RING || s->topology == SYS_TOPO_MESH ? 1 : 2;
    return bytes * 8 * links * s->link_pj_per_bit * 1e-12;
}

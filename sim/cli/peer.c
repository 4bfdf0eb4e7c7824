/* peer.c: the command line's run of a peer accelerator (arch/peers/, docs/PEERS.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/config.h"
#include "../peer/peer.h"
#include "../report/report.h"
#include "internal.h"

/* The options a peer run does not take: NULL when none is set. */
static const char *peer_refuses(const options *o)
{
    if (o->functional || o->fault_twiddle || o->fault_merge)
        return o->functional ? "--functional" : "--inject-fault";
    if (o->analytical)
        return "--model=analytical (a peer's model is closed-form already)";
    if (o->mapping || o->dump_mapping || o->explain)
        return o->mapping ? "--mapping" : o->dump_mapping ? "--dump-mapping" : "--explain";
    if (o->accelergy)
        return "--accelergy";
    if (cli_tracing(o) || o->systemc)
        return o->systemc ? "--engine=systemc" : cli_tracing(o);
    if (o->peer)
        return "--peer (the ARCH is a peer already)";
    if (o->baseline_given || o->no_chain || o->no_fuse || o->objective != MAP_LATENCY)
        return o->baseline_given ? "--baseline" : "--no-chain, --no-fuse or --objective";
    for (size_t i = 0; i < o->n_sets; i++)
        if (strcmp(o->sets[i].file, "arch") && strcmp(o->sets[i].file, "workload"))
            return "--set of a file other than arch or workload";
    return NULL;
}

/* Loads peer preset path (with the overrides sets) and the arch whose energy table prices
 * it, and runs workload w on it. */
static int load_and_run(const char *path, const cfg_override *sets, size_t n_sets, const wl_desc *w,
                        bool ideal, peer_desc *p, peer_result *res, double *area_mm2, char *msg,
                        size_t len)
{
    arch_desc ea = {0};
    char ea_path[CFG_DIR_MAX + 64];
    int rc = cfg_load_peer(path, sets, n_sets, p, msg, len);
    /* priced with the energy table of the mld arch the preset names */
    if (!rc && p->energy_arch[0] &&
        !(rc = cfg_preset_path(CFG_PRESET_ARCH, p->energy_arch, ea_path, sizeof ea_path, msg, len)))
        rc = cfg_load_arch(ea_path, NULL, 0, &ea, msg, len);
    if (!rc)
        rc = peer_run(p, w, ideal, p->energy_arch[0] ? &ea.energy : NULL, res, msg, len);
    *area_mm2 = rc || !p->energy_arch[0] ? 0 : peer_area_mm2(p, &ea.area);
    return rc;
}

int cli_peer_versus(const options *o, const wl_desc *w, peer_desc *p, peer_result *res,
                    double *area_mm2, char *msg, size_t len)
{
    char path[CFG_DIR_MAX + 64], why[1024];
    int rc = cfg_preset_path(CFG_PRESET_PEER, o->peer, path, sizeof path, why, sizeof why);
    if (rc)
        return util_fail(rc, msg, len, "--peer=%s: %s", o->peer, why);
    if (!cfg_is_peer(path))
        return util_fail(UTIL_ECONFIG, msg, len, "--peer=%s: not a peer accelerator (arch/peers/)",
                         o->peer);
    return load_and_run(path, NULL, 0, w, false, p, res, area_mm2, msg, len);
}

int cli_run_peer(const options *o, const char *peer_path, const char *wl_path, FILE *out, FILE *err)
{
    const char *no = peer_refuses(o);
    if (no) {
        fprintf(err, "bflysim: %s is not supported for peer accelerators yet (docs/PEERS.md)\n",
                no);
        return UTIL_ECONFIG;
    }
    char msg[2048];
    peer_desc p;
    wl_desc *w = malloc(sizeof *w);
    peer_result res = {0};
    double area = 0;
    int rc = w ? UTIL_OK : util_fail(UTIL_ERUN, msg, sizeof msg, "out of memory");
    if (!rc)
        rc = cfg_load_workload(wl_path, o->sets, o->n_sets, w, msg, sizeof msg);
    if (!rc)
        rc = load_and_run(peer_path, o->sets, o->n_sets, w, o->ideal_memory, &p, &res, &area, msg,
                          sizeof msg);
    if (rc) {
        fprintf(err, "bflysim: %s\n", msg);
        free(w);
        return rc;
    }
    const char *ovs[CLI_MAX_SETS];
    size_t n_ovs = cli_override_args(o, ovs);
    rep_peer_run run = {.version = PACKAGE_VERSION,
                        .peer_file = o->arch_file,
                        .wl_file = o->wl_file,
                        .peer = &p,
                        .wl = w,
                        .res = &res,
                        .ideal = o->ideal_memory,
                        .area_mm2 = area,
                        .argc = o->argc,
                        .argv = o->argv,
                        .n_overrides = n_ovs,
                        .overrides = ovs};
    if (!o->quiet)
        rep_peer_summary(out, &run);
    if (o->json && (rc = rep_write_peer_json(o->json, &run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    if (!rc && o->csv && (rc = rep_append_peer_csv(o->csv, &run, msg, sizeof msg)))
        fprintf(err, "bflysim: %s\n", msg);
    peer_free(&res);
    free(w);
    return rc;
}

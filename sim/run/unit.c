/* unit.c: what each unit of a model computes on which PE, for the observers of a run. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* Adds what to a PE's label, after its others ("", when it has none). */
static void add_label(char *label, const char *what)
{
    size_t n = strlen(label), w = strlen(what);
    if (!n) {
        snprintf(label, RUN_WHAT_MAX, "%s", what);
        return;
    }
    /* (a PE in several instructions of one stage is labelled once) */
    for (const char *at = strstr(label, what); at; at = strstr(at + 1, what))
        if ((at == label || (at - label >= 2 && at[-2] == ',')) && (at[w] == '\0' || at[w] == ','))
            return;
    if (n + 2 + w < RUN_WHAT_MAX) {
        memcpy(label + n, ", ", 2);
        memcpy(label + n + 2, what, w + 1);
    }
}

/* Labels the PEs of instructions i0 .. i0 + n - 1 of phase f. */
static void label_instrs(const eng_phase *f, uint32_t i0, uint32_t n, const char *what,
                         char (*pe_what)[RUN_WHAT_MAX])
{
    for (uint32_t i = i0; i < i0 + n && i < f->n_instr; i++)
        add_label(pe_what[f->instr[i].pe], what);
}

/* Labels the PEs of phases ph0 .. ph0 + n - 1 of p. */
static void label_phases(const eng_program *p, uint32_t ph0, uint32_t n, const char *what,
                         char (*pe_what)[RUN_WHAT_MAX])
{
    for (uint32_t k = ph0; k < ph0 + n && k < p->n_phases; k++)
        label_instrs(&p->phases[k], 0, p->phases[k].n_instr, what, pe_what);
}

void run_label_pes(const eng_program *p, const char *what, char (*pe_what)[RUN_WHAT_MAX])
{
    label_phases(p, 0, p->n_phases, what, pe_what);
}

void run_describe_unit(const arch_desc *a, const plan *p, uint32_t b, uint32_t i, run_unit_desc *u)
{
    const plan_op *head = &p->ops[b][i];
    uint32_t n = head->chain_len;
    u->op = head->wl.name;
    u->block = b;
    u->n_pes = arch_pe_count(a);
    memset(u->pe_what, 0, u->n_pes * sizeof *u->pe_what);
    size_t len = 0;
    u->ops[0] = '\0';
    for (uint32_t k = i; k < i + n; k++) {
        const char *name = p->ops[b][k].wl.name;
        if (len + strlen(name) + 5 >= sizeof u->ops) {
            snprintf(u->ops + len, sizeof u->ops - len, "+...");
            break;
        }
        len += (size_t)snprintf(u->ops + len, sizeof u->ops - len, "%s%s", k > i ? "+" : "", name);
    }
    const eng_program *prog = run_unit_prog(p, b, i);
    if (head->fused) { /* each stage of the pipeline by its name: "ffn1 stages 0-7" */
        for (uint32_t s = 0; s < head->fuse.n_stages; s++) {
            const map_fuse_stage *st = &head->fuse.stage[s];
            if (st->segment < prog->n_phases)
                label_instrs(&prog->phases[st->segment], st->i0, st->n_i, st->what, u->pe_what);
        }
        return;
    }
    /* a chain's phases are its ops' phases, one op after another */
    uint32_t ph = 0;
    for (uint32_t k = i; k < i + n; k++)
        ph += p->ops[b][k].map.program.n_phases;
    if (ph != prog->n_phases) { /* (cannot tell the ops apart) */
        run_label_pes(prog, u->ops, u->pe_what);
        return;
    }
    ph = 0;
    for (uint32_t k = i; k < i + n; k++) {
        uint32_t np = p->ops[b][k].map.program.n_phases;
        label_phases(prog, ph, np, p->ops[b][k].wl.name, u->pe_what);
        ph += np;
    }
}

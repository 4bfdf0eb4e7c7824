/* area.c: a design's silicon area by component, from its node's area figures.
 *
 * Notes. Models the area of what the simulator models, at the table's node (docs/AREA.md):
 * each PE's function units (a unit of lanes_per_cycle lanes at the table's per-lane
 * figure), its operand buffer and its instruction store (8-byte entries) as SRAM, its
 * issue logic; the SPM banks as SRAM; a router per PE whose area grows with its ports
 * (5, and 4 more per skip-link stride) and its link width; the DMA engine and the
 * controller as fixed blocks. Leaves out: wires between PEs (routed over the logic),
 * pads, the DRAM PHY, clock and power distribution, test logic, and the white space of a
 * placed design. */
#include "arch.h"

const char *arch_area_part_name(arch_area_part p)
{
    static const char *const names[ARCH_AREA_PART_COUNT] = {
        "datapath", "PE buffers", "PE control", "SPM", "NoC", "DMA and controller"};
    return (unsigned)p < ARCH_AREA_PART_COUNT ? names[p] : "?";
}

double arch_area_mm2(const arch_desc *a, double parts[ARCH_AREA_PART_COUNT])
{
    const arch_area *t = &a->area;
    for (int i = 0; i < ARCH_AREA_PART_COUNT; i++)
        parts[i] = 0;
    if (!t->present)
        return 0;
    double P = arch_pe_count(a), lane = 0;
    for (int u = 0; u < ARCH_FU_COUNT; u++)
        lane += a->pe.fu[u].lanes_per_cycle * t->fu_um2[u];
    double ports = 5 + 4.0 * a->noc.n_skip;
    parts[ARCH_AREA_DATAPATH] = P * lane;
    parts[ARCH_AREA_PE_BUFFERS] = P * a->pe.buffer_bytes / 1024.0 * t->sram_um2_per_kb;
    parts[ARCH_AREA_PE_CONTROL] =
        P * (a->pe.istore * 8 / 1024.0 * t->sram_um2_per_kb + t->pe_control_um2);
    parts[ARCH_AREA_SPM] = (double)arch_spm_bytes(a) / 1024.0 * t->sram_um2_per_kb;
    parts[ARCH_AREA_NOC] = P * ports * a->noc.link_bits * t->router_um2_per_port_bit;
    parts[ARCH_AREA_DMA_CONTROL] = t->dma_um2 + t->controller_um2;
    double sum = 0;
    for (int i = 0; i < ARCH_AREA_PART_COUNT; i++)
        sum += parts[i] *= 1e-6; /* (um2 to mm2) */
    return sum;
}

#!/usr/bin/env python3
"""scripts/energy-tables.py: writes arch/energy/NODE.cfg, the per-node energy tables, from
the 45 nm reference figures and the scaling factors of DESIGN.md section 7. Run it from the
repository root after changing a reference figure or a factor; the tables say where each
number comes from."""

# Dynamic energy relative to 45 nm at equal Vdd (Stillmaker and Baas, "Scaling equations
# for the accurate prediction of CMOS device performance from 180 nm to 7 nm",
# Integration 58, 2017). 28 and 12 nm are interpolated linearly between their neighbours.
FACTORS = {45: (1.0, "reference"), 32: (0.66, "Stillmaker & Baas 2017"),
           20: (0.22, "Stillmaker & Baas 2017"), 16: (0.17, "Stillmaker & Baas 2017"),
           14: (0.14, "Stillmaker & Baas 2017"), 10: (0.12, "Stillmaker & Baas 2017"),
           7: (0.094, "Stillmaker & Baas 2017")}


# Area relative to 45 nm (Stillmaker and Baas 2017, as Accelergy's hwcomponents tabulates
# them: hwcomponents/scaling/techscaling.py).
AREA = {45: (1.0, "reference"), 32: (0.46, "Stillmaker & Baas 2017"),
        20: (0.21, "Stillmaker & Baas 2017"), 16: (0.19, "Stillmaker & Baas 2017"),
        14: (0.17, "Stillmaker & Baas 2017"), 10: (0.10, "Stillmaker & Baas 2017"),
        7: (0.059, "Stillmaker & Baas 2017")}


def lerp(table, node, hi, lo):
    """The factor at node, linear between the published nodes hi > node > lo."""
    fh, fl = table[hi][0], table[lo][0]
    return (fh - (hi - node) / (hi - lo) * (fh - fl), f"interpolated {hi}-{lo} nm")


for t in (FACTORS, AREA):
    t[28] = lerp(t, 28, 32, 20)
    t[12] = lerp(t, 12, 14, 10)

H = "Horowitz, ISSCC 2014"
M16, A16, M32, A32 = 1.1, 0.4, 3.7, 0.9  # Horowitz: FP16 and FP32 multiply and add, pJ
# (key, 45 nm value, scaled with the node?, source)
REF = [
    ("mac_fp16_pj", M16 + A16, True, f"{H}: FP16 mul 1.1 + add 0.4 (ASSUMPTION: a multiply-add costs both)"),
    ("add_fp16_pj", A16, True, f"{H}: FP16 add"),
    ("mul_fp16_pj", M16, True, f"{H}: FP16 mul"),
    ("max_fp16_pj", A16, True, "ASSUMPTION: a compare costs an FP16 add"),
    ("exp_fp16_pj", 4 * M16 + 3 * A16, True, "ASSUMPTION: 4 FP16 mul + 3 add (a polynomial after range reduction)"),
    ("rcp_fp16_pj", 3 * M16 + 2 * A16, True, "ASSUMPTION: 3 FP16 mul + 2 add (Newton steps after a table seed)"),
    ("mac_fp32_pj", M32 + A32, True, f"{H}: FP32 mul 3.7 + add 0.9 (ASSUMPTION as for FP16)"),
    ("add_fp32_pj", A32, True, f"{H}: FP32 add"),
    ("mul_fp32_pj", M32, True, f"{H}: FP32 mul"),
    ("max_fp32_pj", A32, True, "ASSUMPTION: a compare costs an FP32 add"),
    ("exp_fp32_pj", 4 * M32 + 3 * A32, True, "ASSUMPTION: 4 FP32 mul + 3 add"),
    ("rcp_fp32_pj", 3 * M32 + 2 * A32, True, "ASSUMPTION: 3 FP32 mul + 2 add"),
    ("sram_read_pj", 20.0, True, f"{H}: 64-bit read of a 32 KB SRAM (8 KB: 10, 1 MB: 100, so about sqrt(size))"),
    ("sram_write_pj", 20.0, True, "ASSUMPTION: a write costs a read"),
    ("router_pj_per_bit", 0.5, True, "ASSUMPTION: input buffer write and read plus crossbar (router models give 0.3-1 pJ/bit at 45 nm)"),
    ("link_pj_per_bit", 0.15, True, "DESIGN.md: wires 0.1-0.2 pJ/bit/mm; ASSUMPTION: 1 mm between PEs at 45 nm, shrinking with the node"),
    ("dma_pj_per_byte", 1.0, True, "ASSUMPTION: address generation and staging of a byte"),
    ("dram_pj_per_bit", 8.0, False, "LPDDR4: Accelergy's table (other sources 4-14); off chip, not scaled"),
    ("pe_leakage_mw", 2.0, True, "ASSUMPTION: an 8-lane FP16 datapath with 16 KiB of buffer"),
    ("spm_leakage_mw_per_kb", 0.05, True, "ASSUMPTION"),
    ("router_leakage_mw", 0.5, True, "ASSUMPTION"),
    ("decode_pj", A16, True, "ASSUMPTION, a guess: tag match, decode and operand select of a firing cost an FP16 add (the 64-bit instruction-store read is priced as an SRAM read)"),
    ("pipeline_pj_per_bit", 0.005, True, "ASSUMPTION, a guess: a flip-flop latching one bit, about half of them toggling"),
    ("clock_pj_per_pe_cycle", 7.0, True, "ASSUMPTION, a guess: an 8-lane PE's ~10k flip-flops at ~2 fJ each a cycle (clock pin and tree wire), a third of them on ungated leaves"),
    ("dram_leakage_mw", 30.0, False, "ASSUMPTION: LPDDR4x background (refresh, standby) of the DRAM behind 2 channels; not scaled"),
]

K = "Kim et al., arXiv 2302.14017, Fig. 15, after Horowitz ISSCC 2014"
# (key, 45 nm area in um2, source); all scaled with AREA
AREA_REF = [
    ("mac_fp16_um2", 1640 + 1360, f"{K}: FP16 mul 1640 + add 1360 (ASSUMPTION: a multiply-add is both)"),
    ("add_fp16_um2", 1360, f"{K}: FP16 add"),
    ("mul_fp16_um2", 1640, f"{K}: FP16 mul"),
    ("max_fp16_um2", 67, f"{K}: a 16-bit integer adder (ASSUMPTION: a compare is one)"),
    ("exp_fp16_um2", 4 * 1640 + 3 * 1360, "ASSUMPTION: 4 FP16 mul + 3 add, as its energy"),
    ("rcp_fp16_um2", 3 * 1640 + 2 * 1360, "ASSUMPTION: 3 FP16 mul + 2 add, as its energy"),
    ("sram_um2_per_kb", 3400, "CACTI 7 (HewlettPackard/cacti 1ffd8df), run for bflysim: 1 KiB-4 MiB scratchpads, 1 port, 1 bank, 0.0032-0.0036 mm2/KiB at 45 nm"),
    ("router_um2_per_port_bit", 133, "McPAT 1.3, run for bflysim: a 5-port 128-bit mesh router, 1 VC x 4 flits, 0.085 mm2 at 45 nm (ASSUMPTION: linear in ports and width; order of magnitude only)"),
    ("pe_control_um2", 2 * 1360, "ASSUMPTION, a guess: a PE's issue, tag matching and decode as two FP16 adders"),
    ("dma_um2", 50000, "ASSUMPTION, a guess: address generators and descriptor queues, 0.05 mm2 at 45 nm"),
    ("controller_um2", 100000, "ASSUMPTION, a guess: the array's controller, 0.1 mm2 at 45 nm"),
]

for node, (f, why) in sorted(FACTORS.items(), reverse=True):
    lines = [f"# arch/energy/{node}nm.cfg: energy per action and leakage at {node} nm, written by",
             "# scripts/energy-tables.py from the 45 nm reference figures. Dynamic energies are",
             f"# the 45 nm figure x {f:.4g} ({why}); DRAM is off chip and not scaled. Leakage is",
             "# scaled like dynamic energy (ASSUMPTION: a simplification; leakage grows relative",
             "# to dynamic energy at small nodes). Override any value in the arch file's energy",
             "# group or with --set arch.energy.KEY=VALUE.",
             f"tech_nm = {node};  # the node these prices are for: an arch naming this table must say the same",
             "energy = {"]
    for key, v, scaled, src in REF:
        text = f"{v * f if scaled else v:.6g}"
        text += "" if "." in text or "e" in text else ".0"  # a float, for libconfig
        lines.append(f"  {key} = {text};  # {src}")
    lines.append("};")
    fa, why_a = AREA[node]
    lines.append(f"area = {{  # um2 at {node} nm: the 45 nm figure x {fa:.4g} ({why_a}); docs/AREA.md")
    for key, v, src in AREA_REF:
        lines.append(f"  {key} = {v * fa:.6g};  # {src}")
    lines.append("};")
    with open(f"arch/energy/{node}nm.cfg", "w") as out:
        out.write("\n".join(lines) + "\n")

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


def lerp(node, hi, lo):
    """The factor at node, linear between the published nodes hi > node > lo."""
    fh, fl = FACTORS[hi][0], FACTORS[lo][0]
    return (fh - (hi - node) / (hi - lo) * (fh - fl), f"interpolated {hi}-{lo} nm")


FACTORS[28] = lerp(28, 32, 20)
FACTORS[12] = lerp(12, 14, 10)

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
    with open(f"arch/energy/{node}nm.cfg", "w") as out:
        out.write("\n".join(lines) + "\n")

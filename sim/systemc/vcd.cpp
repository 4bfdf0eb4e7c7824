// vcd.cpp: waveforms of the array as SystemC signals traced into a VCD file (--vcd).
//
// Notes. A PE is busy from an instruction's issue until its result (overlapping firings
// keep it high), and its tag is the last one it fired. A DMA channel is busy from when a
// descriptor takes it until it lets it go; a DRAM channel over its reservations. The SPM
// signal counts, per cycle, the words whose bank was busy. Signals rise only inside the
// window (cycles of SystemC time, the runs one after another) and fall when their
// activity ends. Not traced: NoC links, SPM banks one by one, PE buffers.
#include <algorithm>
#include <cstdio>

#include "internal.hpp"

namespace bsc
{

enum { PE_ON, PE_MAYBE_OFF, DMA_SET, DRAM_ON, DRAM_MAYBE_OFF, SPM_SET, SPM_MAYBE_OFF };

const uint32_t waves::kinds = 1u << ENG_EVENT_PE | 1u << ENG_EVENT_SPM | 1u << ENG_EVENT_DMA_TAKE |
                              1u << ENG_EVENT_DMA_CHANNEL | 1u << ENG_EVENT_DRAM_CHANNEL;

waves::waves(sc_core::sc_module_name name, const arch_desc *a, const driver &d,
             sc_core::sc_trace_file *tf, uint64_t lo, uint64_t hi)
    : sc_core::sc_module(name), d_(d), lo_(lo), hi_(hi), pe_busy_("pe_busy", arch_pe_count(a)),
      dma_busy_("dma_busy", a->dma.channels), dram_busy_("dram_busy", a->dram.channels),
      pe_tag_("pe_tag", arch_pe_count(a)), spm_conflicts_("spm_conflicts"),
      pe_until_(arch_pe_count(a)), dram_until_(a->dram.channels)
{
    char nm[48];
    for (uint32_t i = 0; i < pe_busy_.size(); i++) {
        std::snprintf(nm, sizeof nm, "pe%u_r%u_c%u.busy", i, i / a->array.cols, i % a->array.cols);
        sc_core::sc_trace(tf, pe_busy_[i], nm);
        std::snprintf(nm, sizeof nm, "pe%u_r%u_c%u.tag", i, i / a->array.cols, i % a->array.cols);
        sc_core::sc_trace(tf, pe_tag_[i], nm);
    }
    for (uint32_t i = 0; i < dma_busy_.size(); i++) {
        std::snprintf(nm, sizeof nm, "dma%u.busy", i);
        sc_core::sc_trace(tf, dma_busy_[i], nm);
    }
    for (uint32_t i = 0; i < dram_busy_.size(); i++) {
        std::snprintf(nm, sizeof nm, "dram%u.busy", i);
        sc_core::sc_trace(tf, dram_busy_[i], nm);
    }
    sc_core::sc_trace(tf, spm_conflicts_, "spm.conflicts");
    SC_METHOD(apply);
    sensitive << due_;
    dont_initialize();
}

// A change at cycle `at` (absolute), applied when SystemC time gets there.
void waves::schedule(uint64_t at, uint32_t what, uint32_t index, uint64_t value)
{
    pending_.push(change{at, what, index, value, seq_++});
    uint64_t now = d_.cycle_at(sc_core::sc_time_stamp());
    due_.notify(static_cast<double>(pending_.top().at - now) * d_.period());
}

void waves::event(const eng_event *e)
{
    // (the run's cycles from where it began in SystemC time; a DRAM reservation may
    // begin later than now, a DMA channel's release comes with when it was taken)
    uint64_t at = d_.run_start() + e->cycle;
    bool in = at >= lo_ && (!hi_ || at < hi_); // only what begins in the window rises
    switch (e->kind) {
    case ENG_EVENT_PE:
        if (in) {
            schedule(at, PE_ON, e->component, e->tag);
            pe_until_[e->component] = std::max(pe_until_[e->component], at + e->duration);
            schedule(at + e->duration, PE_MAYBE_OFF, e->component, 0);
        }
        break;
    case ENG_EVENT_DMA_TAKE:
        if (in)
            schedule(at, DMA_SET, e->component, 1);
        break;
    case ENG_EVENT_DMA_CHANNEL:
        schedule(at + e->duration, DMA_SET, e->component, 0);
        break;
    case ENG_EVENT_DRAM_CHANNEL:
        if (in) {
            schedule(at, DRAM_ON, e->component, 0);
            dram_until_[e->component] = std::max(dram_until_[e->component], at + e->duration);
            schedule(at + e->duration, DRAM_MAYBE_OFF, e->component, 0);
        }
        break;
    case ENG_EVENT_SPM:
        if (in && e->tag) {
            schedule(at, SPM_SET, 0, e->tag);
            schedule(at + 1, SPM_MAYBE_OFF, 0, 0);
        }
        break;
    default:
        break;
    }
}

void waves::apply()
{
    uint64_t now = d_.cycle_at(sc_core::sc_time_stamp());
    while (!pending_.empty() && pending_.top().at <= now) {
        change c = pending_.top();
        pending_.pop();
        switch (c.what) {
        case PE_ON:
            pe_busy_[c.index].write(true);
            pe_tag_[c.index].write(static_cast<unsigned>(c.value));
            break;
        case PE_MAYBE_OFF:
            if (pe_until_[c.index] <= now)
                pe_busy_[c.index].write(false);
            break;
        case DMA_SET:
            dma_busy_[c.index].write(c.value != 0);
            break;
        case DRAM_ON:
            dram_busy_[c.index].write(true);
            break;
        case DRAM_MAYBE_OFF:
            if (dram_until_[c.index] <= now)
                dram_busy_[c.index].write(false);
            break;
        case SPM_SET: // (the cycle's conflicts add up, whichever delta they come in)
            spm_sum_ = (spm_at_ == now ? spm_sum_ : 0) + c.value;
            spm_at_ = now;
            spm_conflicts_.write(static_cast<unsigned>(spm_sum_));
            break;
        case SPM_MAYBE_OFF:
            if (spm_at_ != now)
                spm_conflicts_.write(0);
            break;
        }
    }
    if (!pending_.empty())
        due_.notify(static_cast<double>(pending_.top().at - now) * d_.period());
}

} // namespace bsc

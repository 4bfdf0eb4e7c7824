// internal.hpp: the SystemC binding's modules, shared by its files (engine, waveforms, TLM).
#ifndef BFLY_SYSTEMC_INTERNAL_HPP
#define BFLY_SYSTEMC_INTERNAL_HPP

#include <systemc>

#include <csignal>
#include <cstdint>
#include <deque>
#include <memory>
#include <queue>
#include <string>
#include <vector>

extern "C" {
#include "../arch/arch.h"
#include "../engine/engine.h"
#include "../util/util.h"
}

namespace bsc
{

class component;
class waves;

// The engine's components as SystemC processes, stepping one eng_sim at a time.
class driver : public sc_core::sc_module
{
  public:
    driver(sc_core::sc_module_name name, const arch_desc *a);
    ~driver() override;
    // Simulates p like eng_run_observed, in SystemC time after the runs before it
    // (sc_start: from outside the simulation).
    int run(const arch_desc *a, const eng_program *p, float *image, const eng_observer *obs,
            eng_stats *stats, char *err, size_t errlen);
    // The same in two halves, for a simulation under way: begin wakes the components
    // (finished is notified once the run is over), finish collects the results.
    int begin(const arch_desc *a, const eng_program *p, float *image, const eng_observer *obs,
              char *err, size_t errlen);
    int finish(eng_stats *stats, char *err, size_t errlen);
    sc_core::sc_event finished;
    // Steps component c at the present cycle (its process calls it).
    void step(uint32_t c);
    // The cycle of SystemC time t, counted from the kernel's start.
    uint64_t cycle_at(const sc_core::sc_time &t) const
    {
        return t.value() / period_.value();
    }
    const sc_core::sc_time &period() const
    {
        return period_;
    }
    // The cycle (from the kernel's start) at which the present run began.
    uint64_t run_start() const
    {
        return cycle_at(t0_);
    }
    waves *vcd = nullptr; // told the engine's events too (NULL: no waveforms)
    const volatile sig_atomic_t *stop = nullptr; // stops the run once nonzero (NULL: never)

  private:
    static void posted(void *ctx, uint32_t comp, uint64_t time);
    static void tell(void *ctx, const eng_event *e);
    static void burst(void *ctx, uint64_t cycle, uint64_t byte_addr, bool write);
    uint64_t now() const;
    void end();

    const arch_desc *a_;
    sc_core::sc_time period_, t0_;
    std::vector<std::unique_ptr<component>> comps_;
    eng_sim *s_ = nullptr;
    const eng_observer *obs_ = nullptr;
    eng_observer both_{}; // the caller's observer and the waveforms'
    bool over_ = false, interrupted_ = false;
};

// Waveforms through sc_trace: each PE's busy signal and current tag, each DMA and DRAM
// channel's busy signal, and the SPM's bank conflicts per cycle, over cycles lo .. hi.
class waves : public sc_core::sc_module
{
  public:
    SC_HAS_PROCESS(waves);
    waves(sc_core::sc_module_name name, const arch_desc *a, const driver &d,
          sc_core::sc_trace_file *tf, uint64_t lo, uint64_t hi);
    void event(const eng_event *e); // an engine event, at the present SystemC time
    static const uint32_t kinds;    // the event kinds it wants

  private:
    struct change {
        uint64_t at;    // cycle
        uint32_t what;  // enum below
        uint32_t index; // PE, channel
        uint64_t value;
        uint64_t seq; // (changes of one cycle apply in the order they were made)
        bool operator>(const change &o) const
        {
            return at != o.at ? at > o.at : seq > o.seq;
        }
    };
    void schedule(uint64_t at, uint32_t what, uint32_t index, uint64_t value);
    void apply();

    const driver &d_;
    uint64_t lo_, hi_;
    sc_core::sc_vector<sc_core::sc_signal<bool>> pe_busy_, dma_busy_, dram_busy_;
    sc_core::sc_vector<sc_core::sc_signal<unsigned>> pe_tag_;
    sc_core::sc_signal<unsigned> spm_conflicts_;
    std::vector<uint64_t> pe_until_, dram_until_;
    uint64_t seq_ = 0;
    uint64_t spm_at_ = UINT64_MAX, spm_sum_ = 0; // the last cycle with conflicts, and theirs
    std::priority_queue<change, std::vector<change>, std::greater<change>> pending_;
    sc_core::sc_event due_;
};

} // namespace bsc

#endif

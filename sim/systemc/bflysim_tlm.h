// bflysim_tlm.h: bflysim's PE array as a SystemC TLM-2.0 target for virtual platforms.
//
// The accelerator runs butterfly-linear layers (y = B x on ROWS vectors of N elements,
// FP16) on the array of its arch file, cycle by cycle under the platform's SystemC
// kernel. A driver programs it through memory-mapped 32-bit registers on `ctrl`; the
// accelerator's DMA reads and writes the platform's memory through `mem` (blocking
// transport: the loosely-timed style, annotated delays summed in MEM_NS). Its DRAM image
// lives in platform memory from BASE on, element i as an IEEE float32 at BASE + 4 i.
// The array's own DRAM model (the arch's channels, bandwidth and latency) times the
// run, so its cycles are the native engine's; the memory's delays are reported, not
// added. `irq` rises when a run ends (with IRQ_ENABLE set) until IRQ_STATUS is cleared.
//
// Use: pkg-config --cflags --libs bflysim-tlm. docs/SYSTEMC.md has an example.
#ifndef BFLYSIM_TLM_H
#define BFLYSIM_TLM_H

#include <memory>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

namespace bflysim
{

class accelerator : public sc_core::sc_module
{
  public:
    // Register offsets on ctrl (32-bit, little-endian).
    enum reg : unsigned {
        CTRL = 0x00,        // W: CMD_LOAD, then CMD_START
        STATUS = 0x04,      // R: STATUS_* bits
        CYCLES_LO = 0x08,   // R: cycles of the last run
        CYCLES_HI = 0x0c,   //
        N = 0x10,           // RW: elements per vector (a power of two, 2 or more)
        ROWS = 0x14,        // RW: vectors
        SEED = 0x18,        // RW: the seed of the layer's twiddles (default 1)
        BASE_LO = 0x20,     // RW: the DRAM image's address in platform memory
        BASE_HI = 0x24,     //
        X_OFF = 0x28,       // R: after CMD_LOAD, the element where the input x begins
        Y_OFF = 0x2c,       // R: ... where the output y begins
        IMAGE_ELEMS = 0x30, // R: ... elements of the image (4 bytes each in memory)
        IRQ_ENABLE = 0x34,  // RW: bit 0 raises irq when a run ends
        IRQ_STATUS = 0x38,  // R, write 1 to clear: bit 0, a run ended
        MEM_NS_LO = 0x40,   // R: the memory's annotated delays of the last run (ns)
        MEM_NS_HI = 0x44,   //
    };
    // CTRL commands: CMD_LOAD maps the layer N x ROWS on the array and writes the image
    // (its twiddles, zeros elsewhere) to memory; the driver then puts x at X_OFF.
    // CMD_START runs it: y appears at Y_OFF by the time the run ends.
    enum command : unsigned { CMD_LOAD = 1, CMD_START = 2 };
    enum status : unsigned {
        STATUS_LOADED = 1,
        STATUS_BUSY = 2,
        STATUS_DONE = 4,
        STATUS_ERROR = 8
    };

    SC_HAS_PROCESS(accelerator);
    tlm_utils::simple_target_socket<accelerator> ctrl;
    tlm_utils::simple_initiator_socket<accelerator> mem;
    sc_core::sc_out<bool> irq;

    // arch: an arch file or the name of a shipped preset (e.g. "mld-8x8").
    accelerator(sc_core::sc_module_name name, const char *arch);
    ~accelerator() override;
    // The last error (after STATUS_ERROR), empty when none.
    const char *error() const;

    struct impl;

  private:
    void transport(tlm::tlm_generic_payload &t, sc_core::sc_time &delay);
    void ended();
    void drive_irq();
    std::unique_ptr<impl> p_;
};

} // namespace bflysim

#endif

// tests/tlm_platform.cpp: an example virtual platform around the TLM-2.0 target, and its test.
//
// A memory (a loosely-timed target: 10 ns per transaction plus 1 ns per 16 bytes), the
// accelerator on mld-8x8, and a driver thread that programs the accelerator's
// registers, puts the inputs of a 1024-point butterfly layer on 64 vectors in memory,
// starts it, waits for the interrupt and reads the outputs. Checked: every output within
// the rounding-error bound of the double-precision reference and equal, bit for bit, to
// the native engine's on the same mapping; the cycles equal the native engine's; a
// second run gives the same; bad commands set STATUS_ERROR, and mid-run leave the run
// busy and its program in place.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <bflysim_tlm.h> // (installed: pkg-config --cflags bflysim-tlm)

extern "C" {
#include "../sim/config/config.h"
#include "../sim/engine/engine.h"
#include "../sim/mapper/mapper.h"
#include "../sim/ref/ref.h"
#include "../sim/workload/workload.h"
}

namespace
{

int failures = 0;

void expect(bool ok, const char *what)
{
    if (!ok) {
        std::fprintf(stderr, "tlm_platform: FAILED: %s\n", what);
        failures++;
    }
}

// Platform memory: bytes, with delays annotated as a simple DRAM would take them.
struct memory : sc_core::sc_module {
    tlm_utils::simple_target_socket<memory> socket;
    std::vector<unsigned char> bytes;
    uint64_t transactions = 0;
    explicit memory(sc_core::sc_module_name n, size_t size)
        : sc_core::sc_module(n), socket("socket"), bytes(size)
    {
        socket.register_b_transport(this, &memory::transport);
    }
    void transport(tlm::tlm_generic_payload &t, sc_core::sc_time &delay)
    {
        uint64_t a = t.get_address(), len = t.get_data_length();
        if (a + len > bytes.size()) {
            t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
            return;
        }
        if (t.is_read())
            std::memcpy(t.get_data_ptr(), &bytes[a], len);
        else
            std::memcpy(&bytes[a], t.get_data_ptr(), len);
        delay += sc_core::sc_time(10.0 + static_cast<double>(len) / 16, sc_core::SC_NS);
        transactions++;
        t.set_response_status(tlm::TLM_OK_RESPONSE);
    }
};

const uint64_t BASE = 0x10000, N = 1024, ROWS = 64;

struct driver : sc_core::sc_module {
    SC_HAS_PROCESS(driver);
    tlm_utils::simple_initiator_socket<driver> bus;
    sc_core::sc_in<bool> irq;
    memory &mem;
    explicit driver(sc_core::sc_module_name n, memory &m)
        : sc_core::sc_module(n), bus("bus"), irq("irq"), mem(m)
    {
        SC_THREAD(run);
    }

    uint32_t access(tlm::tlm_command cmd, unsigned reg, uint32_t v = 0)
    {
        tlm::tlm_generic_payload t;
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        t.set_command(cmd);
        t.set_address(reg);
        t.set_data_ptr(reinterpret_cast<unsigned char *>(&v));
        t.set_data_length(4);
        t.set_streaming_width(4);
        t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        bus->b_transport(t, delay);
        expect(t.is_response_ok(), "a register access is answered");
        return v;
    }
    void put(unsigned reg, uint32_t v)
    {
        access(tlm::TLM_WRITE_COMMAND, reg, v);
    }
    uint32_t get(unsigned reg)
    {
        return access(tlm::TLM_READ_COMMAND, reg);
    }
    float *at(uint64_t elem)
    {
        return reinterpret_cast<float *>(&mem.bytes[BASE + 4 * elem]);
    }

    void run();
};

using acc = bflysim::accelerator;

void driver::run()
{
    // a command before the layer is loaded, and a bad size: errors, nothing run
    put(acc::CTRL, acc::CMD_START);
    expect(get(acc::STATUS) & acc::STATUS_ERROR, "CMD_START before CMD_LOAD sets STATUS_ERROR");
    put(acc::N, 1000);
    put(acc::CTRL, acc::CMD_LOAD);
    expect(get(acc::STATUS) & acc::STATUS_ERROR, "N = 1000 sets STATUS_ERROR");

    put(acc::N, N);
    put(acc::ROWS, ROWS);
    put(acc::BASE_LO, static_cast<uint32_t>(BASE));
    put(acc::BASE_HI, 0);
    put(acc::IRQ_ENABLE, 1);
    put(acc::CTRL, acc::CMD_LOAD);
    expect(get(acc::STATUS) == acc::STATUS_LOADED, "CMD_LOAD loads the layer");
    uint64_t x = get(acc::X_OFF), y = get(acc::Y_OFF), elems = get(acc::IMAGE_ELEMS);
    expect(BASE + 4 * elems <= mem.bytes.size(), "the image fits the platform memory");

    // the inputs, as the CPU would write them
    wl_butterfly b{};
    b.n = N, b.rows = ROWS, b.stages = 10, b.dtype = UTIL_FP16, b.seed = 1, b.init = WL_INIT_RANDOM;
    std::vector<float> in(N * ROWS), tw(wl_twiddle_count(&b));
    wl_butterfly_inputs(&b, in.data());
    wl_butterfly_twiddles(&b, tw.data());
    std::memcpy(at(x), in.data(), 4 * in.size());

    uint64_t cycles[2];
    for (int k = 0; k < 2; k++) {
        uint64_t before = mem.transactions;
        put(acc::CTRL, acc::CMD_START);
        expect(get(acc::STATUS) & acc::STATUS_BUSY, "CMD_START makes it busy");
        if (k == 0) { /* commands refused mid-run leave it running, its program in place */
            put(acc::CTRL, acc::CMD_START);
            put(acc::CTRL, acc::CMD_LOAD);
            expect(get(acc::STATUS) == (acc::STATUS_LOADED | acc::STATUS_BUSY | acc::STATUS_ERROR),
                   "a command refused mid-run keeps the run busy");
        }
        sc_core::sc_time t0 = sc_core::sc_time_stamp();
        wait(irq.posedge_event());
        expect(get(acc::STATUS) == (acc::STATUS_LOADED | acc::STATUS_DONE), "the run is done");
        cycles[k] = get(acc::CYCLES_LO) | static_cast<uint64_t>(get(acc::CYCLES_HI)) << 32;
        expect(sc_core::sc_time_stamp() - t0 ==
                   sc_core::sc_time(static_cast<double>(cycles[k]), sc_core::SC_NS),
               "the run took its cycles of SystemC time (1 GHz)");
        expect(mem.transactions > before && get(acc::MEM_NS_LO) > 0,
               "the DMA went through the memory socket");
        put(acc::IRQ_STATUS, 1);
        wait(sc_core::sc_time(1, sc_core::SC_NS)); // (the signal changes a delta later)
        expect(!irq.read(), "clearing IRQ_STATUS lowers irq");
    }
    expect(cycles[0] == cycles[1], "a second run takes the same cycles");

    // the reference: double-precision math within its rounding-error bound
    std::vector<double> want(N * ROWS), bound(N * ROWS);
    ref_butterfly(N, ROWS, tw.data(), in.data(), want.data());
    double u = util_dtype_unit_roundoff(UTIL_FP16) + 0x1p-52;
    ref_butterfly_bound(N, ROWS, tw.data(), in.data(), u, 0x1p-25, bound.data());
    uint64_t off = 0;
    for (uint64_t i = 0; i < N * ROWS; i++)
        off += std::fabs(at(y)[i] - want[i]) > bound[i];
    expect(off == 0, "every output is within the reference's rounding-error bound");

    // the native engine on the same mapping: the same cycles, the same bits
    arch_desc a;
    char path[4096], err[512];
    map_result m;
    eng_stats st;
    expect(!cfg_preset_path(CFG_PRESET_ARCH, "mld-8x8", path, sizeof path, err, sizeof err) &&
               !cfg_load_arch(path, nullptr, 0, &a, err, sizeof err) &&
               !map_butterfly_search(&a, &b, true, nullptr, &m, err, sizeof err),
           "the layer maps natively");
    std::vector<float> image(m.dram_elems);
    map_write_weights(&m, &b, tw.data(), image.data());
    std::memcpy(&image[m.x_addr], in.data(), 4 * in.size());
    expect(!eng_run(&a, &m.program, image.data(), &st, err, sizeof err), "the native run");
    expect(st.cycles == cycles[0], "the native engine takes the same cycles");
    expect(!std::memcmp(&image[m.y_addr], at(y), 4 * N * ROWS),
           "the native engine's outputs, bit for bit");
    std::printf(
        "tlm_platform: %llu cycles (native %llu), %llu memory transactions, outputs %s\n",
        static_cast<unsigned long long>(cycles[0]), static_cast<unsigned long long>(st.cycles),
        static_cast<unsigned long long>(mem.transactions), off ? "OFF" : "within the bound");
    eng_stats_free(&st);
    map_free(&m);
}

} // namespace

int sc_main(int, char **)
{
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    memory mem("memory", 16 << 20);
    bflysim::accelerator accel("accelerator", "mld-8x8");
    driver cpu("cpu", mem);
    sc_core::sc_signal<bool> irq("irq");
    cpu.bus.bind(accel.ctrl);
    accel.mem.bind(mem.socket);
    accel.irq(irq);
    cpu.irq(irq);
    sc_core::sc_start();
    std::printf("tlm_platform: %s\n", failures ? "FAILED" : "passed");
    return failures ? 1 : 0;
}

// tlm.cpp: the PE array as a TLM-2.0 target: registers on one socket, DMA on the other.
//
// Notes. The engine runs the layer under the platform's kernel (the binding's driver).
// Its DMA moves data through `mem` at the cycle the engine's DRAM serves it: a read
// burst fetches its elements into the accelerator's copy of the image just before the
// engine uses them, a store writes its elements back once the engine completes it.
// Blocking transport, called from the engine's processes: the memory must not wait()
// (the loosely-timed style); its annotated delays are summed (MEM_NS), and the arch's
// DRAM model times the run. Not modelled: the approximately-timed protocol, DMI, a
// register write's own delay.
#include <cstring>
#include <string>
#include <vector>

#include "bflysim_tlm.h"
#include "internal.hpp"

extern "C" {
#include "../config/config.h"
#include "../mapper/mapper.h"
#include "../workload/workload.h"
}

struct bflysim::accelerator::impl {
    arch_desc arch{};
    std::unique_ptr<bsc::driver> d;
    uint32_t reg[0x48 / 4] = {};
    wl_butterfly b{};
    map_result m{};
    bool mapped = false;
    std::vector<float> image;
    eng_observer obs{};
    uint64_t mem_ps = 0; // annotated delays of this run
    bool mem_failed = false;
    std::string error;
    accelerator *self = nullptr;
    sc_core::sc_event irq_changed;

    uint64_t base() const
    {
        return reg[BASE_LO / 4] | static_cast<uint64_t>(reg[BASE_HI / 4]) << 32;
    }
    // Moves count elements from element `first` of the image to memory or back.
    void move(tlm::tlm_command cmd, uint64_t first, uint64_t count);
    // (a run under way stays busy: its end clears the bit)
    void fail(const char *msg)
    {
        error = msg;
        reg[STATUS / 4] |= STATUS_ERROR;
    }
    void load();
    void start();
    static void burst(void *ctx, uint64_t cycle, uint64_t byte_addr, bool write);
    static void event(void *ctx, const eng_event *e);
};

void bflysim::accelerator::impl::move(tlm::tlm_command cmd, uint64_t first, uint64_t count)
{
    if (first >= image.size())
        return;
    count = std::min<uint64_t>(count, image.size() - first);
    tlm::tlm_generic_payload t;
    sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
    t.set_command(cmd);
    t.set_address(base() + 4 * first);
    t.set_data_ptr(reinterpret_cast<unsigned char *>(&image[first]));
    t.set_data_length(static_cast<unsigned>(4 * count));
    t.set_streaming_width(static_cast<unsigned>(4 * count));
    t.set_byte_enable_ptr(nullptr);
    t.set_dmi_allowed(false);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    self->mem->b_transport(t, delay);
    if (t.is_response_error())
        mem_failed = true;
    mem_ps += static_cast<uint64_t>(delay.to_seconds() * 1e12 + 0.5);
}

// A DRAM read burst: its elements come from memory now, before the engine copies them.
void bflysim::accelerator::impl::burst(void *ctx, uint64_t, uint64_t byte_addr, bool write)
{
    impl *p = static_cast<impl *>(ctx);
    uint32_t eb = util_dtype_bytes(p->b.dtype);
    if (!write)
        p->move(tlm::TLM_READ_COMMAND, byte_addr / eb, p->arch.dram.burst_bytes / eb);
}

// A completed store: its elements go to memory.
void bflysim::accelerator::impl::event(void *ctx, const eng_event *e)
{
    impl *p = static_cast<impl *>(ctx);
    if (e->kind != ENG_EVENT_DMA || !e->write || !e->dram)
        return;
    const eng_pattern *pt = e->dram;
    for (uint64_t i = 0; i < pt->count; i++)
        p->move(tlm::TLM_WRITE_COMMAND, pt->first + i * pt->stride, pt->run);
}

void bflysim::accelerator::impl::load()
{
    char err[512];
    uint64_t n = reg[N / 4], rows = reg[ROWS / 4];
    if (n < 2 || (n & (n - 1)) || rows < 1 || reg[STATUS / 4] & STATUS_BUSY) {
        fail(reg[STATUS / 4] & STATUS_BUSY ? "CMD_LOAD while a run is under way"
                                           : "N must be a power of two from 2, ROWS at least 1");
        return;
    }
    if (mapped)
        map_free(&m);
    mapped = false;
    b = wl_butterfly{};
    b.n = n, b.rows = rows, b.dtype = UTIL_FP16, b.seed = reg[SEED / 4], b.init = WL_INIT_RANDOM;
    b.stages = 0;
    while ((UINT64_C(1) << b.stages) < n)
        b.stages++;
    if (map_butterfly_search(&arch, &b, true, nullptr, &m, err, sizeof err)) {
        fail(err);
        return;
    }
    mapped = true;
    std::vector<float> tw(wl_twiddle_count(&b));
    wl_butterfly_twiddles(&b, tw.data());
    image.assign(m.dram_elems, 0.0f);
    map_write_weights(&m, &b, tw.data(), image.data());
    mem_failed = false;
    for (uint64_t at = 0; at < image.size(); at += 1024)
        move(tlm::TLM_WRITE_COMMAND, at, 1024);
    if (mem_failed) {
        fail("the memory refused a write of the image");
        return;
    }
    reg[X_OFF / 4] = static_cast<uint32_t>(m.x_addr);
    reg[Y_OFF / 4] = static_cast<uint32_t>(m.y_addr);
    reg[IMAGE_ELEMS / 4] = static_cast<uint32_t>(m.dram_elems);
    reg[STATUS / 4] = STATUS_LOADED;
    error.clear();
}

void bflysim::accelerator::impl::start()
{
    char err[512];
    if (!mapped || reg[STATUS / 4] & STATUS_BUSY) {
        fail(mapped ? "CMD_START while a run is under way" : "CMD_START before CMD_LOAD");
        return;
    }
    obs = eng_observer{};
    obs.dram_burst = burst;
    obs.event = event;
    obs.kinds = 1u << ENG_EVENT_DMA;
    obs.ctx = this;
    mem_ps = 0;
    mem_failed = false;
    if (d->begin(&arch, &m.program, image.data(), &obs, err, sizeof err)) {
        fail(err);
        return;
    }
    reg[STATUS / 4] = STATUS_LOADED | STATUS_BUSY;
}

bflysim::accelerator::accelerator(sc_core::sc_module_name name, const char *arch)
    : sc_core::sc_module(name), ctrl("ctrl"), mem("mem"), irq("irq"), p_(new impl)
{
    char path[4096], err[512];
    p_->self = this;
    p_->reg[SEED / 4] = 1;
    if (cfg_preset_path(CFG_PRESET_ARCH, arch, path, sizeof path, err, sizeof err) ||
        cfg_load_arch(path, nullptr, 0, &p_->arch, err, sizeof err))
        SC_REPORT_ERROR("bflysim", err);
    if (sc_core::sc_get_time_resolution() > sc_core::sc_time(1, sc_core::SC_PS))
        SC_REPORT_ERROR("bflysim", "the accelerator needs a time resolution of 1 ps or finer");
    p_->d.reset(new bsc::driver("engine", &p_->arch));
    ctrl.register_b_transport(this, &accelerator::transport);
    SC_METHOD(ended);
    sensitive << p_->d->finished;
    dont_initialize();
    SC_METHOD(drive_irq); // (irq's one driver)
    sensitive << p_->irq_changed;
    dont_initialize();
}

bflysim::accelerator::~accelerator()
{
    if (p_->mapped)
        map_free(&p_->m);
}

void bflysim::accelerator::drive_irq()
{
    irq.write((p_->reg[IRQ_STATUS / 4] & p_->reg[IRQ_ENABLE / 4] & 1) != 0);
}

const char *bflysim::accelerator::error() const
{
    return p_->error.c_str();
}

void bflysim::accelerator::ended()
{
    char err[512];
    eng_stats st;
    int rc = p_->d->finish(&st, err, sizeof err);
    p_->reg[STATUS / 4] &= ~STATUS_BUSY;
    if (rc || p_->mem_failed) {
        p_->fail(rc ? err : "the memory refused a transfer");
    } else {
        p_->reg[STATUS / 4] = STATUS_LOADED | STATUS_DONE;
        p_->reg[CYCLES_LO / 4] = static_cast<uint32_t>(st.cycles);
        p_->reg[CYCLES_HI / 4] = static_cast<uint32_t>(st.cycles >> 32);
    }
    uint64_t ns = p_->mem_ps / 1000;
    p_->reg[MEM_NS_LO / 4] = static_cast<uint32_t>(ns);
    p_->reg[MEM_NS_HI / 4] = static_cast<uint32_t>(ns >> 32);
    eng_stats_free(&st);
    p_->reg[IRQ_STATUS / 4] |= 1;
    p_->irq_changed.notify(sc_core::SC_ZERO_TIME);
}

void bflysim::accelerator::transport(tlm::tlm_generic_payload &t, sc_core::sc_time &)
{
    uint64_t a = t.get_address();
    uint32_t *v = reinterpret_cast<uint32_t *>(t.get_data_ptr());
    if (t.get_data_length() != 4 || a % 4 || a >= sizeof p_->reg || t.get_byte_enable_ptr()) {
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    uint32_t &r = p_->reg[a / 4];
    if (t.is_read()) {
        *v = r;
    } else if (t.is_write()) {
        switch (a) {
        case CTRL:
            if (*v == CMD_LOAD)
                p_->load();
            else if (*v == CMD_START)
                p_->start();
            else
                p_->fail("unknown command");
            break;
        case IRQ_ENABLE:
            p_->irq_changed.notify(sc_core::SC_ZERO_TIME);
            r = *v;
            break;
        case N:
        case ROWS:
        case SEED:
        case BASE_LO:
        case BASE_HI:
            r = *v;
            break;
        case IRQ_STATUS:
            r &= ~*v;
            p_->irq_changed.notify(sc_core::SC_ZERO_TIME);
            break;
        default: // (read-only)
            t.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
            return;
        }
    }
    t.set_response_status(tlm::TLM_OK_RESPONSE);
}

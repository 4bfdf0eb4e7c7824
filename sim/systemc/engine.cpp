// engine.cpp: the engine's components as SystemC processes, scheduled by the SystemC kernel.
//
// Notes. Each component (controller, DMA, DRAM, SPM, NoC, every PE) is an SC_METHOD
// woken by an sc_event at the cycle of its next event: the engine tells the binding of
// every event it posts (eng_sim_on_post), and a component wakes itself again for the
// next one in its inbox. A cycle lasts the clock period rounded to the picosecond. Within
// a cycle the kernel picks the order, which changes nothing (components post to others at
// least a cycle ahead), except that the controller goes first (the others a delta cycle
// later) as in the native scheduler: once it finishes the run, nothing else happens. So
// cycles and every counter equal the native engine's. SystemC has one kernel per process:
// one engine at a time, its runs one after another in SystemC time.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "internal.hpp"
#include "systemc.h"

namespace bsc
{

class component : public sc_core::sc_module
{
  public:
    SC_HAS_PROCESS(component);
    component(sc_core::sc_module_name name, driver &d, uint32_t id)
        : sc_core::sc_module(name), d_(d), id_(id)
    {
        SC_METHOD(run);
        sensitive << wake;
        dont_initialize();
    }
    sc_core::sc_event wake;

  private:
    void run()
    {
        d_.step(id_);
    }
    driver &d_;
    uint32_t id_;
};

driver::driver(sc_core::sc_module_name name, const arch_desc *a)
    : sc_core::sc_module(name), a_(a),
      period_(sc_core::sc_time(std::round(1000.0 / a->clock_ghz), sc_core::SC_PS))
{
    uint32_t n = 5 + arch_pe_count(a); // (eng_sim_components: controller, DMA, DRAM, SPM, NoC, PEs)
    for (uint32_t c = 0; c < n; c++) {
        char nm[32];
        std::snprintf(nm, sizeof nm, "c%u", c);
        comps_.emplace_back(new component(nm, *this, c));
    }
}

driver::~driver() = default;

uint64_t driver::now() const
{
    return cycle_at(sc_core::sc_time_stamp() - t0_);
}

void driver::posted(void *ctx, uint32_t comp, uint64_t time)
{
    driver *d = static_cast<driver *>(ctx);
    d->comps_[comp]->wake.notify(static_cast<double>(time - d->now()) * d->period_);
}

void driver::burst(void *ctx, uint64_t cycle, uint64_t byte_addr, bool write)
{
    const driver *d = static_cast<driver *>(ctx);
    d->obs_->dram_burst(d->obs_->ctx, cycle, byte_addr, write);
}

void driver::tell(void *ctx, const eng_event *e)
{
    driver *d = static_cast<driver *>(ctx);
    if (d->obs_ && d->obs_->event && (!d->obs_->kinds || (d->obs_->kinds >> e->kind & 1)))
        d->obs_->event(d->obs_->ctx, e);
    if (d->vcd && (waves::kinds >> e->kind & 1))
        d->vcd->event(e);
}

// Nothing more happens in this run.
void driver::end()
{
    over_ = true;
    for (auto &c : comps_)
        c->wake.cancel();
    finished.notify(sc_core::SC_ZERO_TIME);
}

void driver::step(uint32_t c)
{
    if (over_)
        return;
    if ((stop && *stop) || (obs_ && obs_->stop && *obs_->stop)) {
        interrupted_ = true;
        end();
        return;
    }
    uint64_t t = now();
    if (c != 0 && eng_sim_next(s_, 0) == t) { // (the controller first)
        comps_[c]->wake.notify(sc_core::SC_ZERO_TIME);
        return;
    }
    if (eng_sim_next(s_, c) == t)
        eng_sim_step(s_, c, t);
    if (eng_sim_done(s_)) {
        end();
        return;
    }
    uint64_t next = eng_sim_next(s_, c);
    if (next != UINT64_MAX)
        comps_[c]->wake.notify(static_cast<double>(next - t) * period_);
}

int driver::begin(const arch_desc *a, const eng_program *p, float *image, const eng_observer *obs,
                  char *err, size_t errlen)
{
    if (s_)
        return util_fail(UTIL_ERUN, err, errlen, "the SystemC engine is running a program");
    if (arch_pe_count(a) != arch_pe_count(a_) || a->clock_ghz != a_->clock_ghz)
        return util_fail(UTIL_ERUN, err, errlen,
                         "the SystemC engine was built for another array (%ux%u at %g GHz)",
                         a_->array.rows, a_->array.cols, a_->clock_ghz);
    int rc = eng_sim_create(a, p, image, &s_, err, errlen);
    if (rc)
        return rc;
    obs_ = obs;
    both_ = eng_observer{};
    both_.event = tell;
    both_.ctx = this;
    both_.dram_burst = obs && obs->dram_burst ? burst : nullptr;
    both_.kinds =
        vcd ? (obs && obs->event ? (obs->kinds ? obs->kinds | waves::kinds : 0) : waves::kinds)
            : (obs ? obs->kinds : 0);
    eng_sim_observe(s_, vcd ? &both_ : obs);
    eng_sim_on_post(s_, posted, this);
    t0_ = sc_core::sc_time_stamp();
    over_ = interrupted_ = false;
    for (uint32_t c = 0; c < comps_.size(); c++) {
        uint64_t next = eng_sim_next(s_, c);
        if (next != UINT64_MAX)
            comps_[c]->wake.notify(static_cast<double>(next) * period_);
    }
    return UTIL_OK;
}

int driver::finish(eng_stats *stats, char *err, size_t errlen)
{
    std::memset(stats, 0, sizeof *stats);
    int rc;
    if (interrupted_)
        rc = util_fail(UTIL_ERUN, err, errlen, "interrupted at cycle %llu",
                       static_cast<unsigned long long>(now()));
    else if (!over_)
        rc = util_fail(UTIL_ERUN, err, errlen, "the SystemC simulation ended before the run");
    else
        rc = eng_sim_finish(s_, stats, err, errlen);
    eng_sim_destroy(s_);
    s_ = nullptr;
    return rc;
}

int driver::run(const arch_desc *a, const eng_program *p, float *image, const eng_observer *obs,
                eng_stats *stats, char *err, size_t errlen)
{
    std::memset(stats, 0, sizeof *stats);
    int rc = begin(a, p, image, obs, err, errlen);
    if (rc)
        return rc;
    try {
        sc_core::sc_start();
    } catch (const sc_core::sc_report &r) { // (an error the kernel reports: not a crash)
        eng_sim_destroy(s_);
        s_ = nullptr;
        return util_fail(UTIL_ERUN, err, errlen, "SystemC: %s", r.what());
    }
    return finish(stats, err, errlen);
}

} // namespace bsc

// ---------------------------------------------------------------- the C interface

struct bsc_engine {
    bsc::driver *d;
    sc_core::sc_trace_file *tf;
    bsc::waves *w;
    std::string vcd, tmp; // the file asked for; the one SystemC writes (tmp + ".vcd")
};

static bool open_once; // (SystemC's kernel: one simulation per process)

// Copies SystemC's VCD file without its $date section: the same run gives the same file.
static bool undate(const char *from, const char *to)
{
    std::FILE *in = std::fopen(from, "r"), *out = in ? std::fopen(to, "w") : nullptr;
    bool ok = in && out, skip = false;
    char line[4096];
    while (ok && std::fgets(line, sizeof line, in)) {
        if (!std::strncmp(line, "$date", 5))
            skip = true;
        if (!skip)
            ok = std::fputs(line, out) >= 0;
        else if (!std::strncmp(line, "$end", 4))
            skip = false;
    }
    ok = ok && !std::ferror(in);
    if (in)
        std::fclose(in);
    if (out && std::fclose(out) != 0)
        ok = false;
    return ok;
}

static int run_cb(void *ctx, const arch_desc *a, const eng_program *p, float *image,
                  const eng_observer *obs, eng_stats *stats, char *err, size_t errlen)
{
    return static_cast<bsc_engine *>(ctx)->d->run(a, p, image, obs, stats, err, errlen);
}

extern "C" int bsc_open(const arch_desc *a, const char *vcd, uint64_t lo, uint64_t hi,
                        const volatile sig_atomic_t *stop, bsc_engine **out, char *err,
                        size_t errlen)
{
    *out = nullptr;
    if (open_once)
        return util_fail(UTIL_ERUN, err, errlen,
                         "one SystemC simulation per process (SystemC has one kernel)");
    open_once = true;
    setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 1); // (it would go to standard output)
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    bsc_engine *e = new bsc_engine{nullptr, nullptr, nullptr, vcd ? vcd : "", ""};
    e->d = new bsc::driver("bflysim", a);
    e->d->stop = stop;
    if (vcd) {
        // SystemC names the file NAME.vcd: write beside the target, rename at the end
        e->tmp = e->vcd + ".tmp" + std::to_string(static_cast<long>(getpid()));
        // (SystemC opens it only once the simulation starts, and throws then: try it now)
        std::FILE *probe = std::fopen((e->tmp + ".vcd").c_str(), "w");
        if (!probe) {
            int rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot write the VCD file (%s)", vcd,
                               std::strerror(errno));
            delete e->d;
            delete e;
            return rc;
        }
        std::fclose(probe);
        e->tf = sc_core::sc_create_vcd_trace_file(e->tmp.c_str());
        if (!e->tf) {
            int rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot create the VCD file", vcd);
            delete e->d;
            delete e;
            return rc;
        }
        e->tf->set_time_unit(1, sc_core::SC_PS);
        e->w = new bsc::waves("waves", a, *e->d, e->tf, lo, hi);
        e->d->vcd = e->w;
    }
    *out = e;
    return UTIL_OK;
}

extern "C" eng_runner bsc_runner(bsc_engine *e)
{
    eng_runner r{"systemc", run_cb, e};
    return r;
}

extern "C" int bsc_close(bsc_engine *e, bool keep, char *err, size_t errlen)
{
    if (!e)
        return UTIL_OK;
    int rc = UTIL_OK;
    if (e->tf) {
        sc_core::sc_close_vcd_trace_file(e->tf);
        std::string written = e->tmp + ".vcd", dated = e->tmp + ".dated";
        if (keep && (std::rename(written.c_str(), dated.c_str()) != 0 ||
                     !undate(dated.c_str(), written.c_str()) ||
                     std::rename(written.c_str(), e->vcd.c_str()) != 0))
            rc = util_fail(UTIL_ERUN, err, errlen, "%s: cannot write the VCD file (%s)",
                           e->vcd.c_str(), std::strerror(errno));
        std::remove(dated.c_str());
        std::remove(written.c_str());
    }
    delete e->w;
    delete e->d;
    delete e;
    return rc;
}

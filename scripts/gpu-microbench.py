#!/usr/bin/env python3
"""gpu-microbench.py: times each GPU kernel class with PyTorch and writes the CSV that
`bflysim --gpu-calibrate CSV` fits a GPU preset's efficiency factors to (docs/GPU.md).

Run it on the GPU you want to model (a Jetson, or any CUDA GPU), in the power mode you
want to model, with the clocks fixed (on a Jetson: `sudo nvpmodel -m MODE` and
`sudo jetson_clocks`). Every row is one kernel class at one size: the flops and DRAM
bytes the model counts for it (docs/GPU.md), the stride of a butterfly pass, the
measured seconds per call and how many kernel launches a call makes. Timing uses CUDA
events around `--repeat` back-to-back calls after `--warmup` calls.

PyTorch is imported only when measuring, so `--help` works without it. `--device cpu`
runs the same kernels on the host with wall-clock timing: a dry run of the script, whose
numbers are not for calibration.
"""

import argparse
import math
import sys

CLASSES = ("gemm", "elementwise", "softmax", "fft", "butterfly", "launch")
HEADER = "name,class,dtype,flops,bytes,stride_bytes,seconds,launches"
ELEM_BYTES = {"fp16": 2, "fp32": 4}


def parse_args(argv):
    p = argparse.ArgumentParser(
        description="Time GPU kernel classes (GEMM, elementwise, softmax, FFT, butterfly "
        "passes, empty kernels) and write the CSV that bflysim --gpu-calibrate reads.",
        epilog="Example: python3 scripts/gpu-microbench.py --out xavier-15w.csv && "
        "bflysim --baseline xavier-nx-15w --gpu-calibrate xavier-15w.csv > my-gpu.cfg",
    )
    p.add_argument("--out", default="gpu-microbench.csv",
                   help="CSV file to write ('-' for standard output; default %(default)s)")
    p.add_argument("--dtypes", default="fp16,fp32",
                   help="comma-separated data types to measure (default %(default)s)")
    p.add_argument("--classes", default=",".join(CLASSES),
                   help="comma-separated kernel classes to measure (default: all)")
    p.add_argument("--device", default="cuda",
                   help="torch device (default %(default)s; 'cpu' is a dry run of the script)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    p.add_argument("--repeat", type=int, default=20, help="timed calls (default 20)")
    p.add_argument("--max-mib", type=float, default=512.0,
                   help="largest working set of one kernel in MiB (default 512; a Jetson "
                   "Nano wants 256)")
    p.add_argument("--butterfly-impl", choices=("auto", "triton", "torch"), default="auto",
                   help="butterfly pass as one Triton kernel, or as four PyTorch kernels "
                   "(auto: Triton when it is installed and works)")
    p.add_argument("--quick", action="store_true",
                   help="small sizes and few calls: checks the script, not the GPU")
    a = p.parse_args(argv)
    a.dtypes = [d.strip() for d in a.dtypes.split(",") if d.strip()]
    a.classes = [c.strip() for c in a.classes.split(",") if c.strip()]
    for d in a.dtypes:
        if d not in ELEM_BYTES:
            p.error(f"unknown dtype '{d}' (allowed: fp16, fp32)")
    for c in a.classes:
        if c not in CLASSES:
            p.error(f"unknown class '{c}' (allowed: {', '.join(CLASSES)})")
    if a.warmup < 0 or a.repeat < 1:
        p.error("--warmup must be >= 0 and --repeat >= 1")
    if a.quick:
        a.warmup, a.repeat = min(a.warmup, 1), min(a.repeat, 2)
    return a


class Bench:
    """Times callables on one device and collects CSV rows."""

    def __init__(self, torch, args):
        self.torch = torch
        self.args = args
        self.dev = torch.device(args.device)
        self.cuda = self.dev.type == "cuda"
        self.rows = []
        self.max_bytes = args.max_mib * (1 << 20)

    def dtype(self, name):
        return {"fp16": self.torch.float16, "fp32": self.torch.float32}[name]

    def seconds(self, fn, calls=1):
        """Mean seconds of one call of fn (calls: inner repetitions per timed call)."""
        torch = self.torch
        for _ in range(self.args.warmup):
            fn()
        if self.cuda:
            torch.cuda.synchronize()
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(self.args.repeat * calls):
                fn()
            end.record()
            torch.cuda.synchronize()
            return start.elapsed_time(end) * 1e-3 / (self.args.repeat * calls)
        import time
        t0 = time.perf_counter()
        for _ in range(self.args.repeat * calls):
            fn()
        return (time.perf_counter() - t0) / (self.args.repeat * calls)

    def add(self, name, cls, dt, flops, nbytes, fn, stride=0, launches=1):
        """Times fn and records a row; a kernel the device cannot run is skipped."""
        try:
            s = self.seconds(fn)
        except (RuntimeError, TypeError, NotImplementedError) as e:
            print(f"gpu-microbench: skipped {name} ({dt}): {str(e).splitlines()[0]}",
                  file=sys.stderr)
            return
        self.rows.append((name, cls, dt, flops, nbytes, stride, s, launches))

    def fits(self, nbytes):
        return nbytes <= self.max_bytes


def bench_launch(b, dt):
    """Empty-ish kernels back to back: the launch overhead per kernel."""
    x = b.torch.zeros(1, device=b.dev, dtype=b.dtype(dt))
    for i in range(10):
        b.add(f"launch-{i}", "launch", dt, 0, 0, lambda: x.add_(1))


def bench_gemm(b, dt):
    torch, e = b.torch, ELEM_BYTES[dt]
    shapes = [(1024, 1024, 1024), (2048, 2048, 2048), (4096, 4096, 4096),  # compute-bound
              (65536, 256, 64), (32768, 1024, 32), (131072, 128, 16)]      # memory-bound
    if b.args.quick:
        shapes = [(64, 64, 64), (256, 64, 16)]
    for m, n, k in shapes:
        nbytes = (m * k + k * n + m * n) * e
        if not b.fits(nbytes):
            continue
        x = torch.randn(m, k, device=b.dev).to(b.dtype(dt))
        w = torch.randn(k, n, device=b.dev).to(b.dtype(dt))
        y = torch.empty(m, n, device=b.dev, dtype=b.dtype(dt))
        b.add(f"gemm-{m}x{n}x{k}", "gemm", dt, 2 * m * n * k, nbytes,
              lambda x=x, w=w, y=y: torch.matmul(x, w, out=y))


def bench_elementwise(b, dt):
    torch, e = b.torch, ELEM_BYTES[dt]
    F = torch.nn.functional
    sizes = [1 << 22, 1 << 24, 1 << 26] if not b.args.quick else [1 << 12]
    for n in sizes:
        if not b.fits(3 * n * e):
            continue
        x = torch.rand(n, device=b.dev).to(b.dtype(dt))
        z = torch.rand(n, device=b.dev).to(b.dtype(dt))
        y = torch.empty_like(x)
        b.add(f"add-{n}", "elementwise", dt, n, 3 * n * e,
              lambda x=x, z=z, y=y: torch.add(x, z, out=y))
        b.add(f"gelu-{n}", "elementwise", dt, 14 * n, 2 * n * e,
              lambda x=x: F.gelu(x, approximate="tanh"))


def bench_softmax(b, dt):
    torch, e = b.torch, ELEM_BYTES[dt]
    F = torch.nn.functional
    shapes = [(16384, 1024), (4096, 4096), (1024, 16384)] if not b.args.quick else [(64, 256)]
    for r, c in shapes:
        if not b.fits(2 * r * c * e):
            continue
        x = torch.randn(r, c, device=b.dev).to(b.dtype(dt))
        g = torch.ones(c, device=b.dev, dtype=b.dtype(dt))
        beta = torch.zeros(c, device=b.dev, dtype=b.dtype(dt))
        b.add(f"softmax-{r}x{c}", "softmax", dt, 5 * r * c, 2 * r * c * e,
              lambda x=x: torch.softmax(x, dim=-1))
        b.add(f"layernorm-{r}x{c}", "softmax", dt, 7 * r * c, (2 * r * c + 2 * c) * e,
              lambda x=x, g=g, beta=beta: F.layer_norm(x, (x.shape[-1],), g, beta))


def bench_fft(b, dt):
    """Complex FFTs along rows, sizes one cuFFT pass does (docs/GPU.md: stages_per_pass)."""
    torch, e = b.torch, ELEM_BYTES[dt]
    cdt = torch.complex32 if dt == "fp16" else torch.complex64
    sizes = [256, 1024, 4096] if not b.args.quick else [64]
    for n in sizes:
        batch = max(1, int(min(b.max_bytes, 64 << 20) // (4 * n * e)))
        if b.args.quick:
            batch = 16
        try:
            x = torch.randn(batch, n, 2, device=b.dev).to(b.dtype(dt))
            x = torch.view_as_complex(x.float()).to(cdt)
        except (RuntimeError, TypeError) as err:
            print(f"gpu-microbench: skipped fft-{n} ({dt}): {err}", file=sys.stderr)
            continue
        b.add(f"fft-{n}x{batch}", "fft", dt, 5 * n * int(math.log2(n)) * batch,
              2 * batch * n * 2 * e, lambda x=x: torch.fft.fft(x, dim=-1))


TRITON_KERNEL = None


def triton_pass(torch):
    """A butterfly pass as one Triton kernel (None when Triton is missing)."""
    global TRITON_KERNEL
    if TRITON_KERNEL is not None:
        return TRITON_KERNEL
    try:
        import triton
        import triton.language as tl
    except ImportError:
        return None

    @triton.jit
    def bfly(x_ptr, y_ptr, tw_ptr, half, stride, total, n, BLOCK: tl.constexpr):
        p = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)  # pair over all rows
        m = p < total
        q = p % half                                          # pair within its row
        j0 = (p // half) * n + (q // stride) * 2 * stride + q % stride
        x0 = tl.load(x_ptr + j0, mask=m).to(tl.float32)
        x1 = tl.load(x_ptr + j0 + stride, mask=m).to(tl.float32)
        a = tl.load(tw_ptr + 4 * q, mask=m).to(tl.float32)
        b_ = tl.load(tw_ptr + 4 * q + 1, mask=m).to(tl.float32)
        c = tl.load(tw_ptr + 4 * q + 2, mask=m).to(tl.float32)
        d = tl.load(tw_ptr + 4 * q + 3, mask=m).to(tl.float32)
        tl.store(y_ptr + j0, (a * x0 + b_ * x1).to(y_ptr.dtype.element_ty), mask=m)
        tl.store(y_ptr + j0 + stride, (c * x0 + d * x1).to(y_ptr.dtype.element_ty), mask=m)

    def run(x, y, tw, n, s):
        total = x.numel() // 2
        grid = (triton.cdiv(total, 1024),)
        bfly[grid](x, y, tw, n // 2, s, total, n, BLOCK=1024)

    TRITON_KERNEL = run
    return run


def bench_butterfly(b, dt):
    """One butterfly stage per pass over rows x n (pairs j, j + s): every stride of a
    log2(n)-stage butterfly, so the calibration sees small strides (docs/GPU.md)."""
    torch, e = b.torch, ELEM_BYTES[dt]
    sizes = [1024, 4096] if not b.args.quick else [64]
    impl = b.args.butterfly_impl
    tri = triton_pass(torch) if impl != "torch" and b.cuda else None
    if impl == "triton" and tri is None:
        sys.exit("gpu-microbench: --butterfly-impl triton needs Triton and a CUDA device")
    for n in sizes:
        rows = max(1, int(min(b.max_bytes, 64 << 20) // (2 * n * e)))
        if b.args.quick:
            rows = 8
        x = torch.randn(rows, n, device=b.dev).to(b.dtype(dt))
        y = torch.empty_like(x)
        tw = torch.randn(n // 2, 4, device=b.dev).to(b.dtype(dt))  # per pair: a, b, c, d
        for st in range(int(math.log2(n))):
            s = 1 << st
            flops, nbytes = 3 * n * rows, 2 * rows * n * e + 2 * n * e
            name = f"butterfly-{n}x{rows}-s{s}"
            if tri is not None:
                fn = (lambda x=x, y=y, tw=tw, n=n, s=s: tri(x, y, tw, n, s))
                try:
                    fn()
                except Exception as err:  # noqa: BLE001 - any compile failure: fall back
                    if impl == "triton":
                        raise
                    print(f"gpu-microbench: Triton failed ({err}); using PyTorch",
                          file=sys.stderr)
                    tri = None
            if tri is not None:
                b.add(name, "butterfly", dt, flops, nbytes, fn, stride=s * e)
                continue
            # four PyTorch kernels a pass: the views pair element j with j + s
            xv, yv = x.view(rows, n // (2 * s), 2, s), y.view(rows, n // (2 * s), 2, s)
            t = tw.view(n // (2 * s), s, 4)
            a, bb, c, d = (t[..., i].contiguous() for i in range(4))
            tmp = torch.empty(rows, n // (2 * s), s, device=b.dev, dtype=x.dtype)

            def eager(xv=xv, yv=yv, a=a, bb=bb, c=c, d=d, tmp=tmp):
                lo, hi = xv[:, :, 0, :], xv[:, :, 1, :]
                torch.mul(a, lo, out=tmp)
                torch.addcmul(tmp, bb, hi, out=yv[:, :, 0, :])
                torch.mul(c, lo, out=tmp)
                torch.addcmul(tmp, d, hi, out=yv[:, :, 1, :])

            b.add(name, "butterfly", dt, flops, nbytes, eager, stride=s * e, launches=4)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import torch
    except ImportError:
        sys.exit("gpu-microbench: PyTorch is not installed (pip install torch, or NVIDIA's "
                 "JetPack wheel on a Jetson)")
    import warnings
    warnings.filterwarnings("ignore", message="ComplexHalf support is experimental")
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("gpu-microbench: no CUDA device (use --device cpu for a dry run)")
    b = Bench(torch, args)
    benches = {"launch": bench_launch, "gemm": bench_gemm, "elementwise": bench_elementwise,
               "softmax": bench_softmax, "fft": bench_fft, "butterfly": bench_butterfly}
    with torch.no_grad():
        for dt in args.dtypes:
            for cls in args.classes:
                benches[cls](b, dt)
    device = torch.cuda.get_device_name(b.dev) if b.cuda else "host CPU (dry run)"
    lines = [f"# gpu-microbench.py: {device}, torch {torch.__version__}",
             "# columns: docs/GPU.md (calibration); seconds per call", HEADER]
    for name, cls, dt, flops, nbytes, stride, s, launches in b.rows:
        lines.append(f"{name},{cls},{dt},{flops:.17g},{nbytes:.17g},{stride},{s:.9g},"
                     f"{launches}")
    text = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w", encoding="ascii") as f:
            f.write(text)
        print(f"gpu-microbench: {len(b.rows)} kernels on {device} written to {args.out}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

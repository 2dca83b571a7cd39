"""Benchmark of the demo data generator: wall time and peak memory at scale.

Runs `fidela.demo.generate` (default: 1,000,000 customers, about 10 million order lines, both
formats) and prints the wall time against the "in minutes" budget of 300 s and the peak
resident memory against 1 GiB, as ratios (below 1.0 is within budget), plus rows per table.

    .venv/bin/python bench/generate.py --customers 1000000
    /usr/bin/time -v .venv/bin/python bench/generate.py --customers 1000000 --format parquet
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import shutil
import sys
import tempfile

from fidela.demo import GenerationConfig, generate

TIME_LIMIT_SECONDS = 300.0
MEMORY_LIMIT_MIB = 1024.0
FORMATS = {"both": ("parquet", "csv"), "parquet": ("parquet",), "csv": ("csv",)}


def _peak_rss_mib() -> float:
    """Peak resident set size of this process (and any children), in MiB."""
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _size_mib(path: pathlib.Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / (1024 * 1024)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--format", choices=sorted(FORMATS), default="both")
    parser.add_argument("--chunk-size", type=int, default=20_000)
    parser.add_argument(
        "--out", type=pathlib.Path, default=None, help="output directory (default: a temp dir)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp output directory")
    args = parser.parse_args(argv)

    temporary = args.out is None
    out = pathlib.Path(tempfile.mkdtemp(prefix="fidela-demo-")) if temporary else args.out
    config = GenerationConfig(
        customers=args.customers,
        seed=args.seed,
        out_dir=out,
        formats=FORMATS[args.format],
        chunk_size=args.chunk_size,
    )
    step = max(1, args.customers // 10)
    reported = [0]

    def progress(done: int, total: int) -> None:
        if done - reported[0] >= step or done == total:
            reported[0] = done
            print(f"  {done:>12,} / {total:,} customers", flush=True)

    try:
        report = generate(config, progress=progress)
        peak = _peak_rss_mib()
        size = _size_mib(out)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(out, ignore_errors=True)

    rows = sum(report.rows.values())
    for name, count in report.rows.items():
        print(f"  {name:<22} {count:>14,} rows")
    print(
        f"  {rows:,} rows in {report.seconds:.1f} s: {rows / report.seconds:,.0f} rows/s,"
        f" {size:,.0f} MiB written ({args.format}) to {out}"
        + (" (removed)" if temporary and not args.keep else "")
    )
    print(
        f"generate {args.customers:,} customers: {report.seconds:.1f} s"
        f" ({report.seconds / TIME_LIMIT_SECONDS:.2f}x of {TIME_LIMIT_SECONDS:.0f} s limit),"
        f" peak RSS {peak:,.0f} MiB ({peak / MEMORY_LIMIT_MIB:.2f}x of"
        f" {MEMORY_LIMIT_MIB:.0f} MiB)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

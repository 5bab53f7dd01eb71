"""Benchmark: ``ccev normalize`` against bare ``bcftools norm`` on a synthetic tumour/normal VCF.

    python benchmarks/normalize.py [--records 1000000] [--workdir DIR] [--keep]

Writes a synthetic reference (one contig) and a sorted Mutect2-style VCF (SNVs, a share of
multi-allelic sites and right-shifted deletions in homopolymer runs), then runs, each in its own
subprocess so peak memory is per tool:

* ``bcftools norm -m -any -f REF -c wx -Oz`` through pysam (the step we wrap), plus tabix;
* the same with the bare Debian ``bcftools`` and ``tabix`` binaries (``apt-get install bcftools
  tabix``), when they are on PATH;
* ``ccev normalize`` (pre-pass checks, the same norm, read support, filters, BGZF + tabix).

Biallelic SNVs written the way htslib prints them (or differing only by trailing zeros) skip norm
inside ``ccev normalize`` (:mod:`ccevariants.normbypass`); in this input that is ~98 % of the
records. ``--through-norm`` writes the tumour AF as ``2.5e-01`` instead, so every record goes
through norm: the worst case.

Each tool runs ``--repeats`` times (interleaved); the table gives the median wall time, the median
CPU time (user + sys of the child: robust when other jobs share the machine), records per CPU
second, peak RSS and both ratios to bcftools, plus the load average. Not part of the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = """##fileformat=VCFv4.2
##source=Mutect2
##tumor_sample=TUMOR
##normal_sample=NORMAL
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=weak_evidence,Description="weak">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tNORMAL\tTUMOR
"""


def make_inputs(workdir: Path, n_records: int, seed: int = 7) -> tuple[Path, Path]:
    import numpy as np

    rng = np.random.default_rng(seed)
    length = max(1_000_000, n_records * 20)
    seq = rng.choice(np.array(list("ACGT")), size=length)
    # homopolymer runs every 5 kb: C AAAAA G, so a deletion written at the run's end left-aligns
    runs = np.arange(1000, length - 10, 5000)
    seq[runs - 1] = "C"
    for k in range(5):
        seq[runs + k] = "A"
    seq[runs + 5] = "G"
    ref = workdir / "bench.fa"
    text = "".join(seq.tolist())
    with open(ref, "w") as fh:
        fh.write(">chr1 synthetic benchmark contig\n")
        for i in range(0, length, 60):
            fh.write(text[i : i + 60] + "\n")
    import pysam

    pysam.faidx(str(ref))
    run_set = set((runs + 3).tolist())  # 0-based start of the last two As of each run (AA>A)
    positions = np.sort(rng.choice(np.arange(10, length - 10), size=n_records, replace=False))
    vcf = workdir / "bench.vcf"
    alt_of = {"A": "C", "C": "G", "G": "T", "T": "A"}
    with open(vcf, "w") as fh:
        fh.write(HEADER.replace("##source", f"##contig=<ID=chr1,length={length}>\n##source"))
        lines = []
        for i, p in enumerate(positions.tolist()):
            r = text[p - 1]
            filt = "weak_evidence" if i % 20 == 0 else "PASS"
            if i % 50 == 0 and r in "ACGT":  # multi-allelic
                a1 = alt_of[r]
                a2 = alt_of[a1]
                lines.append(
                    f"chr1\t{p}\t.\t{r}\t{a1},{a2}\t50\t{filt}\tDP=80\tGT:AD:DP:AF\t"
                    f"0/0:40,0,0:40:0,0\t1/2:30,6,4:40:0.15,0.1\n"
                )
            elif (p - 1) in run_set:  # deletion at the right end of a run
                lines.append(
                    f"chr1\t{p}\t.\tAA\tA\t50\t{filt}\tDP=80\tGT:AD:DP:AF\t0/0:40,0:40:0\t0/1:30,10:40:0.25\n"
                )
            else:
                lines.append(
                    f"chr1\t{p}\t.\t{r}\t{alt_of.get(r, 'A')}\t50\t{filt}\tDP=80\tGT:AD:DP:AF\t"
                    f"0/0:40,0:40:0\t0/1:30,10:40:0.25\n"
                )
            if len(lines) >= 100_000:
                fh.writelines(lines)
                lines = []
        fh.writelines(lines)
    return ref, vcf


BCFTOOLS = """
import sys, pysam, pysam.bcftools as b
ref, vcf, out = sys.argv[1:4]
b.norm("--no-version", "-m", "-any", "-f", ref, "-c", "wx", "-O", "z", "-o", out, vcf, catch_stdout=False)
pysam.tabix_index(out, preset="vcf", force=True)
"""

DEBIAN = """
import subprocess, sys
ref, vcf, out = sys.argv[1:4]
subprocess.run(["bcftools", "norm", "--no-version", "-m", "-any", "-f", ref, "-c", "wx", "-Oz", "-o", out, vcf],
               check=True, stderr=subprocess.DEVNULL)
subprocess.run(["tabix", "-f", "-p", "vcf", out], check=True)
"""

CCEV = """
import sys
from ccevariants.normalize import normalize_vcf
ref, vcf, out = sys.argv[1:4]
normalize_vcf(vcf, out, reference=ref, filtered=out + ".filtered.tsv", stats=out + ".stats.json")
"""


def run(code: str, *args: str) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + sys) and peak RSS (MB) of a Python snippet run in a
    fresh subprocess (``os.wait4`` gives that child's own resource usage)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code, *args])
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"benchmark step failed with exit code {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3, help="runs per tool; the median is reported [3]")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument(
        "--inputs", type=Path, help="reuse bench.fa + bench.vcf from this directory (from --keep)"
    )
    ap.add_argument(
        "--through-norm",
        action="store_true",
        help="write the tumour AF with an exponent (2.5e-01): htslib prints it differently, so "
        "every record goes through bcftools norm (ccevariants.normbypass) — the worst case",
    )
    args = ap.parse_args(argv)
    tmp = tempfile.TemporaryDirectory(prefix="ccev-bench-", dir=args.workdir)
    work = Path(tmp.name)
    t0 = time.perf_counter()
    if args.inputs:
        ref, vcf = args.inputs / "bench.fa", args.inputs / "bench.vcf"
        with open(vcf, "rb") as fh:
            args.records = sum(1 for line in fh if not line.startswith(b"#"))
        print(f"reusing {args.records:,} records from {args.inputs}")
    else:
        # generated in a child process: a forked child's peak RSS would include this process's memory
        gen = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import normalize as b; "
        gen += f"from pathlib import Path; b.make_inputs(Path({str(work)!r}), {args.records})"
        subprocess.run([sys.executable, "-c", gen], check=True)
        ref, vcf = work / "bench.fa", work / "bench.vcf"
        print(f"generated {args.records:,} records in {time.perf_counter() - t0:.1f} s ({work})")
    if args.through_norm:
        other = work / "bench-exponent.vcf"
        with open(vcf, "rb") as src, open(other, "wb") as dst:
            for line in src:
                if not line.startswith(b"#"):
                    line = line.replace(b":0.25\n", b":2.5e-01\n").replace(
                        b":0.15,0.1\n", b":1.5e-01,1e-01\n"
                    )
                dst.write(line)
        vcf = other
        print("tumour AF written with an exponent: every record goes through bcftools norm")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    tools = [
        ("bcftools norm (pysam) + tabix", BCFTOOLS, work / "bcftools.vcf.gz"),
        ("ccev normalize", CCEV, work / "ccev.vcf.gz"),
    ]
    import shutil

    if shutil.which("bcftools") and shutil.which("tabix"):  # Debian: apt-get install bcftools tabix
        tools.append(("bcftools norm (Debian binary) + tabix", DEBIAN, work / "debian.vcf.gz"))
    else:
        print("Debian bcftools/tabix not on PATH (apt-get install bcftools tabix): that row is skipped")
    runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name, _, _ in tools}
    for _ in range(args.repeats):  # interleaved, so both tools see similar machine load
        for name, code, out in tools:
            runs[name].append(run(code, str(ref), str(vcf), str(out)))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    med = {name: tuple(statistics.median(r[i] for r in rs) for i in range(3)) for name, rs in runs.items()}
    b_wall, b_cpu, _ = med[tools[0][0]]
    print(f"median of {args.repeats} runs each")
    print(
        f"{'tool':<32}{'wall s':>9}{'CPU s':>9}{'records/CPU s':>15}{'peak RSS MB':>13}"
        f"{'wall x':>8}{'CPU x':>8}"
    )
    for name, (wall, cpu, mem) in med.items():
        print(
            f"{name:<32}{wall:>9.2f}{cpu:>9.2f}{args.records / cpu:>15,.0f}{mem:>13.0f}"
            f"{wall / b_wall:>8.2f}{cpu / b_cpu:>8.2f}"
        )
    for name, rs in runs.items():
        print(
            f"  {name}: wall {', '.join(f'{r[0]:.2f}' for r in rs)}; CPU {', '.join(f'{r[1]:.2f}' for r in rs)}"
        )
    # each ccev run sits between its bcftools runs: the ratio within a round sees the same machine
    ours = runs[tools[1][0]]
    for name, _, _ in tools[:1] + tools[2:]:
        base = runs[name]
        pair_wall = sorted(o[0] / b[0] for b, o in zip(base, ours, strict=True))
        pair_cpu = sorted(o[1] / b[1] for b, o in zip(base, ours, strict=True))
        print(
            f"per-round ratios ccev / {name}: wall median {statistics.median(pair_wall):.2f} "
            f"(range {pair_wall[0]:.2f}-{pair_wall[-1]:.2f}); CPU median {statistics.median(pair_cpu):.2f} "
            f"(range {pair_cpu[0]:.2f}-{pair_cpu[-1]:.2f})"
        )
    if args.keep:
        print(f"kept {work}")
        tmp._finalizer.detach()  # noqa: SLF001 - keep the directory
    else:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

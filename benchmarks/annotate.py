"""Benchmark ``ccev annotate`` against ``bcftools csq -l`` on the same synthetic inputs.

Generates (deterministically from ``--seed``) a synthetic reference (default 50 Mb over 5 contigs),
an Ensembl-style GFF3 with ~20 k protein-coding transcripts (2 per gene, 2–10 exons, CDS with phases)
and a sorted bgzipped VCF (default 1 M records: 90 % SNVs, 10 % indels of 1–6 bp), then runs

- the Numba kernels' compile (cold: empty ``NUMBA_CACHE_DIR``; warm: cache filled),
- ``ccev annotate`` cold and warm (transcript index cache cleared / kept), with ``--threads 2``
  (two chunk threads in the process) and ``--threads 3`` (two worker processes), without the Parquet
  table (VCF only, the output bcftools writes) and without up/downstream rows (``--distance 0``:
  bcftools csq reports none),
- ``bcftools csq -l`` (per-variant, not haplotype-aware: the same job), alone and with
  ``--threads 1`` (one more thread, compressing its output: two cores, as ``ccev --threads 2``),

each as a child process under ``/usr/bin/time`` for wall time and peak RSS, and prints a table.

The generated genes are about 30 times denser than the human genome's (one per 5 kb), so most
output rows are up/downstream of some transcript. ``--real-gff GFF3`` adds a run at a real gene
density: that annotation's transcripts (e.g. Ensembl's chr21,
``../shared/data/ensembl-chr21-annotation/test.gff.gz``) over a random sequence as long as its
contigs, with a VCF of ``--records`` records spread over them; ``ccev`` and bcftools again.
The steady-state jobs (warm caches) run ``--repeat`` times (default 3) in rounds, and the table
shows their median times: this host's speed drifts by 15-30 % between runs.
Children run without ``PYTHONDONTWRITEBYTECODE`` (as after an install: the first run writes the
modules' bytecode, later ones read it). Not part of the test run.

The generated VCF is sites-only (INFO ``.``, no samples): the least a record can hold, and the least
work for bcftools, which parses and re-writes every INFO and FORMAT field. In the pipeline,
``ccev annotate`` reads what ``ccev normalize`` writes: the same sites are therefore also written as
a Mutect2 tumour/normal call set (INFO DP/ECNT/TLOD, FORMAT GT:AD:AF:DP for NORMAL and TUMOR),
passed through ``ccev normalize`` (read support T_DP … N_AF added, records as htslib prints them),
and the headline, VCF-only and ``--distance 0`` jobs and bcftools run again on that
(``--no-normalised``: skip).

    python benchmarks/annotate.py --outdir /tmp/bench [--records 1000000] [--genome-mb 50] [--repeat 3]
        [--real-gff ../shared/data/ensembl-chr21-annotation/test.gff.gz]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

BASES = np.frombuffer(b"ACGT", dtype=np.uint8)


def make_inputs(outdir: Path, genome_mb: int, n_transcripts: int, n_records: int, seed: int):
    import pysam

    rng = np.random.default_rng(seed)
    n_contigs = 5
    contig_len = genome_mb * 1_000_000 // n_contigs
    fasta = outdir / "genome.fa"
    seqs = {}
    with open(fasta, "w") as fh:
        for c in range(n_contigs):
            name = f"chr{c + 1}"
            seq = BASES[rng.integers(0, 4, contig_len)].tobytes().decode()
            seqs[name] = seq
            fh.write(f">{name} SYNTHETIC\n")
            for i in range(0, contig_len, 60):
                fh.write(seq[i : i + 60] + "\n")
    pysam.faidx(str(fasta))
    genes_per_contig = n_transcripts // 2 // n_contigs
    rows = ["##gff-version 3"]
    tid = 0
    for c in range(n_contigs):
        name = f"chr{c + 1}"
        slot = contig_len // genes_per_contig
        for g in range(genes_per_contig):
            gstart = g * slot + int(rng.integers(100, max(101, slot // 4)))
            n_ex = int(rng.integers(2, 11))
            exons = []
            pos = gstart
            for _ in range(n_ex):
                length = int(rng.integers(60, 250))
                exons.append((pos, pos + length))
                pos += length + int(rng.integers(80, 400))
            gend = exons[-1][1]
            if gend >= (g + 1) * slot:
                continue
            strand = "+" if rng.random() < 0.5 else "-"
            gid = f"SYNG{c}{g:06d}"
            rows.append(
                f"{name}\tbench\tgene\t{gstart + 1}\t{gend}\t.\t{strand}\t.\tID=gene:{gid};Name=G{c}_{g};"
                "biotype=protein_coding"
            )
            for k in range(2):
                ex = exons if k == 0 else exons[1:] if len(exons) > 2 else exons
                t = f"SYNT{tid:07d}"
                tid += 1
                tag = ";tag=MANE_Select,Ensembl_canonical" if k == 0 else ""
                rows.append(
                    f"{name}\tbench\tmRNA\t{ex[0][0] + 1}\t{ex[-1][1]}\t.\t{strand}\t.\tID=transcript:{t};"
                    f"Parent=gene:{gid};biotype=protein_coding{tag}"
                )
                for s, e in ex:
                    rows.append(f"{name}\tbench\texon\t{s + 1}\t{e}\t.\t{strand}\t.\tParent=transcript:{t}")
                # CDS: from 20 bases into the first exon to 20 before the end of the last, whole codons
                segs = [[s, e] for s, e in ex]
                segs[0][0] += 20
                segs[-1][1] -= 20
                total = sum(e - s for s, e in segs)
                trim = total % 3
                if strand == "+":
                    segs[-1][1] -= trim
                else:
                    segs[0][0] += trim
                order = segs if strand == "+" else segs[::-1]
                done = 0
                for s, e in order:
                    phase = (3 - done % 3) % 3
                    rows.append(
                        f"{name}\tbench\tCDS\t{s + 1}\t{e}\t.\t{strand}\t{phase}\tParent=transcript:{t}"
                    )
                    done += e - s
    gff = outdir / "genes.gff3"
    gff.write_text("\n".join(rows) + "\n")
    vcf = write_vcf(outdir / "calls.vcf", seqs, n_records, rng)
    return fasta, gff, vcf, tid


def write_vcf(path: Path, seqs: dict, n_records: int, rng) -> Path:
    """A sorted, bgzipped and indexed VCF of about ``n_records`` records over ``seqs`` (spread in
    proportion to the contigs' lengths): 90 % SNVs, 5 % deletions and 5 % insertions of 1-6 bases."""
    import pysam

    total = sum(len(seq) for seq in seqs.values())
    with open(path, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        for name, seq in seqs.items():
            fh.write(f"##contig=<ID={name},length={len(seq)}>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for name, seq in seqs.items():
            per = round(n_records * len(seq) / total)
            pos = np.unique(rng.integers(10, len(seq) - 20, per))
            kind = rng.random(len(pos))
            sizes = rng.integers(1, 7, len(pos))
            alts = rng.integers(1, 4, len(pos))
            out = []
            for p, kd, sz, a in zip(pos.tolist(), kind.tolist(), sizes.tolist(), alts.tolist(), strict=True):
                ref = seq[p - 1]
                if kd < 0.9:
                    alt = "ACGT"[("ACGT".index(ref) + a) % 4]
                    out.append(f"{name}\t{p}\t.\t{ref}\t{alt}\t.\tPASS\t.\n")
                elif kd < 0.95:
                    out.append(f"{name}\t{p}\t.\t{seq[p - 1 : p + sz]}\t{ref}\t.\tPASS\t.\n")
                else:
                    ins = "".join("ACGT"[x] for x in rng.integers(0, 4, sz))
                    out.append(f"{name}\t{p}\t.\t{ref}\t{ref + ins}\t.\tPASS\t.\n")
            fh.writelines(out)
    pysam.tabix_compress(str(path), str(path) + ".gz", force=True)
    pysam.tabix_index(str(path) + ".gz", preset="vcf", force=True)
    return Path(str(path) + ".gz")


M2_HEADER = """##source=Mutect2
##tumor_sample=TUMOR
##normal_sample=NORMAL
##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">
##INFO=<ID=ECNT,Number=1,Type=Integer,Description="Events in the haplotype">
##INFO=<ID=TLOD,Number=A,Type=Float,Description="Log odds of the tumour variant">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=AF,Number=A,Type=Float,Description="Allele fraction">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
"""


def normalised_inputs(sites: Path, reference: Path, outdir: Path, stem: str, seed: int, env: dict) -> Path:
    """The records of the sites-only VCF ``sites`` as the pipeline's annotate step receives them:
    written as a Mutect2 tumour/normal call set (INFO DP/ECNT/TLOD; FORMAT GT:AD:AF:DP for NORMAL
    and TUMOR, random depths), then through ``ccev normalize`` (which adds T_DP, T_AD, T_AF, N_DP,
    N_AD, N_AF and writes every record as htslib prints it). Returns the normalised VCF."""
    rng = np.random.default_rng(seed + 1)
    raw = outdir / f"{stem}.m2.vcf"
    with open(sites) as src, open(raw, "w") as dst:
        body = []
        for line in src:
            if line.startswith("#CHROM"):
                dst.write(M2_HEADER + line.rstrip("\n") + "\tFORMAT\tNORMAL\tTUMOR\n")
            elif line.startswith("#"):
                dst.write(line)
            else:
                body.append(line.rstrip("\n").split("\t"))
        n = len(body)
        t_dp = rng.integers(30, 400, n).tolist()
        t_alt = np.maximum(3, (np.array(t_dp) * rng.uniform(0.05, 0.6, n)).astype(int)).tolist()
        n_dp = rng.integers(20, 200, n).tolist()
        tlod = rng.uniform(5, 300, n).tolist()
        out = []
        for cols, td, ta, nd, lod in zip(body, t_dp, t_alt, n_dp, tlod, strict=True):
            cols[7] = f"DP={td + nd};ECNT=1;TLOD={lod:.1f}"
            out.append(
                "\t".join(cols) + f"\tGT:AD:AF:DP\t0/0:{nd},0:0:{nd}\t0/1:{td - ta},{ta}:{ta / td:.3f}:{td}\n"
            )
        dst.writelines(out)
    norm = outdir / f"{stem}.norm.vcf.gz"
    cmd = [sys.executable, "-m", "ccevariants.cli", "normalize", "--input", str(raw)]
    subprocess.run([*cmd, "--reference", str(reference), "--output", str(norm)], env=env, check=True,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return norm


def real_inputs(outdir: Path, gff: Path, n_records: int, seed: int):
    """Inputs at a real genome's gene density: the transcripts of a real GFF3 (e.g. Ensembl's chr21,
    ``../shared/data/ensembl-chr21-annotation/test.gff.gz``) over a random sequence as long as each
    of its contigs (the real sequence is not available offline), and a VCF spread over it."""
    import gzip

    import pysam

    ends: dict[str, int] = {}
    with (gzip.open if str(gff).endswith(".gz") else open)(gff, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            cols = line.split("\t")
            if len(cols) >= 9:
                ends[cols[0]] = max(ends.get(cols[0], 0), int(cols[4]))
    rng = np.random.default_rng(seed)
    fasta = outdir / "real.fa"
    seqs = {}
    with open(fasta, "w") as fh:
        for name, end in ends.items():
            seq = BASES[rng.integers(0, 4, end + 10_000)].tobytes().decode()
            seqs[name] = seq
            fh.write(f">{name}\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i : i + 60] + "\n")
    pysam.faidx(str(fasta))
    return fasta, write_vcf(outdir / "real.vcf", seqs, n_records, rng)


def _tree_rss_kb(root: int) -> int:
    """Summed resident set (kB) of process ``root`` and all its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/status") as fh:
                kb = next((int(line.split()[1]) for line in fh if line.startswith("VmRSS:")), 0)
        except (OSError, StopIteration, IndexError, ValueError):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = kb
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total


def timed(cmd: list[str], env=None) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + sys, the process and its children) and peak RSS (MB) of a
    child process; the RSS is the larger of GNU time's maximum (one process) and the peak of the
    summed RSS of the process tree sampled every 0.1 s (worker processes)."""
    import threading

    t0 = time.perf_counter()
    proc = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M %U %S", *cmd],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.wait(0.1):
            peak[0] = max(peak[0], _tree_rss_kb(proc.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _out, err = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(err[-2000:])
        raise SystemExit(f"command failed: {' '.join(cmd)}")
    peak_kb, user, system = err.strip().splitlines()[-1].split()
    return wall, float(user) + float(system), max(int(peak_kb), peak[0]) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--outdir", required=True, type=Path)
    ap.add_argument("--genome-mb", type=int, default=50)
    ap.add_argument("--transcripts", type=int, default=20000)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each steady-state job (median shown)")
    ap.add_argument(
        "--real-gff",
        type=Path,
        default=None,
        help="also run at a real genome's gene density: this GFF3's transcripts over a random sequence",
    )
    ap.add_argument(
        "--no-normalised",
        dest="normalised",
        action="store_false",
        help="skip the runs on the same sites as a normalised tumour/normal VCF (ccev normalize output)",
    )
    args = ap.parse_args()
    out = args.outdir
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    fasta, gff, vcf, n_tx = make_inputs(out, args.genome_mb, args.transcripts, args.records, args.seed)
    n_rec = sum(1 for line in open(out / "calls.vcf") if not line.startswith("#"))
    print(
        f"inputs: {args.genome_mb} Mb, {n_tx} transcripts, {n_rec} records ({time.perf_counter() - t0:.0f} s)"
    )
    numba_cache = out / "numba-cache"
    shutil.rmtree(numba_cache, ignore_errors=True)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(numba_cache), "CCEV_CACHE_DIR": str(out / "ccev-cache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    shutil.rmtree(out / "ccev-cache", ignore_errors=True)
    ccev = [
        sys.executable,
        "-m",
        "ccevariants.cli",
        "annotate",
        "--input",
        str(vcf),
        "--reference",
        str(fasta),
        "--annotation",
        str(gff),
        "--output",
        str(out / "ccev.vcf.gz"),
        "--table",
        str(out / "ccev.parquet"),
    ]
    # start-up cost: the first 2,000 records (SNVs and indels inside and around transcripts, so that
    # every kernel is used), fresh Numba cache (compile) vs filled cache (load)
    tiny = out / "start.vcf"
    with open(out / "calls.vcf") as src, open(tiny, "w") as dst:
        n_body = 0
        for line in src:
            dst.write(line)
            n_body += not line.startswith("#")
            if n_body >= 2000:
                break
    one = [*ccev[:5], str(tiny), *ccev[6:]]
    one[one.index(str(out / "ccev.vcf.gz"))] = str(out / "start.out.vcf.gz")
    one[one.index(str(out / "ccev.parquet"))] = str(out / "start.parquet")
    results = []
    results.append(("start-up, 2,000 records (cold Numba cache)", *timed(one, env), 0))
    results.append(("start-up, 2,000 records (warm Numba cache)", *timed(one, env), 0))
    shutil.rmtree(out / "ccev-cache", ignore_errors=True)
    results.append(("ccev annotate (index parse, warm Numba)", *timed(ccev, env), n_rec))
    steady = steady_jobs(ccev, [str(fasta), str(gff), str(vcf), str(out / "bcftools.vcf.gz")], env)
    results += medians(steady, args.repeat, n_rec)
    print(f"medians of {args.repeat} runs (steady state); start-up and index-parse rows: one run")
    print("\nsites-only VCF (INFO '.', no samples)")
    report(results)
    if args.normalised:
        norm = normalised_inputs(out / "calls.vcf", fasta, out, "calls", args.seed, env)
        nccev = [*ccev[:5], str(norm), *ccev[6:]]
        jobs = steady_jobs(nccev, [str(fasta), str(gff), str(norm), str(out / "bcftools.norm.vcf.gz")], env)
        n_norm = sum(1 for line in _text_lines(norm) if not line.startswith("#"))
        print(f"\nnormalised tumour/normal VCF (ccev normalize output of the same sites), {n_norm} records")
        report(medians(_core(jobs), args.repeat, n_norm))
    if args.real_gff is not None:
        rfasta, rvcf = real_inputs(out, args.real_gff, args.records, args.seed)
        n_real = sum(1 for line in open(out / "real.vcf") if not line.startswith("#"))
        rccev = [*ccev[:5], str(rvcf), "--reference", str(rfasta), "--annotation", str(args.real_gff)]
        rccev += ["--output", str(out / "real.ccev.vcf.gz"), "--table", str(out / "real.parquet")]
        real = steady_jobs(
            rccev, [str(rfasta), str(args.real_gff), str(rvcf), str(out / "real.bcf.vcf.gz")], env
        )
        timed(real[0][1], env)  # the transcript index cached
        rows = medians(real, args.repeat, n_real)
        print(f"\nreal gene density: {args.real_gff.name} over random sequence, {n_real} records")
        report(rows)
        if args.normalised:
            rnorm = normalised_inputs(out / "real.vcf", rfasta, out, "real", args.seed, env)
            rnccev = [*rccev[:5], str(rnorm), *rccev[6:]]
            jobs = steady_jobs(
                rnccev, [str(rfasta), str(args.real_gff), str(rnorm), str(out / "real.bcf.norm.vcf.gz")], env
            )
            n_rnorm = sum(1 for line in _text_lines(rnorm) if not line.startswith("#"))
            print(f"\nreal gene density, normalised tumour/normal VCF, {n_rnorm} records")
            report(medians(_core(jobs), args.repeat, n_rnorm))
    return 0


def _text_lines(path: Path):
    import gzip

    with gzip.open(path, "rt") as fh:
        yield from fh


def _core(jobs: list) -> list:
    """The headline, VCF-only and ``--distance 0`` jobs and both bcftools runs of ``jobs`` (bcftools
    alone last: the ratios' base)."""
    keep = {
        "ccev annotate (index cached, warm Numba)",
        "ccev annotate, VCF only (no --table)",
        "ccev annotate, VCF only, --distance 0",
        "bcftools csq -l --threads 1 (+1 compression thread)",
        "bcftools csq -l",
    }
    return [j for j in jobs if j[0] in keep]


def steady_jobs(ccev: list[str], bcf_files: list[str], env: dict) -> list:
    """The steady-state jobs ``(step, command, env)`` on one set of inputs: ``ccev`` (the headline
    command, ``--table`` last) with two chunk threads and two workers, without the table, without
    up/downstream rows (bcftools csq reports none: the nearest same job), and ``bcftools csq -l`` on
    ``bcf_files`` (FASTA, GFF3, VCF, output) alone and with one compression thread."""
    vcf_only = ccev[: ccev.index("--table")]
    d0 = [*vcf_only, "--distance", "0"]
    fasta, gff, vcf, output = bcf_files
    bcf = ["bcftools", "csq", "-l", "-f", fasta, "-g", gff, vcf, "-Oz", "-o", output]
    return [
        ("ccev annotate (index cached, warm Numba)", ccev, env),
        ("ccev annotate --threads 2 (2 chunk threads)", [*ccev, "--threads", "2"], env),
        ("ccev annotate --threads 3 (2 worker processes)", [*ccev, "--threads", "3"], env),
        ("ccev annotate, VCF only (no --table)", vcf_only, env),
        ("ccev annotate, VCF only, --threads 2", [*vcf_only, "--threads", "2"], env),
        ("ccev annotate, VCF only, --distance 0", d0, env),
        ("ccev annotate, VCF only, --distance 0, --threads 2", [*d0, "--threads", "2"], env),
        ("bcftools csq -l --threads 1 (+1 compression thread)", [*bcf, "--threads", "1"], None),
        ("bcftools csq -l", bcf, None),
    ]


def medians(jobs, repeat: int, n: int) -> list:
    """Rows ``(step, wall, CPU, peak MB, n)`` of ``jobs`` (``(step, command, env)``), each run
    ``repeat`` times in rounds over all of them: the median wall and CPU time, the largest peak RSS.
    (The host's speed drifts — a shared machine — so one run of each is not enough.)"""
    runs: dict[str, list] = {name: [] for name, _, _ in jobs}
    for _ in range(repeat):
        for name, cmd, job_env in jobs:
            runs[name].append(timed(cmd, job_env))
    rows = []
    for name, _, _ in jobs:
        walls, cpus, peaks = zip(*runs[name], strict=True)
        rows.append((name, statistics.median(walls), statistics.median(cpus), max(peaks), n))
    return rows


def report(results) -> None:
    """Print the rows ``(step, wall, CPU, peak MB, records)``; ratios against the last row (bcftools)."""
    bcf_wall, bcf_cpu = results[-1][1], results[-1][2]
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'step':54s} {'wall s':>7s} {'CPU s':>7s} {'records/CPU s':>14s} {'records/s':>10s} {'peak MB':>8s}"
        f" {'CPU x bcftools':>15s} {'wall x bcftools':>16s}"
    )
    for name, wall, cpu, peak, n in results:
        rate = f"{n / cpu:,.0f}" if n else "-"
        wrate = f"{n / wall:,.0f}" if n else "-"
        ratio = f"{cpu / bcf_cpu:.2f}" if n else "-"
        wratio = f"{wall / bcf_wall:.2f}" if n else "-"
        print(
            f"{name:54s} {wall:7.1f} {cpu:7.1f} {rate:>14s} {wrate:>10s} {peak:8.0f} {ratio:>15s} {wratio:>16s}"
        )


if __name__ == "__main__":
    raise SystemExit(main())

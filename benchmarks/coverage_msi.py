"""Benchmark: read depth at 10,000 loci of a simulated 30x BAM, ours vs samtools; optional BAM MSI.

Usage: python benchmarks/coverage_msi.py [--mb 3] [--depth 30] [--loci 10000] [--outdir DIR]

Simulates (``ccevariants.demo_bam``, SYNTHETIC) a tumour and a matched normal BAM of 2 x 100 bp
pairs at ``--depth`` over the first ``--mb`` megabases of the demo genome (whole contigs, in order);
the tumour carries shifted repeat lengths at 60 % of the microsatellites (MSI-high model). Then
measures depth at ``--loci`` random positions with

* ``ccevariants.biomarkers.coverage.depth_at_loci`` (pysam blocks + Numba difference array),
* Debian ``samtools depth -a -b loci.bed`` (subprocess),
* ``pysam.samtools.bedcov -j`` on 1-bp intervals (htslib through pysam),
* pysam ``count_coverage`` per locus (``quality_threshold=0``),

and reports wall time and concordance with ``samtools depth`` (same read filter: unmapped,
secondary, QC-fail and duplicate reads skipped, deletions not counted). When the MSI helper's
``ccevariants.biomarkers.msi.compute_msi_bam`` is importable, the paired BAM MSI call is timed too.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pysam

from ccevariants import demo, demo_bam
from ccevariants.biomarkers.coverage import depth_at_loci


def simulate(outdir: Path, megabases: float, depth: float, seed: int = 11):
    ref = demo.build_reference(7)
    fasta = outdir / "genome.fa"
    with open(fasta, "w", encoding="ascii") as fh:
        for chrom in demo.CONTIGS:
            seq = ref.seqs[chrom]
            fh.write(f">{chrom} SYNTHETIC\n")
            for i in range(0, len(seq), 60):
                fh.write(seq[i : i + 60] + "\n")
    pysam.faidx(str(fasta))
    targets: dict[str, list[tuple[int, int]]] = {}
    left = int(megabases * 1e6)
    for chrom in demo.CONTIGS:
        if left <= 0:
            break
        n = len(ref.seqs[chrom])
        end = min(n - 1000, 1000 + left)
        targets[chrom] = [(1000, end)]
        left -= end - 1000
    rng = np.random.default_rng(seed)
    sites = []
    n_ms = 0
    for chrom, ivs in targets.items():
        for s, e in ivs:
            for ms, _me, unit in demo_bam.microsatellites(ref.seqs[chrom], s, e):
                n_ms += 1
                if rng.random() < demo_bam.MSI_UNSTABLE_SHARE:
                    anchor = ref.seqs[chrom][ms - 1]
                    pairs = tuple(
                        (anchor + unit * -k, anchor) if k < 0 else (anchor, anchor + unit * k)
                        for k, _ in demo_bam.MSI_SHIFTS
                    )
                    sites.append(
                        demo_bam.Site(chrom, ms - 1, pairs, tuple(p for _, p in demo_bam.MSI_SHIFTS))
                    )
    bams = {}
    for kind, sample_sites in (("tumor", sites), ("normal", [])):
        sample = demo_bam.Sample(f"BENCH-{kind}", f"BENCH-{kind}.1", targets, depth=depth, sites=sample_sites)
        path = outdir / f"{kind}.bam"
        demo_bam.write_bam(path, sample, ref.seqs, demo.CONTIGS, rng, "SYNTHETIC benchmark reads")
        bams[kind] = path
    return ref, fasta, targets, bams, n_ms, len(sites)


def timed(fn):
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=3.0)
    ap.add_argument("--depth", type=float, default=30.0)
    ap.add_argument("--loci", type=int, default=10_000)
    ap.add_argument("--outdir", help="keep the simulated files here (default: a temporary directory)")
    args = ap.parse_args(argv)
    tmp = Path(args.outdir) if args.outdir else Path(tempfile.mkdtemp(prefix="ccev-covbench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        (ref, fasta, targets, bams, n_ms, n_unstable), t_sim = timed(
            lambda: simulate(tmp, args.mb, args.depth)
        )
        tumour = bams["tumor"]
        n_reads = int(pysam.view("-c", str(tumour)).strip())
        size_mb = tumour.stat().st_size / 1e6
        territory = sum(e - s for v in targets.values() for s, e in v)
        print(
            f"simulated {territory / 1e6:.2f} Mb at {args.depth:g}x: {n_reads:,} tumour reads "
            f"({size_mb:.1f} MB BAM), {n_ms} microsatellites ({n_unstable} unstable) in {t_sim:.1f} s"
        )
        rng = np.random.default_rng(3)
        chrom_list = list(targets)
        weights = np.array([targets[c][0][1] - targets[c][0][0] for c in chrom_list], dtype=float)
        pick = rng.choice(len(chrom_list), size=args.loci, p=weights / weights.sum())
        chroms = np.array([chrom_list[i] for i in pick], dtype=object)
        pos1 = np.array(
            [int(rng.integers(targets[c][0][0] + 1, targets[c][0][1] + 1)) for c in chroms], dtype=np.int64
        )
        order = np.lexsort((pos1, np.array([demo.CONTIGS.index(c) for c in chroms])))
        chroms, pos1 = chroms[order], pos1[order]
        bed = tmp / "loci.bed"
        bed.write_text("".join(f"{c}\t{p - 1}\t{p}\n" for c, p in zip(chroms, pos1, strict=True)))

        depth_at_loci(tumour, chroms[:5], pos1[:5])  # Numba compile / cache load outside the timing
        ours, t_ours = timed(lambda: depth_at_loci(tumour, chroms, pos1))

        rows = []
        if shutil.which("samtools"):

            def run_depth():
                text = subprocess.run(
                    ["samtools", "depth", "-a", "-b", str(bed), str(tumour)],
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout
                got = {}
                for line in text.splitlines():
                    c, p, d = line.split("\t")
                    got[(c, int(p))] = int(d)
                return np.array([got[(c, int(p))] for c, p in zip(chroms, pos1, strict=True)])

            ref_depth, t_st = timed(run_depth)
            version = subprocess.run(["samtools", "--version"], capture_output=True).stdout.decode("latin-1")
            rows.append((f"samtools depth -a -b ({version.splitlines()[0]})", t_st, ref_depth))
        else:  # pragma: no cover - Debian samtools is installed in this environment
            ref_depth = None

        def run_bedcov():
            text = pysam.samtools.bedcov("-j", str(bed), str(tumour))
            return np.array([int(line.split("\t")[3]) for line in text.splitlines()])

        values, seconds = timed(run_bedcov)
        rows.append(("pysam.samtools.bedcov -j (1-bp intervals)", seconds, values))

        def run_count_coverage():
            out = np.empty(pos1.size, dtype=np.int64)
            with pysam.AlignmentFile(str(tumour)) as handle:
                for i, (c, p) in enumerate(zip(chroms, pos1, strict=True)):
                    counts = handle.count_coverage(c, int(p) - 1, int(p), quality_threshold=0)
                    out[i] = sum(x[0] for x in counts)
            return out

        values, seconds = timed(run_count_coverage)
        rows.append(("pysam count_coverage per locus", seconds, values))

        print(f"\ndepth at {args.loci:,} loci")
        print(f"{'method':58s} {'wall s':>8s} {'loci/s':>10s} {'== samtools depth':>18s}")
        agree = int((ours == ref_depth).sum()) if ref_depth is not None else -1
        name = "ccevariants depth_at_loci (pysam blocks + Numba)"
        print(f"{name:58s} {t_ours:8.3f} {args.loci / t_ours:10.0f} {agree:>18,}")
        for name, seconds, values in rows:
            same = int((values == ref_depth).sum()) if ref_depth is not None else -1
            print(f"{name:58s} {seconds:8.3f} {args.loci / seconds:10.0f} {same:>18,}")
        print(f"mean depth at the loci: {ours.mean():.1f}")

        try:
            from ccevariants.biomarkers.msi import compute_msi_bam
        except ImportError:
            print("\nMSI: ccevariants.biomarkers.msi.compute_msi_bam not available; skipped")
        else:
            from ccevariants.biomarkers._regions import from_arrays

            regions = from_arrays(
                [c for c in targets for _ in targets[c]],
                [s for c in targets for s, _ in targets[c]],
                [e for c in targets for _, e in targets[c]],
            )
            result, t_msi = timed(
                lambda: compute_msi_bam(tumour, reference=fasta, normal_bam=bams["normal"], regions=regions)
            )
            print(
                f"\nMSI (paired, compute_msi_bam): status {result.get('status')}, score {result.get('score')}, "
                f"sites {result.get('sites')} in {t_msi:.2f} s "
                f"(truth: MSI-high model, {n_unstable}/{n_ms} tracts unstable)"
            )
    finally:
        if not args.outdir:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

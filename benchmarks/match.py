"""Benchmark: match 100,000 variants against the full MOAlmanac snapshot (plus the bundled KB).

Usage: python benchmarks/match.py [--variants N] [--shared ../shared/data]

Builds a synthetic annotated table (contract §3 pick rows; ~5 % of variants in knowledge-base genes,
a quarter of those at hotspot residues; 85 % missense, 10 % stop-gained, 5 % synonymous), compiles
the snapshot, and prints a table of wall time, throughput and peak RSS for snapshot build and matching
(which includes oncogenicity for every protein-altering variant and the wild-type assessability check
for colorectal cancer). There is no peer tool for ESCAT tiering installed in this environment (see
docs/benchmarks.md "match"), so no ratio column is printed.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ccevariants.kb.genes import GeneAliases
from ccevariants.kb.snapshot import build_snapshot, snapshot_from_document
from ccevariants.match import hotspots, match_patient
from ccevariants.oncotree import OncoTree

AA = np.array(list("ACDEFGHIKLMNPQRSTVWY"))


def synthetic_table(n: int, kb_genes: list[str], seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hot = hotspots()
    other_genes = np.array([f"GENE{i}" for i in range(18000)])
    in_kb = rng.random(n) < 0.05
    genes = np.where(in_kb, rng.choice(kb_genes, n), rng.choice(other_genes, n))
    residues = rng.integers(1, 1200, n)
    for i in np.flatnonzero(in_kb & (rng.random(n) < 0.25)):
        codons = sorted(hot.get(genes[i], ()))
        if codons:
            residues[i] = codons[rng.integers(len(codons))]
    ref_aa, alt_aa = rng.choice(AA, n), rng.choice(AA, n)
    kind = rng.random(n)
    consequence = np.where(
        kind < 0.85, "missense_variant", np.where(kind < 0.95, "stop_gained", "synonymous_variant")
    )
    alt_aa = np.where(
        consequence == "stop_gained", "*", np.where(consequence == "synonymous_variant", ref_aa, alt_aa)
    )
    protein = np.char.add(np.char.add(np.char.add("p.", ref_aa), residues.astype(str)), alt_aa)
    pos = np.arange(1, n + 1, dtype=np.int64) * 100
    frame = pd.DataFrame(
        {
            "variant_id": [f"chr1:{p}:A:T" for p in pos],
            "chrom": "chr1",
            "pos": pos,
            "ref": "A",
            "alt": "T",
            "filter": "PASS",
            "gene": genes,
            "consequence": consequence,
            "hgvsp_short": protein,
            "protein_position": residues.astype(np.int64),
            "hgvsc": "c.1A>T",
            "exon": "3/10",
            "intron": "",
            "pick": True,
        }
    )
    return frame


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = parser.parse_args()
    shared = Path(args.shared)
    tree = OncoTree.load(shared / "oncotree" / "oncotree_2025_10_03.json")
    aliases = GeneAliases.load(shared / "gene-aliases" / "org.Hs.eg.genes.tsv")
    rows = []
    t0 = time.perf_counter()
    document = build_snapshot(
        [("bundled", None), ("moalmanac", str(shared / "kb-moalmanac-db" / "referenced"))],
        oncotree=tree,
        aliases=aliases,
    )
    snap = snapshot_from_document(document)
    rows.append(("kb build (bundled + MOAlmanac)", len(snap.statements), time.perf_counter() - t0))
    kb_genes = sorted(g for g in snap.by_gene() if g)
    table = synthetic_table(args.variants, kb_genes)
    for tumour in ("LUAD", "COAD", "SKCM"):
        t0 = time.perf_counter()
        result = match_patient(
            table,
            {"cna": [], "fusions": [], "tmb": {"status": "high"}, "msi": {"status": "mss"}},
            tumour,
            snap,
            oncotree=tree,
        )
        likely = sum(u.get("oncogenicity") == "likely_oncogenic" for u in result["unmatched"])
        rows.append(
            (
                f"match {args.variants:,} variants ({tumour}: {len(result['findings'])} findings, "
                f"{likely:,} likely oncogenic unmatched, {len(result['pending'])} pending)",
                args.variants,
                time.perf_counter() - t0,
            )
        )
    print(f"{'step':<60} {'items':>10} {'seconds':>9} {'items/s':>12}")
    for name, items, seconds in rows:
        print(f"{name:<60} {items:>10,} {seconds:>9.2f} {items / seconds:>12,.0f}")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()

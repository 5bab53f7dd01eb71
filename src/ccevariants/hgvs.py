"""HGVS formatting (c. and p.) and VEP-style Codons / Amino_acids strings.

Positions passed in are 0-based cDNA indices (transcript orientation) or 0-based genomic
coordinates as documented per function; HGVS output positions are 1-based (c.1 = A of ATG).

Conventions follow Ensembl VEP (``--hgvs --shift_hgvs 1``): indels are written at their 3'-most
position in transcript orientation; insertions repeating the preceding sequence are ``dup``;
frameshifts are ``p.Leu747SerfsTer13`` (``fsTer?`` when no stop is reached in the transcript); stop
losses are ``p.Ter110GlnextTer17``; an altered start codon is ``p.Met1?``; a synonymous change is
``p.Leu858=``. The one-letter short form follows the MAF convention (``p.V600E``, ``p.L747Sfs*13``,
``p.*110Qext*17``, ``p.M1?``).
"""

from __future__ import annotations

from bisect import bisect_right

THREE = {
    "A": "Ala",
    "R": "Arg",
    "N": "Asn",
    "D": "Asp",
    "C": "Cys",
    "Q": "Gln",
    "E": "Glu",
    "G": "Gly",
    "H": "His",
    "I": "Ile",
    "L": "Leu",
    "K": "Lys",
    "M": "Met",
    "F": "Phe",
    "P": "Pro",
    "S": "Ser",
    "T": "Thr",
    "W": "Trp",
    "Y": "Tyr",
    "V": "Val",
    "*": "Ter",
    "X": "Xaa",
    "U": "Sec",
}
ONE = {v: k for k, v in THREE.items()}


def three(peptide: str) -> str:
    return "".join(THREE.get(a, "Xaa") for a in peptide)


def c_position(cdna0: int, cds_c0: int, cds_c1: int, coding: bool) -> str:
    """1-based HGVS coordinate of an exonic 0-based cDNA index (``-N`` 5'UTR, ``*N`` 3'UTR, n. for non-coding)."""
    if not coding:
        return str(cdna0 + 1)
    if cdna0 < cds_c0:
        return f"-{cds_c0 - cdna0}"
    if cdna0 >= cds_c1:
        return f"*{cdna0 - cds_c1 + 1}"
    return str(cdna0 - cds_c0 + 1)


class TranscriptCoords:
    """Genomic (0-based) ↔ cDNA (0-based, transcript orientation) mapping of one transcript."""

    def __init__(self, index, t: int):
        tx = index.transcripts
        rows = index.exon_rows(t)
        self.starts = [int(x) for x in index.exons.start[rows]]
        self.ends = [int(x) for x in index.exons.end[rows]]
        self.strand = int(tx.strand[t])
        self.total = sum(e - s for s, e in zip(self.starts, self.ends, strict=True))
        # sorted, non-overlapping exons (the normal case) allow binary search; otherwise linear scans
        self._sorted = all(
            self.ends[i] <= self.starts[i + 1] and self.starts[i] < self.ends[i]
            for i in range(len(self.starts) - 1)
        ) and bool(self.starts)
        self._cum = [0]
        for s_, e_ in zip(self.starts, self.ends, strict=True):
            self._cum.append(self._cum[-1] + e_ - s_)
        self.coding = int(tx.cds_start[t]) >= 0
        if self.coding:
            a = self.g2c(int(tx.cds_start[t]))
            b = self.g2c(int(tx.cds_end[t]) - 1)
            self.cds_c0 = min(a, b)
            self.cds_c1 = max(a, b) + 1
        else:
            self.cds_c0 = self.cds_c1 = 0

    def g2c(self, g: int) -> int:
        """cDNA index (0-based, transcript orientation) of genomic 0-based ``g``; -1 if not exonic."""
        if self._sorted:
            i = bisect_right(self.starts, g) - 1
            if i < 0 or g >= self.ends[i]:
                return -1
            p = self._cum[i] + g - self.starts[i]
            return p if self.strand >= 0 else self.total - 1 - p
        acc = 0
        for s, e in zip(self.starts, self.ends, strict=True):
            if s <= g < e:
                p = acc + g - s
                return p if self.strand >= 0 else self.total - 1 - p
            acc += e - s
        return -1

    def position(self, g: int) -> str:
        """HGVS c./n. coordinate (without prefix) of genomic 0-based ``g``, intronic as ``123+5``/``124-3``."""
        c = self.g2c(g)
        if c >= 0:
            return c_position(c, self.cds_c0, self.cds_c1, self.coding)
        # intronic or outside: nearest exon boundary
        if self._sorted:
            edge = self._nearest_edge(g)
        else:
            edge = self._nearest_edge_scan(g)
        base = c_position(self.g2c(edge), self.cds_c0, self.cds_c1, self.coding)
        off = (g - edge) if self.strand >= 0 else (edge - g)
        return f"{base}{'+' if off > 0 else '-'}{abs(off)}"

    def _nearest_edge(self, g: int) -> int:
        """Nearest exon edge of a non-exonic ``g`` (sorted exons). Equidistant from two exons, the edge of
        the upstream exon in transcript orientation wins (the intron's first half is ``+``)."""
        i = bisect_right(self.starts, g) - 1
        if i < 0:
            return self.starts[0]
        if i >= len(self.starts) - 1:
            return self.ends[-1] - 1
        left, right = self.ends[i] - 1, self.starts[i + 1]
        dl, dr = g - left, right - g
        if dl != dr:
            return left if dl < dr else right
        return left if self.strand >= 0 else right

    def _nearest_edge_scan(self, g: int) -> int:
        best = None
        for s, e in zip(self.starts, self.ends, strict=True):
            for edge in (s, e - 1):
                d = abs(g - edge)
                if best is None or d < best[0] or (d == best[0] and self._prefer(g, edge, best[1])):
                    best = (d, edge)
        return best[1]

    def _prefer(self, g, edge, other) -> bool:
        # equidistant from two exons: the intron's first half is "+" (after the upstream exon)
        up_edge = edge if (self.strand >= 0) == (edge < g) else other
        return edge == up_edge


_COMP = str.maketrans("ACGTNacgtn", "TGCANtgcan")


def revcomp(s: str) -> str:
    return s.translate(_COMP)[::-1]


def hgvsc(coords: TranscriptCoords, start0: int, end0: int, ref: str, alt: str, prev_seq: str = "") -> str:
    """HGVS c. (n. for non-coding) of a trimmed genomic allele ``[start0, end0)`` ref→alt (genomic strand).

    ``prev_seq``: the reference bases immediately 5' of the allele in transcript orientation (at least
    ``len(alt)`` of them) to recognise duplications.
    """
    prefix = "c." if coords.coding else "n."
    plus = coords.strand >= 0
    r = ref if plus else revcomp(ref)
    a = alt if plus else revcomp(alt)
    if start0 == end0:  # insertion between start0-1 and start0
        left, right = (start0 - 1, start0) if plus else (start0, start0 - 1)
        if prev_seq and len(prev_seq) >= len(a) and prev_seq[len(prev_seq) - len(a) :] == a:
            # duplication of the preceding bases (transcript orientation)
            n = len(a)
            if plus:
                ds, de = start0 - n, start0 - 1
            else:
                ds, de = start0 + n - 1, start0
            if n == 1:
                return f"{prefix}{coords.position(ds)}dup"
            return f"{prefix}{coords.position(ds)}_{coords.position(de)}dup"
        return f"{prefix}{coords.position(left)}_{coords.position(right)}ins{a}"
    first, last = (start0, end0 - 1) if plus else (end0 - 1, start0)
    span = coords.position(first) if first == last else f"{coords.position(first)}_{coords.position(last)}"
    if not alt:
        return f"{prefix}{span}del"
    if len(r) == 1 and len(a) == 1:
        return f"{prefix}{span}{r}>{a}"
    return f"{prefix}{span}delins{a}"


def hgvsp(
    flags_names: set[str],
    prot_s: int,
    ref_aa: str,
    alt_aa: str,
    fs_ter: int,
    ext_ter: int,
    before_aa: str = "",
    after_aa: str = "",
    dup: bool = False,
    ext_aa: str = "",
) -> str:
    """HGVS p. (three-letter) from the kernel's trimmed peptides (1-based ``prot_s``)."""
    if "start_lost" in flags_names:
        return "p.Met1?"
    if "frameshift_variant" in flags_names:
        if not ref_aa:
            return ""
        if alt_aa == "*":
            return f"p.{three(ref_aa)}{prot_s}Ter"
        if ref_aa == "*":
            ter = f"Ter{ext_ter}" if ext_ter > 0 else "Ter?"
            return f"p.Ter{prot_s}{three(alt_aa)}ext{ter}"
        ter = f"Ter{fs_ter}" if fs_ter > 0 else "Ter?"
        return f"p.{three(ref_aa)}{prot_s}{three(alt_aa)}fs{ter}"
    if not ref_aa and not alt_aa:
        if {
            "synonymous_variant",
            "stop_retained_variant",
            "start_retained_variant",
        } & flags_names and before_aa:
            return f"p.{three(before_aa)}{prot_s}="
        return ""
    if ref_aa and ref_aa[0] == "*" and "stop_lost" in flags_names:
        ter = f"Ter{ext_ter}" if ext_ter > 0 else "Ter?"
        return f"p.Ter{prot_s}{three(alt_aa[:1] or ext_aa or 'X')}ext{ter}"
    if not ref_aa:  # insertion between before_aa (prot_s - 1) and after_aa (prot_s)
        if dup:
            n = len(alt_aa)
            if n == 1:
                return f"p.{three(alt_aa)}{prot_s - 1}dup"
            return f"p.{three(alt_aa[0])}{prot_s - n}_{three(alt_aa[-1])}{prot_s - 1}dup"
        if not before_aa or not after_aa:
            return ""
        return f"p.{three(before_aa)}{prot_s - 1}_{three(after_aa)}{prot_s}ins{three(alt_aa)}"
    end = prot_s + len(ref_aa) - 1
    span = (
        f"{three(ref_aa[0])}{prot_s}"
        if len(ref_aa) == 1
        else f"{three(ref_aa[0])}{prot_s}_{three(ref_aa[-1])}{end}"
    )
    if not alt_aa:
        return f"p.{span}del"
    if len(ref_aa) == 1 and len(alt_aa) == 1:
        return f"p.{three(ref_aa)}{prot_s}{three(alt_aa)}"
    if alt_aa[0] == "*":
        return f"p.{three(ref_aa[0])}{prot_s}Ter"
    return f"p.{span}delins{three(alt_aa)}"


def short_p(hgvsp_three: str) -> str:
    """One-letter form of a three-letter HGVS p. (``p.Leu747SerfsTer13`` → ``p.L747Sfs*13``)."""
    if not hgvsp_three:
        return ""
    import re

    out = re.sub(
        r"(Ala|Arg|Asn|Asp|Cys|Gln|Glu|Gly|His|Ile|Leu|Lys|Met|Phe|Pro|Ser|Thr|Trp|Tyr|Val|Ter|Xaa|Sec)",
        lambda m: ONE[m.group(1)],
        hgvsp_three[2:],
    )
    return "p." + out


def codons(seq: str, w0: int, w1: int, c0: int, c1: int, alt_t: str) -> str:
    """VEP Codons ``cTg/cGg``: the reference codon window, changed bases upper case, others lower."""
    if w0 < 0 or w1 < w0:
        return ""
    ref = seq[w0:w1]
    r = ref[: c0 - w0].lower() + ref[c0 - w0 : c1 - w0].upper() + ref[c1 - w0 :].lower()
    a = ref[: c0 - w0].lower() + alt_t.upper() + ref[c1 - w0 :].lower()
    return f"{r or '-'}/{a or '-'}"

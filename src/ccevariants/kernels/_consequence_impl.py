"""Per variant × transcript consequence kernel (Numba-compilable; also loaded as a Python twin).

Coordinates: variants and exons are **0-based half-open** genomic intervals (an insertion has
``start == end`` and lies between ``start - 1`` and ``start``); cDNA indices are 0-based in
transcript orientation; every position written to the outputs is **1-based** (``-1`` = none).

Sequence codes: transcript sequences (spliced exons, transcript orientation) and alleles are
``uint8`` ASCII arrays. Codons are translated with the standard genetic code (NCBI table 1).
"""

import numpy as np

from ccevariants.kernels import decorator

jit = decorator(__name__)
helper = decorator(__name__, helper=True)  # per-row functions that make no array: no refcounting

# SO terms, most severe first (Ensembl VEP's ranking, https://www.ensembl.org/info/genome/variation/
# prediction/predicted_data.html). Bit i of a flags word = term i.
SO_TERMS = (
    "transcript_ablation",
    "splice_acceptor_variant",
    "splice_donor_variant",
    "stop_gained",
    "frameshift_variant",
    "stop_lost",
    "start_lost",
    "inframe_insertion",
    "inframe_deletion",
    "missense_variant",
    "protein_altering_variant",
    "splice_region_variant",
    "incomplete_terminal_codon_variant",
    "start_retained_variant",
    "stop_retained_variant",
    "synonymous_variant",
    "coding_sequence_variant",
    "5_prime_UTR_variant",
    "3_prime_UTR_variant",
    "non_coding_transcript_exon_variant",
    "intron_variant",
    "NMD_transcript_variant",
    "non_coding_transcript_variant",
    "upstream_gene_variant",
    "downstream_gene_variant",
    "intergenic_variant",
)
IMPACT = {
    "transcript_ablation": "HIGH",
    "splice_acceptor_variant": "HIGH",
    "splice_donor_variant": "HIGH",
    "stop_gained": "HIGH",
    "frameshift_variant": "HIGH",
    "stop_lost": "HIGH",
    "start_lost": "HIGH",
    "inframe_insertion": "MODERATE",
    "inframe_deletion": "MODERATE",
    "missense_variant": "MODERATE",
    "protein_altering_variant": "MODERATE",
    "splice_region_variant": "LOW",
    "incomplete_terminal_codon_variant": "LOW",
    "start_retained_variant": "LOW",
    "stop_retained_variant": "LOW",
    "synonymous_variant": "LOW",
}
ABLATION = 1 << 0
ACCEPTOR = 1 << 1
DONOR = 1 << 2
STOP_GAINED = 1 << 3
FRAMESHIFT = 1 << 4
STOP_LOST = 1 << 5
START_LOST = 1 << 6
INFRAME_INS = 1 << 7
INFRAME_DEL = 1 << 8
MISSENSE = 1 << 9
PROTEIN_ALTERING = 1 << 10
SPLICE_REGION = 1 << 11
INCOMPLETE_TERMINAL = 1 << 12
START_RETAINED = 1 << 13
STOP_RETAINED = 1 << 14
SYNONYMOUS = 1 << 15
CODING_SEQUENCE = 1 << 16
UTR5 = 1 << 17
UTR3 = 1 << 18
NC_EXON = 1 << 19
INTRON = 1 << 20
NMD = 1 << 21
NC_TRANSCRIPT = 1 << 22
UPSTREAM = 1 << 23
DOWNSTREAM = 1 << 24
INTERGENIC = 1 << 25

# standard code, codon index 16*b1 + 4*b2 + b3 with T=0, C=1, A=2, G=3
CODE_TCAG = "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG"


def make_tables():
    """(base code table[256] → 0..3 or 4, amino-acid table[64] as uint8)."""
    base = np.full(256, 4, dtype=np.int64)
    for ch, v in (("T", 0), ("C", 1), ("A", 2), ("G", 3)):
        base[ord(ch)] = v
        base[ord(ch.lower())] = v
    aa = np.frombuffer(CODE_TCAG.encode(), dtype=np.uint8).copy()
    return base, aa


BASE_CODE, AA_CODE = make_tables()
STOP = 42  # '*'
MET = 77  # 'M'
UNKNOWN_AA = 88  # 'X'


@helper
def translate_codon(b1, b2, b3, base_code, aa_code):
    c1 = base_code[b1]
    c2 = base_code[b2]
    c3 = base_code[b3]
    if c1 > 3 or c2 > 3 or c3 > 3:
        return UNKNOWN_AA
    return aa_code[c1 * 16 + c2 * 4 + c3]


@jit
def translate(seq, base_code, aa_code):
    """Translate a uint8 nucleotide array (whole codons; a trailing partial codon is ignored)."""
    n = seq.shape[0] // 3
    out = np.empty(n, dtype=np.uint8)
    for i in range(n):
        out[i] = translate_codon(seq[3 * i], seq[3 * i + 1], seq[3 * i + 2], base_code, aa_code)
    return out


@helper
def _stream_base(j, seq, s0, w0, c0, c1, alt, alt_rc, alen):
    """Base ``j`` of the alt cDNA stream starting at ``w0``: seq[w0:c0] + alt + seq[c1:] (or -1 past the end).

    ``alt`` is in genomic orientation; ``alt_rc`` says to read it reverse-complemented.
    """
    n_pre = c0 - w0
    if j < n_pre:
        return seq[s0 + w0 + j]
    j -= n_pre
    if j < alen:
        if alt_rc:
            b = alt[alen - 1 - j]
            if b == 65:
                return 84
            if b == 67:
                return 71
            if b == 71:
                return 67
            if b == 84:
                return 65
            return 78
        return alt[j]
    return -1


@helper
def _alt_codon(k, seq, s0, slen, w0, c0, c1, alt, alt_rc, alen, base_code, aa_code):
    """Amino acid of codon ``k`` of the alt stream from ``w0`` (-1 when the stream ends)."""
    b1 = _alt_base(3 * k, seq, s0, slen, w0, c0, c1, alt, alt_rc, alen)
    b2 = _alt_base(3 * k + 1, seq, s0, slen, w0, c0, c1, alt, alt_rc, alen)
    b3 = _alt_base(3 * k + 2, seq, s0, slen, w0, c0, c1, alt, alt_rc, alen)
    if b1 < 0 or b2 < 0 or b3 < 0:
        return -1
    return translate_codon(b1, b2, b3, base_code, aa_code)


@helper
def _alt_base(j, seq, s0, slen, w0, c0, c1, alt, alt_rc, alen):
    """Base ``j`` of the alt stream seq[w0:c0] + alt + seq[c1:slen] (-1 past the end)."""
    b = _stream_base(j, seq, s0, w0, c0, c1, alt, alt_rc, alen)
    if b < 0:
        idx = c1 + (j - (c0 - w0) - alen)
        if idx >= slen:
            return -1
        b = seq[s0 + idx]
    return b


@helper
def _g2c(g, e0, ne, ex_start, ex_end, strand, total):
    """cDNA index (0-based, transcript orientation) of genomic 0-based ``g``; -1 if not exonic."""
    acc = 0
    for i in range(ne):
        a = ex_start[e0 + i]
        b = ex_end[e0 + i]
        if a <= g and g < b:
            p = acc + g - a
            if strand >= 0:
                return p
            return total - 1 - p
        acc += b - a
    return -1


@helper
def _inside(vs, ve, ts, te):
    """Whether a variant ``[vs, ve)`` (an insertion when ``vs == ve``) lies in transcript ``[ts, te)``
    (else it is only up/downstream of it)."""
    if vs == ve:
        return ts < vs and vs < te
    return vs < te and ve > ts


@jit
def consequences(
    p_var,
    p_tx,
    v_start,
    v_end,
    v_alt_buf,
    v_alt_off,
    sh_start,
    sh_end,
    sh_alt_buf,
    sh_alt_off,
    t_start,
    t_end,
    t_strand,
    t_cds_start,
    t_cds_end,
    t_exon_off,
    t_n_exons,
    t_frame,
    t_nmd,
    ex_start,
    ex_end,
    seq_buf,
    seq_off,
    flank,
    base_code,
    aa_code,
):
    """Consequence of each (variant, transcript) pair.

    ``sh_*`` hold, per variant, two alternative placements of an insertion/deletion (row 0: shifted
    right as far as the sequence allows, row 1: shifted left; equal to the given allele otherwise).
    Location terms use the given placement (as VEP); the protein change uses the placement that is
    3'-most in transcript orientation when it stays inside the same exon and the CDS, so that the
    peptide change does not depend on where the caller put the indel in a repeat.

    Returns ``(flags, ints, irow, aa_off, aa_ref, aa_alt)``: ``flags[k]`` a bit set over ``SO_TERMS``;
    ``ints[irow[k], :]`` (a row only for pairs inside the transcript, ``irow[k]`` -1 for the pairs
    that are only up/downstream of it: most pairs, whose 19 numbers would all be -1) = exon_first, exon_last, intron_first, intron_last, cdna_s, cdna_e, cds_s, cds_e,
    prot_s, prot_e, n_aa_ref, n_aa_alt, fs_ter, ext_ter, win_c0, win_c1, c0, c1, ext_aa (positions 1-based
    except the cDNA window ``win_c0``/``win_c1`` and the variant's cDNA span ``c0``/``c1``, 0-based
    half-open; -1 = none); ``aa_ref``/``aa_alt`` hold the trimmed changed peptides of pair ``k`` at
    ``aa_off[k]`` (``n_aa_ref``/``n_aa_alt`` long).
    """
    n = p_var.shape[0]
    aa_off = np.zeros(n + 1, dtype=np.int64)
    irow = np.full(n, -1, dtype=np.int64)
    m = 0
    for k in range(n):
        v = p_var[k]
        cap = 0
        if _inside(v_start[v], v_end[v], t_start[p_tx[k]], t_end[p_tx[k]]):
            irow[k] = m
            m += 1
            cap = (v_end[v] - v_start[v] + v_alt_off[v + 1] - v_alt_off[v]) // 3 + 8
        aa_off[k + 1] = aa_off[k] + cap
    aa_ref = np.zeros(aa_off[n], dtype=np.uint8)
    aa_alt = np.zeros(aa_off[n], dtype=np.uint8)
    flags = np.zeros(n, dtype=np.int64)
    ints = np.full((m, 19), -1, dtype=np.int64)
    for k in range(n):
        v = p_var[k]
        t = p_tx[k]
        vs = v_start[v]
        ve = v_end[v]
        ins = vs == ve
        ts = t_start[t]
        te = t_end[t]
        strand = t_strand[t]
        f = 0
        ir = irow[k]  # this pair's row of ints
        if ir < 0:
            left = vs <= ts if ins else ve <= ts
            if left == (strand >= 0):
                f |= UPSTREAM
            else:
                f |= DOWNSTREAM
            flags[k] = f
            continue
        if (not ins) and vs <= ts and ve >= te:
            flags[k] = ABLATION
            continue
        # (the ALT slice only for pairs inside the transcript: a slice costs a reference-count update)
        alt = v_alt_buf[v_alt_off[v] : v_alt_off[v + 1]]
        alen = alt.shape[0]
        e0 = t_exon_off[t]
        ne = t_n_exons[t]
        coding = t_cds_start[t] >= 0
        total = 0
        for i in range(ne):
            total += ex_end[e0 + i] - ex_start[e0 + i]
        n_exonic = 0  # exonic reference bases covered (deletion) / 1 if an insertion is exon-interior
        ex_first = -1
        ex_last = -1
        in_first = -1
        in_last = -1
        intronic_hit = False
        for i in range(ne):
            a = ex_start[e0 + i]
            b = ex_end[e0 + i]
            if ins:
                hit = a < vs and vs < b
            else:
                hit = vs < b and ve > a
            if hit:
                num = i + 1 if strand >= 0 else ne - i
                if ex_first < 0 or num < ex_first:
                    ex_first = num
                if num > ex_last:
                    ex_last = num
                if ins:
                    n_exonic = 1
                else:
                    n_exonic += min(b, ve) - max(a, vs)
            if i < ne - 1:
                ib = b
                ic = ex_start[e0 + i + 1]
                if ic <= ib:
                    continue
                inum = i + 1 if strand >= 0 else ne - 1 - i
                if ins:
                    ihit = ib <= vs and vs <= ic
                else:
                    ihit = vs < ic and ve > ib
                if ihit:
                    if in_first < 0 or inum < in_first:
                        in_first = inum
                    if inum > in_last:
                        in_last = inum
                # splice sites: the 2 intronic bases at each end
                s_lo = False  # site at intron 5' genomic end [ib, ib+2)
                s_hi = False  # site at [ic-2, ic)
                if ins:
                    s_lo = ib < vs and vs < ib + 2
                    s_hi = ic - 2 < vs and vs < ic
                    interior = ib + 2 <= vs and vs <= ic - 2 and ic - ib > 4
                    reg = (
                        (ib - 3 <= vs and vs <= ib)
                        or (ib + 2 <= vs and vs <= ib + 8)
                        or (ic - 8 <= vs and vs <= ic - 2)
                        or (ic <= vs and vs <= ic + 3)
                    )
                else:
                    s_lo = vs < ib + 2 and ve > ib
                    s_hi = vs < ic and ve > ic - 2
                    interior = vs < ic - 2 and ve > ib + 2
                    reg = (
                        (vs < ib and ve > ib - 3)
                        or (vs < ib + 8 and ve > ib + 2)
                        or (vs < ic - 2 and ve > ic - 8)
                        or (vs < ic + 3 and ve > ic)
                    )
                if s_lo:
                    f |= DONOR if strand >= 0 else ACCEPTOR
                if s_hi:
                    f |= ACCEPTOR if strand >= 0 else DONOR
                if interior:
                    intronic_hit = True
                if reg and not (s_lo or s_hi):
                    f |= SPLICE_REGION
        if intronic_hit:
            f |= INTRON
        ints[ir, 0] = ex_first
        ints[ir, 1] = ex_last
        ints[ir, 2] = in_first
        ints[ir, 3] = in_last
        if t_nmd[t]:
            f |= NMD
        if not coding and (intronic_hit or n_exonic > 0 or (f & (DONOR | ACCEPTOR | SPLICE_REGION)) != 0):
            f |= NC_TRANSCRIPT
        fully_exonic = False
        if ins:
            fully_exonic = n_exonic == 1
        else:
            fully_exonic = n_exonic == ve - vs
        if n_exonic > 0 and not fully_exonic:
            # crosses an exon/intron boundary: location terms only
            if not coding:
                f |= NC_EXON
            else:
                cs = t_cds_start[t]
                ce = t_cds_end[t]
                for i in range(ne):
                    a = max(ex_start[e0 + i], vs)
                    b = min(ex_end[e0 + i], ve)
                    if a >= b:
                        continue
                    if a < ce and b > cs:
                        f |= CODING_SEQUENCE
                    if a < cs:
                        f |= UTR5 if strand >= 0 else UTR3
                    if b > ce:
                        f |= UTR3 if strand >= 0 else UTR5
                # deleted bases of the start / stop codon (codons taken as the 3 terminal CDS bases)
                s0p = seq_off[t]
                if ce - cs >= 3 and not ins and s0p >= 0:
                    hit_lo = vs < cs + 3 and ve > cs
                    hit_hi = vs < ce and ve > ce - 3
                    # only real start (ATG) / stop codons count (incomplete CDS ends do not)
                    q0 = _g2c(cs, e0, ne, ex_start, ex_end, strand, total)
                    q1 = _g2c(ce - 1, e0, ne, ex_start, ex_end, strand, total)
                    first = min(q0, q1)
                    last = max(q0, q1) - 2
                    is_atg = (
                        seq_buf[s0p + first] == 65
                        and seq_buf[s0p + first + 1] == 84
                        and seq_buf[s0p + first + 2] == 71
                    )
                    is_stop = (
                        translate_codon(
                            seq_buf[s0p + last],
                            seq_buf[s0p + last + 1],
                            seq_buf[s0p + last + 2],
                            base_code,
                            aa_code,
                        )
                        == STOP
                    )
                    if strand >= 0:
                        hit_start = hit_lo and is_atg
                        hit_stop = hit_hi and is_stop
                    else:
                        hit_start = hit_hi and is_atg
                        hit_stop = hit_lo and is_stop
                    hit_lo = hit_start if strand >= 0 else hit_stop
                    hit_hi = hit_stop if strand >= 0 else hit_start
                    if strand >= 0:
                        if hit_lo and t_frame[t] == 0:
                            f |= START_LOST
                        if hit_hi:
                            f |= STOP_LOST
                    else:
                        if hit_hi and t_frame[t] == 0:
                            f |= START_LOST
                        if hit_lo:
                            f |= STOP_LOST
            flags[k] = f
            continue
        if n_exonic == 0:
            flags[k] = f
            continue
        # ---- fully exonic: cDNA coordinates in transcript orientation
        if ins:
            if strand >= 0:
                c0 = _g2c(vs, e0, ne, ex_start, ex_end, strand, total)
            else:
                c0 = _g2c(vs - 1, e0, ne, ex_start, ex_end, strand, total)
            c1 = c0
        else:
            ca = _g2c(vs, e0, ne, ex_start, ex_end, strand, total)
            cb = _g2c(ve - 1, e0, ne, ex_start, ex_end, strand, total)
            c0 = min(ca, cb)
            c1 = max(ca, cb) + 1
        ints[ir, 16] = c0
        ints[ir, 17] = c1
        if ins:
            ints[ir, 4] = c0
            ints[ir, 5] = c0 + 1
        else:
            ints[ir, 4] = c0 + 1
            ints[ir, 5] = c1
        if not coding:
            f |= NC_EXON
            flags[k] = f
            continue
        if strand >= 0:
            cds_c0 = _g2c(t_cds_start[t], e0, ne, ex_start, ex_end, strand, total)
            cds_c1 = _g2c(t_cds_end[t] - 1, e0, ne, ex_start, ex_end, strand, total) + 1
        else:
            cds_c0 = _g2c(t_cds_end[t] - 1, e0, ne, ex_start, ex_end, strand, total)
            cds_c1 = _g2c(t_cds_start[t], e0, ne, ex_start, ex_end, strand, total) + 1
        if ins:
            if c0 <= cds_c0:
                f |= UTR5
            if c0 >= cds_c1:
                f |= UTR3
            in_cds = cds_c0 < c0 and c0 < cds_c1
        else:
            if c0 < cds_c0:
                f |= UTR5
            if c1 > cds_c1:
                f |= UTR3
            in_cds = c0 < cds_c1 and c1 > cds_c0
        if not in_cds:
            flags[k] = f
            continue
        # CDS positions (1-based, relative to the CDS start)
        if ins:
            ints[ir, 6] = c0 - cds_c0
            ints[ir, 7] = c0 - cds_c0 + 1
        else:
            ints[ir, 6] = max(c0, cds_c0) - cds_c0 + 1
            ints[ir, 7] = min(c1, cds_c1) - cds_c0
        s0 = seq_off[t]
        if s0 < 0:
            f |= CODING_SEQUENCE
            flags[k] = f
            continue
        # 3'-most placement (transcript orientation) of a pure indel for the protein change
        row_sh = 0 if strand >= 0 else 1
        svs = sh_start[row_sh, v]
        sve = sh_end[row_sh, v]
        if (svs != vs or sve != ve) and (ins or alen == 0):
            ok_sh = False
            for i in range(ne):
                a_ = ex_start[e0 + i]
                b_ = ex_end[e0 + i]
                if ins:
                    if a_ < vs and vs < b_ and a_ < svs and svs < b_:
                        ok_sh = True
                elif a_ <= vs and ve <= b_ and a_ <= svs and sve <= b_:
                    ok_sh = True
            if ok_sh:
                if ins:
                    if strand >= 0:
                        n0 = _g2c(svs, e0, ne, ex_start, ex_end, strand, total)
                    else:
                        n0 = _g2c(svs - 1, e0, ne, ex_start, ex_end, strand, total)
                    n1 = n0
                    inside = cds_c0 < n0 and n0 < cds_c1
                else:
                    na_ = _g2c(svs, e0, ne, ex_start, ex_end, strand, total)
                    nb_ = _g2c(sve - 1, e0, ne, ex_start, ex_end, strand, total)
                    n0 = min(na_, nb_)
                    n1 = max(na_, nb_) + 1
                    inside = cds_c0 <= n0 and n1 <= cds_c1
                if inside:
                    c0 = n0
                    c1 = n1
                    alt = sh_alt_buf[row_sh, sh_alt_off[row_sh, v] : sh_alt_off[row_sh, v + 1]]
                    ints[ir, 16] = c0
                    ints[ir, 17] = c1
        slen = total
        frame = t_frame[t]
        o = cds_c0 + frame
        alt_rc = strand < 0
        delta = alen - (c1 - c0)
        if c0 < o:
            # starts before the first complete codon (5'UTR / start codon / incomplete 5' phase bases)
            if frame == 0:
                q = c0 + alen - (c1 - o)
                ok = q >= 0
                if ok:
                    for r in range(3):
                        j = q + r
                        b = _stream_base(j, seq_buf, s0, 0, c0, c1, alt, alt_rc, alen)
                        if b < 0:
                            idx = c1 + (j - c0 - alen)
                            b = seq_buf[s0 + idx] if idx < slen else 0
                        want = 65 if r == 0 else (84 if r == 1 else 71)
                        if b != want:
                            ok = False
                ref_atg = seq_buf[s0 + o] == 65 and seq_buf[s0 + o + 1] == 84 and seq_buf[s0 + o + 2] == 71
                if ok and ref_atg:
                    f |= START_RETAINED
                else:
                    f |= START_LOST
                ints[ir, 8] = 1
                ints[ir, 9] = (min(c1, cds_c1) - o + 2) // 3
            else:
                f |= CODING_SEQUENCE
            if delta % 3 != 0 and c1 > o + 3:
                f |= FRAMESHIFT
            flags[k] = f
            continue
        # an indel touching the start codon whose alt sequence still reads ATG in register, with the
        # downstream coding sequence unchanged (the change is equivalent to a 5'UTR change)
        if frame == 0 and delta != 0 and (c0 < o + 3 and (c1 > o or (ins and c0 > o))):
            q = o - ((c1 - c0) - alen)
            same = q >= 0
            j = 0
            while same and o + j < cds_c1:
                b = _stream_base(q + j, seq_buf, s0, 0, c0, c1, alt, alt_rc, alen)
                if b < 0:
                    idx = c1 + (q + j - c0 - alen)
                    b = seq_buf[s0 + idx] if idx < slen else 0
                if b != seq_buf[s0 + o + j]:
                    same = False
                j += 1
            if same:
                f |= START_RETAINED
                ints[ir, 8] = 1
                ints[ir, 9] = 1
                flags[k] = f
                continue
        # codon window [w0, w1) of the reference
        a_codon = (c0 - o) // 3
        w0 = o + 3 * a_codon
        if ins:
            w1 = o + 3 * ((c0 - o + 2) // 3)
        else:
            w1 = o + 3 * ((c1 - o + 2) // 3)
        if w1 > slen:
            w1 = slen - (slen - w0) % 3
        ints[ir, 14] = w0
        ints[ir, 15] = w1
        n_ref = (w1 - w0) // 3
        base = aa_off[k]
        cap = aa_off[k + 1] - base
        # ref peptide of the window, cut after the first stop
        ref_stop = -1
        nr = 0
        for i in range(n_ref):
            p = s0 + w0 + 3 * i
            aa = translate_codon(seq_buf[p], seq_buf[p + 1], seq_buf[p + 2], base_code, aa_code)
            if w0 + 3 * i + 3 > cds_c1 and ref_stop < 0 and aa != STOP:
                # past the annotated CDS without a stop (3'-incomplete CDS)
                break
            if nr < cap:
                aa_ref[base + nr] = aa
            nr += 1
            if aa == STOP:
                ref_stop = i
                break
        in_frame = delta % 3 == 0
        if in_frame:
            n_alt = n_ref + delta // 3
            na = 0
            alt_stop = -1
            for i in range(n_alt):
                aa = _alt_codon(i, seq_buf, s0, slen, w0, c0, c1, alt, alt_rc, alen, base_code, aa_code)
                if aa < 0:
                    break
                if na < cap:
                    aa_alt[base + na] = aa
                na += 1
                if aa == STOP:
                    alt_stop = i
                    break
            # trim: common prefix first (3'-most placement), then common suffix
            p1 = 0
            while p1 < nr and p1 < na and aa_ref[base + p1] == aa_alt[base + p1]:
                p1 += 1
            # VEP's inframe_insertion test: the alt window peptide starts or ends with the ref one
            s_full = 0
            while (
                s_full < nr
                and s_full < na
                and aa_ref[base + nr - 1 - s_full] == aa_alt[base + na - 1 - s_full]
            ):
                s_full += 1
            alt_contains_ref = p1 == nr or s_full == nr
            p2 = 0
            while p2 < nr - p1 and p2 < na - p1 and aa_ref[base + nr - 1 - p2] == aa_alt[base + na - 1 - p2]:
                p2 += 1
            rr = nr - p1 - p2
            ra = na - p1 - p2
            for i in range(rr):
                aa_ref[base + i] = aa_ref[base + p1 + i]
            for i in range(ra):
                aa_alt[base + i] = aa_alt[base + p1 + i]
            ints[ir, 10] = rr
            ints[ir, 11] = ra
            ints[ir, 8] = a_codon + p1 + 1
            ints[ir, 9] = a_codon + p1 + max(rr, 1)
            if rr == 0 and ra == 0:
                if a_codon == 0 and frame == 0 and delta != 0:
                    f |= START_RETAINED  # VEP: an indel in the start codon that keeps it
                if ref_stop >= 0:
                    f |= STOP_RETAINED
                if (f & (START_RETAINED | STOP_RETAINED)) == 0:
                    f |= SYNONYMOUS
                ints[ir, 8] = a_codon + 1
                ints[ir, 9] = a_codon + max(n_ref, 1)
            else:
                if a_codon + p1 == 0 and frame == 0 and rr > 0 and aa_ref[base] == MET:
                    f |= START_LOST
                gained = False
                for i in range(ra):
                    if aa_alt[base + i] == STOP:
                        gained = True
                ref_has_stop = False
                for i in range(rr):
                    if aa_ref[base + i] == STOP:
                        ref_has_stop = True
                if gained and not ref_has_stop:
                    f |= STOP_GAINED
                if ref_has_stop and not gained:
                    f |= STOP_LOST
                    # extension: new stop downstream in the alt stream
                    i = n_alt
                    ext = -1
                    while True:
                        aa = _alt_codon(
                            i, seq_buf, s0, slen, w0, c0, c1, alt, alt_rc, alen, base_code, aa_code
                        )
                        if aa < 0:
                            break
                        if aa == STOP:
                            ext = i
                            break
                        i += 1
                    if ext >= 0:
                        # HGVS p.Ter110GlnextTer17: the new stop's position in the tail added after the
                        # former stop (residues before the stop are unchanged when ext applies)
                        ints[ir, 13] = ext - ref_stop
                    # the residue that now stands where the stop was (HGVS p.Ter110Gln...)
                    ints[ir, 18] = _alt_codon(
                        ref_stop, seq_buf, s0, slen, w0, c0, c1, alt, alt_rc, alen, base_code, aa_code
                    )
                if ref_stop >= 0 and alt_stop >= 0 and ref_has_stop and gained and rr == ra:
                    f |= STOP_RETAINED
                # VEP: an in-frame gain whose alt peptide contains the ref peptide at one end is an
                # inframe_insertion, a pure in-frame loss an inframe_deletion; other length-changing
                # in-frame changes (delins) are protein_altering_variant
                terminal = (f & (STOP_GAINED | STOP_LOST | START_LOST)) != 0
                if delta > 0:
                    if alt_contains_ref or (f & STOP_LOST) != 0:
                        f |= INFRAME_INS
                    elif not terminal:
                        f |= PROTEIN_ALTERING
                elif delta < 0:
                    if alen == 0:
                        f |= INFRAME_DEL
                    elif not terminal:
                        f |= PROTEIN_ALTERING
                elif not terminal:
                    f |= MISSENSE
                if ref_stop < 0 and n_ref > 0 and w1 >= cds_c1 and (cds_c1 - o) % 3 != 0:
                    f |= INCOMPLETE_TERMINAL
        else:
            f |= FRAMESHIFT
            if a_codon == 0 and frame == 0 and c0 < o + 3 and (c1 > o or (ins and c0 > o)):
                # the start codon itself is changed: retained if the alt stream still starts with ATG
                b1 = _stream_base(0, seq_buf, s0, w0, c0, c1, alt, alt_rc, alen)
                b2 = _stream_base(1, seq_buf, s0, w0, c0, c1, alt, alt_rc, alen)
                b3 = _stream_base(2, seq_buf, s0, w0, c0, c1, alt, alt_rc, alen)
                if b1 < 0 or b2 < 0 or b3 < 0:
                    f |= START_LOST
                elif b1 == 65 and b2 == 84 and b3 == 71:
                    f |= START_RETAINED
                else:
                    f |= START_LOST
            # first differing amino acid between the ref (from w0) and the alt stream
            i = 0
            diff = -1
            while True:
                p = s0 + w0 + 3 * i
                if w0 + 3 * i + 3 > slen:
                    break
                ra_ = translate_codon(seq_buf[p], seq_buf[p + 1], seq_buf[p + 2], base_code, aa_code)
                aa = _alt_codon(i, seq_buf, s0, slen, w0, c0, c1, alt, alt_rc, alen, base_code, aa_code)
                if aa < 0:
                    break
                if ra_ != aa:
                    diff = i
                    aa_ref[base] = ra_
                    aa_alt[base] = aa
                    break
                if ra_ == STOP:
                    break
                i += 1
            if diff < 0:
                # no amino-acid change before the stop: the frameshift falls after the stop codon
                ints[ir, 8] = a_codon + i + 1
                ints[ir, 9] = a_codon + i + 1
                ints[ir, 10] = 0
                ints[ir, 11] = 0
            else:
                ints[ir, 8] = a_codon + diff + 1
                ints[ir, 9] = a_codon + diff + 1
                ints[ir, 10] = 1
                ints[ir, 11] = 1
                if aa_ref[base] == STOP:
                    f |= STOP_LOST
                if aa_alt[base] == STOP:
                    f |= STOP_GAINED
                    ints[ir, 12] = 1
                else:
                    j = diff + 1
                    while True:
                        aa = _alt_codon(
                            j, seq_buf, s0, slen, w0, c0, c1, alt, alt_rc, alen, base_code, aa_code
                        )
                        if aa < 0:
                            break
                        if aa == STOP:
                            ints[ir, 12] = j - diff + 1
                            break
                        j += 1
        flags[k] = f
    return flags, ints, irow, aa_off, aa_ref, aa_alt

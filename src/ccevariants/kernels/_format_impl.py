"""Byte-string formatting of annotation rows (Numba-compilable; also loaded as a Python twin).

The per-row text of the rows that lie inside a transcript (exon/intron numbers, HGVS c./p., cDNA /
CDS / protein positions, amino acids, codons and the CSQ entry) written into one ``uint8`` buffer,
so that no Python object is made per row. Handles single-nucleotide variants; the caller keeps the
Python formatter (``ccevariants.hgvs``) for every other row and as the test oracle.

Coordinates: genomic positions are **0-based**; cDNA indices 0-based in transcript orientation;
positions written out are **1-based** (HGVS ``c.``, ``cDNA_position``, ...). Strings follow
``ccevariants.hgvs`` exactly (Ensembl VEP conventions).
"""

import numpy as np

from ccevariants.kernels import decorator

jit = decorator(__name__)

#: CSQ order of the fields after the prefix (indices into the row's fields)
FIELD_ORDER = (0, 1, 2, 3, 4, 7, 8, 9, 5, 6)
SEP = 31  # ASCII unit separator: ends every field in the output buffer
N_FIELDS = 11  # exon, intron, hgvsc, hgvsp, hgvsp_short, amino_acids, codons, cdna, cds, protein, csq
#: per-row bytes needed besides the CSQ prefix (fields are bounded: 20-digit numbers, one codon)
ROW_CAP = 1800

# flag bits (``_consequence_impl``)
_FRAMESHIFT = 1 << 4
_STOP_LOST = 1 << 5
_START_LOST = 1 << 6
_START_RETAINED = 1 << 13
_STOP_RETAINED = 1 << 14
_SYNONYMOUS = 1 << 15

_THREE = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
    "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
    "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter", "X": "Xaa", "U": "Sec",
}  # fmt: skip


def make_tables():
    """(three-letter codes [256, 4], one-letter codes [256, 4], complement [256]) as uint8 arrays;
    a code table row holds the code's bytes then its length in column 3.

    Unknown amino-acid letters are ``Xaa`` / ``X`` (as ``hgvs.three`` and ``hgvs.short_p``)."""
    three = np.zeros((256, 4), dtype=np.uint8)
    one = np.zeros((256, 4), dtype=np.uint8)
    three[:] = (ord("X"), ord("a"), ord("a"), 3)
    one[:] = (ord("X"), 0, 0, 1)
    for a, t in _THREE.items():
        three[ord(a)] = (*t.encode(), 3)
        one[ord(a)] = (ord(a), 0, 0, 1)
    comp = np.arange(256, dtype=np.uint8)
    for a, b in (("A", "T"), ("C", "G"), ("G", "C"), ("T", "A"), ("N", "N")):
        comp[ord(a)] = ord(b)
        comp[ord(a.lower())] = ord(b.lower())
    return three, one, comp


THREE_CODE, ONE_CODE, COMPLEMENT = make_tables()


@jit
def _lower(ch):
    return ch + 32 if 65 <= ch <= 90 else ch


@jit
def _upper(ch):
    return ch - 32 if 97 <= ch <= 122 else ch


@jit
def _put_int(buf, p, value):
    """Decimal ``value`` at ``buf[p:]``; returns the new end."""
    if value < 0:
        buf[p] = 45  # '-'
        p += 1
        value = -value
    n = 1
    v = value
    while v >= 10:
        v //= 10
        n += 1
    for i in range(n - 1, -1, -1):
        buf[p + i] = 48 + value % 10
        value //= 10
    return p + n


@jit
def _put_span(buf, p, a, b):
    """``_span``: '' if both < 0, ``a`` if ``a == b`` or ``b < 0``, else ``a-b``."""
    if a < 0 and b < 0:
        return p
    p = _put_int(buf, p, a)
    if a != b and b >= 0:
        buf[p] = 45
        p = _put_int(buf, p + 1, b)
    return p


@jit
def _put_number_of(buf, p, first, last, total):
    """Exon/intron ``first/total`` or ``first-last/total`` ('' when ``first`` < 0)."""
    if first < 0:
        return p
    p = _put_int(buf, p, first)
    if first != last:
        buf[p] = 45
        p = _put_int(buf, p + 1, last)
    buf[p] = 47  # '/'
    return _put_int(buf, p + 1, total)


@jit
def _put_aa(buf, p, aa, codes):
    """Amino-acid code of ASCII letter ``aa`` from ``codes`` ([256, 4]: bytes, then the length)."""
    n = np.int64(codes[aa, 3])
    for i in range(n):
        buf[p + i] = codes[aa, i]
    return p + n


@jit
def _put_hgvsp(buf, p, codes, f, ps, ref_aa, alt_aa, before, ext_aa, ext_ter):
    """``hgvs.hgvsp`` for a single-codon change (``codes``: three- or one-letter table [256, 3] with
    the code's length in column 3)."""
    if f & _START_LOST:
        buf[p] = 112
        buf[p + 1] = 46
        p = _put_aa(buf, p + 2, 77, codes)
        buf[p] = 49
        buf[p + 1] = 63  # 1?
        return p + 2
    if ref_aa == 0 and alt_aa == 0:
        if f & (_SYNONYMOUS | _STOP_RETAINED | _START_RETAINED) and before != 0:
            buf[p] = 112
            buf[p + 1] = 46
            p = _put_aa(buf, p + 2, before, codes)
            p = _put_int(buf, p, ps)
            buf[p] = 61  # '='
            return p + 1
        return p
    buf[p] = 112
    buf[p + 1] = 46
    p += 2
    if ref_aa == 42 and (f & _STOP_LOST):
        p = _put_aa(buf, p, 42, codes)
        p = _put_int(buf, p, ps)
        x = alt_aa
        if x == 0:
            x = ext_aa if ext_aa > 0 else 88
        p = _put_aa(buf, p, x, codes)
        buf[p] = 101
        buf[p + 1] = 120
        buf[p + 2] = 116  # ext
        p = _put_aa(buf, p + 3, 42, codes)
        if ext_ter > 0:
            return _put_int(buf, p, ext_ter)
        buf[p] = 63  # '?'
        return p + 1
    p = _put_aa(buf, p, ref_aa, codes)
    p = _put_int(buf, p, ps)
    return _put_aa(buf, p, alt_aa, codes)


@jit
def _g2c_sorted(g, e0, ne, ex_start, ex_end, strand, total):
    """cDNA index (0-based) of genomic 0-based ``g`` on sorted, non-overlapping exons; -1 if not exonic."""
    acc = 0
    for i in range(ne):
        a = ex_start[e0 + i]
        b = ex_end[e0 + i]
        if g < a:
            return -1
        if g < b:
            p = acc + g - a
            return p if strand >= 0 else total - 1 - p
        acc += b - a
    return -1


@jit
def _put_c_position(buf, p, c, cds_c0, cds_c1, coding):
    """``hgvs.c_position``: ``N`` (n.: ``c + 1``), ``-N`` (5' UTR), ``*N`` (3' UTR)."""
    if not coding:
        return _put_int(buf, p, c + 1)
    if c < cds_c0:
        buf[p] = 45
        return _put_int(buf, p + 1, cds_c0 - c)
    if c >= cds_c1:
        buf[p] = 42  # '*'
        return _put_int(buf, p + 1, c - cds_c1 + 1)
    return _put_int(buf, p, c - cds_c0 + 1)


@jit
def _put_position(buf, p, g, e0, ne, ex_start, ex_end, strand, total, cds_c0, cds_c1, coding):
    """``TranscriptCoords.position`` (sorted exons): exonic ``c`` or intronic ``c+N`` / ``c-N``."""
    c = _g2c_sorted(g, e0, ne, ex_start, ex_end, strand, total)
    if c >= 0:
        return _put_c_position(buf, p, c, cds_c0, cds_c1, coding)
    # nearest exon edge; equidistant: the upstream exon's (transcript orientation)
    i = -1
    for j in range(ne):
        if ex_start[e0 + j] <= g:
            i = j
    if i < 0:
        edge = ex_start[e0]
    elif i >= ne - 1:
        edge = ex_end[e0 + ne - 1] - 1
    else:
        left = ex_end[e0 + i] - 1
        right = ex_start[e0 + i + 1]
        dl = g - left
        dr = right - g
        if dl != dr:
            edge = left if dl < dr else right
        else:
            edge = left if strand >= 0 else right
    ce = _g2c_sorted(edge, e0, ne, ex_start, ex_end, strand, total)
    p = _put_c_position(buf, p, ce, cds_c0, cds_c1, coding)
    off = (g - edge) if strand >= 0 else (edge - g)
    if off > 0:
        buf[p] = 43  # '+'
        return _put_int(buf, p + 1, off)
    buf[p] = 45
    return _put_int(buf, p + 1, -off)


@jit
def _aa_at(pos1, o, s0, slen, seq_buf, base_code, aa_code):
    """Amino acid (ASCII) of 1-based codon ``pos1`` of the CDS starting at cDNA ``o``; 0 if outside."""
    c = o + 3 * (pos1 - 1)
    if pos1 < 1 or c + 3 > slen:
        return 0
    b1 = base_code[seq_buf[s0 + c]]
    b2 = base_code[seq_buf[s0 + c + 1]]
    b3 = base_code[seq_buf[s0 + c + 2]]
    if b1 > 3 or b2 > 3 or b3 > 3:
        return 88  # 'X'
    return aa_code[b1 * 16 + b2 * 4 + b3]


@jit
def _copy_escaped(buf, p, src, a, b):
    """Copy ``src[a:b]`` escaping the characters an INFO value / CSQ field cannot hold."""
    for i in range(a, b):
        ch = src[i]
        if ch == 124 or ch == 44 or ch == 59 or ch == 61:  # | , ; =
            buf[p] = 37  # '%'
            if ch == 124:
                buf[p + 1] = 55
                buf[p + 2] = 67  # 7C
            elif ch == 44:
                buf[p + 1] = 50
                buf[p + 2] = 67  # 2C
            elif ch == 59:
                buf[p + 1] = 51
                buf[p + 2] = 66  # 3B
            else:
                buf[p + 1] = 51
                buf[p + 2] = 68  # 3D
            p += 3
        elif ch == 32:
            buf[p] = 95  # '_'
            p += 1
        else:
            buf[p] = ch
            p += 1
    return p


@jit
def snv_rows(
    row_t,
    row_f,
    row_g,
    row_ref,
    row_alt,
    row_aa_ref,
    row_aa_alt,
    row_pre,
    ints,
    t_strand,
    t_cds_start,
    t_cds_end,
    t_exon_off,
    t_n_exons,
    t_frame,
    ex_start,
    ex_end,
    seq_buf,
    seq_off,
    pre_buf,
    pre_off,
    base_code,
    aa_code,
    three,
    short,
    comp,
):
    """Text of single-nucleotide rows inside a transcript (sorted exons; not frameshift).

    Per row ``r``: transcript ``row_t``, flags ``row_f``, 0-based genomic position ``row_g``, REF/ALT
    base (ASCII, genomic strand), the consequence kernel's trimmed peptides (``row_aa_ref`` /
    ``row_aa_alt``: ASCII, 0 = empty) and ``ints`` row, and ``row_pre``: index of the row's CSQ prefix
    (``Consequence|IMPACT|SYMBOL|Gene|Feature|BIOTYPE|STRAND``, escaped) in ``pre_buf``/``pre_off``.
    ``seq_off[t]`` is the offset of transcript ``t``'s cDNA in ``seq_buf`` (-1 if not loaded).

    Returns ``(buf, used)``: ``buf[:used]`` holds, per row, :data:`N_FIELDS` fields each followed by
    :data:`SEP`: exon, intron, HGVSc, HGVSp, HGVSp_short, Amino_acids, Codons, cDNA_position,
    CDS_position, Protein_position, then the CSQ entry without Allele and PICK.
    """
    n = row_t.shape[0]
    cap = 0
    for r in range(n):
        cap += ROW_CAP + pre_off[row_pre[r] + 1] - pre_off[row_pre[r]]
    buf = np.empty(cap, dtype=np.uint8)
    fs = np.zeros(N_FIELDS, dtype=np.int64)  # start and end of each field of the current row
    fe = np.zeros(N_FIELDS, dtype=np.int64)
    p = 0
    for r in range(n):
        t = row_t[r]
        f = row_f[r]
        g = row_g[r]
        strand = t_strand[t]
        e0 = t_exon_off[t]
        ne = t_n_exons[t]
        total = 0
        for i in range(ne):
            total += ex_end[e0 + i] - ex_start[e0 + i]
        coding = t_cds_start[t] >= 0
        cds_c0 = 0
        cds_c1 = 0
        if coding:
            a = _g2c_sorted(t_cds_start[t], e0, ne, ex_start, ex_end, strand, total)
            b = _g2c_sorted(t_cds_end[t] - 1, e0, ne, ex_start, ex_end, strand, total)
            cds_c0 = min(a, b)
            cds_c1 = max(a, b) + 1
        # 0 exon
        fs[0] = p
        p = _put_number_of(buf, p, ints[r, 0], ints[r, 1], ne)
        fe[0] = p
        buf[p] = SEP
        p += 1
        # 1 intron
        fs[1] = p
        p = _put_number_of(buf, p, ints[r, 2], ints[r, 3], ne - 1)
        fe[1] = p
        buf[p] = SEP
        p += 1
        # 2 HGVSc
        fs[2] = p
        buf[p] = 99 if coding else 110  # c / n
        buf[p + 1] = 46
        p = _put_position(buf, p + 2, g, e0, ne, ex_start, ex_end, strand, total, cds_c0, cds_c1, coding)
        if strand >= 0:
            buf[p] = row_ref[r]
            buf[p + 2] = row_alt[r]
        else:
            buf[p] = comp[row_ref[r]]
            buf[p + 2] = comp[row_alt[r]]
        buf[p + 1] = 62  # '>'
        p += 3
        fe[2] = p
        buf[p] = SEP
        p += 1
        # 3 HGVSp (three-letter), 4 HGVSp_short (one-letter)
        ps = ints[r, 8]
        ref_aa = row_aa_ref[r]
        alt_aa = row_aa_alt[r]
        before = 0
        protein = ps > 0 and coding
        if protein and ref_aa == 0 and alt_aa == 0:
            before = _aa_at(ps, cds_c0 + t_frame[t], seq_off[t], total, seq_buf, base_code, aa_code)
        fs[3] = p
        if protein:
            p = _put_hgvsp(buf, p, three, f, ps, ref_aa, alt_aa, before, ints[r, 18], ints[r, 13])
        fe[3] = p
        buf[p] = SEP
        p += 1
        fs[4] = p
        if protein:
            p = _put_hgvsp(buf, p, short, f, ps, ref_aa, alt_aa, before, ints[r, 18], ints[r, 13])
        fe[4] = p
        buf[p] = SEP
        p += 1
        # 5 amino acids
        fs[5] = p
        if protein:
            if ref_aa != 0 or alt_aa != 0:
                buf[p] = ref_aa if ref_aa != 0 else 45
                buf[p + 1] = 47
                buf[p + 2] = alt_aa if alt_aa != 0 else 45
                p += 3
            elif before != 0:
                buf[p] = before
                p += 1
        fe[5] = p
        buf[p] = SEP
        p += 1
        # 6 codons: the reference codon window, the changed base upper case, the others lower case
        # (the caller guarantees w0 <= c0, c0 + 1 == c1 <= w1)
        fs[6] = p
        w0 = ints[r, 14]
        if protein and w0 >= 0:
            w1 = ints[r, 15]
            c0 = ints[r, 16]
            s0 = seq_off[t]
            alt_t = row_alt[r] if strand >= 0 else comp[row_alt[r]]
            for i in range(w0, w1):
                ch = seq_buf[s0 + i]
                buf[p] = ch if i == c0 else _lower(ch)
                p += 1
            buf[p] = 47
            p += 1
            for i in range(w0, w1):
                buf[p] = _upper(alt_t) if i == c0 else _lower(seq_buf[s0 + i])
                p += 1
        fe[6] = p
        buf[p] = SEP
        p += 1
        # 7-9 cDNA / CDS / protein positions
        fs[7] = p
        p = _put_span(buf, p, ints[r, 4], ints[r, 5])
        fe[7] = p
        buf[p] = SEP
        p += 1
        fs[8] = p
        p = _put_span(buf, p, ints[r, 6], ints[r, 7])
        fe[8] = p
        buf[p] = SEP
        p += 1
        fs[9] = p
        p = _put_span(buf, p, ints[r, 8], ints[r, 9])
        fe[9] = p
        buf[p] = SEP
        p += 1
        # 10 CSQ entry: prefix|EXON|INTRON|HGVSc|HGVSp|HGVSp_short|cDNA|CDS|Protein|Amino_acids|Codons
        k = row_pre[r]
        for i in range(pre_off[k], pre_off[k + 1]):
            buf[p] = pre_buf[i]
            p += 1
        for j in FIELD_ORDER:
            buf[p] = 124
            p = _copy_escaped(buf, p + 1, buf, fs[j], fe[j])
        buf[p] = SEP
        p += 1
    return buf, p

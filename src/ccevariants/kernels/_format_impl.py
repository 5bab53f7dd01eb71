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

from ccevariants.kernels import copier, decorator, string_copier

jit = decorator(__name__)
helper = decorator(__name__, helper=True)  # per-row functions that make no array: no refcounting
copy_bytes = copier(__name__)  # dst[k:k + n] = src[a:a + n] as one memcpy
copy_string = string_copier(__name__)  # string v of (off, dat) to dst[k:]; returns the new end

#: CSQ order of the fields after the prefix (indices into the row's fields)
FIELD_ORDER = (0, 1, 2, 3, 4, 7, 8, 9, 5, 6)
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


@helper
def _lower(ch):
    return ch + 32 if 65 <= ch <= 90 else ch


@helper
def _upper(ch):
    return ch - 32 if 97 <= ch <= 122 else ch


@helper
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


@helper
def _put_span(buf, p, a, b):
    """``_span``: '' if both < 0, ``a`` if ``a == b`` or ``b < 0``, else ``a-b``."""
    if a < 0 and b < 0:
        return p
    p = _put_int(buf, p, a)
    if a != b and b >= 0:
        buf[p] = 45
        p = _put_int(buf, p + 1, b)
    return p


@helper
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


@helper
def _put_aa(buf, p, aa, codes):
    """Amino-acid code of ASCII letter ``aa`` from ``codes`` ([256, 4]: bytes, then the length)."""
    n = np.int64(codes[aa, 3])
    for i in range(n):
        buf[p + i] = codes[aa, i]
    return p + n


@helper
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


@helper
def _exon_at_or_before(g, e0, ne, ex_start):
    """Index (0 .. ne-1) of the last exon of ``e0 .. e0 + ne - 1`` (sorted) starting at or before
    ``g``; -1 if none (a binary search)."""
    lo = 0
    hi = ne
    while lo < hi:
        mid = (lo + hi) // 2
        if ex_start[e0 + mid] <= g:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


@helper
def _g2c_sorted(g, e0, ne, ex_start, ex_end, ex_cum, strand, total):
    """cDNA index (0-based) of genomic 0-based ``g`` on sorted, non-overlapping exons; -1 if not
    exonic. ``ex_cum[e]``: the exonic bases of the transcript's exons before exon row ``e``."""
    i = _exon_at_or_before(g, e0, ne, ex_start)
    if i < 0 or g >= ex_end[e0 + i]:
        return -1
    p = ex_cum[e0 + i] + g - ex_start[e0 + i]
    return p if strand >= 0 else total - 1 - p


@helper
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


@helper
def _put_position(buf, p, g, e0, ne, ex_start, ex_end, ex_cum, strand, total, cds_c0, cds_c1, coding):
    """``TranscriptCoords.position`` (sorted exons): exonic ``c`` or intronic ``c+N`` / ``c-N``."""
    c = _g2c_sorted(g, e0, ne, ex_start, ex_end, ex_cum, strand, total)
    if c >= 0:
        return _put_c_position(buf, p, c, cds_c0, cds_c1, coding)
    # nearest exon edge; equidistant: the upstream exon's (transcript orientation)
    i = _exon_at_or_before(g, e0, ne, ex_start)
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
    ce = _g2c_sorted(edge, e0, ne, ex_start, ex_end, ex_cum, strand, total)
    p = _put_c_position(buf, p, ce, cds_c0, cds_c1, coding)
    off = (g - edge) if strand >= 0 else (edge - g)
    if off > 0:
        buf[p] = 43  # '+'
        return _put_int(buf, p + 1, off)
    buf[p] = 45
    return _put_int(buf, p + 1, -off)


@helper
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


#: 1 for the bytes :func:`_copy_escaped` rewrites (one table look-up per byte copied)
_ESCAPED = np.zeros(256, dtype=np.uint8)
for _c in b"|,;= ":
    _ESCAPED[_c] = 1
#: 1 for the fields a row's CSQ entry copies through :func:`_copy_escaped`: those that hold bytes of
#: the input — HGVSc (2) and Codons (6): alleles, reference bases — or an ``=`` (HGVSp 3 and 4 of a
#: synonymous change). The others are written here from numbers and amino-acid codes only (digits,
#: ``-``, ``/``, ``?``, letters, ``*``) and are copied as they are (≈ 20 % of the formatting kernel's
#: time, at a real gene density).
_ESCAPE_FIELD = np.zeros(N_FIELDS, dtype=np.uint8)
_ESCAPE_FIELD[[2, 3, 4, 6]] = 1


@helper
def _copy_escaped(buf, p, src, a, b):
    """Copy ``src[a:b]`` escaping the characters an INFO value / CSQ field cannot hold."""
    for i in range(a, b):
        ch = src[i]
        if _ESCAPED[ch] == 0:
            buf[p] = ch
            p += 1
            continue
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


@helper
def _tx_geometry(t, t_exon_off, t_n_exons, t_cds_start, t_cds_end, ex_start, ex_end, ex_cum, strand):
    """Transcript ``t`` (sorted exons, ``ex_cum`` as :func:`_g2c_sorted`): first exon row, exon
    count, spliced length, coding?, and the CDS as 0-based half-open cDNA indices (0, 0 when
    non-coding)."""
    e0 = t_exon_off[t]
    ne = t_n_exons[t]
    total = ex_cum[e0 + ne - 1] + ex_end[e0 + ne - 1] - ex_start[e0 + ne - 1] if ne > 0 else 0
    coding = t_cds_start[t] >= 0
    cds_c0 = 0
    cds_c1 = 0
    if coding:
        a = _g2c_sorted(t_cds_start[t], e0, ne, ex_start, ex_end, ex_cum, strand, total)
        b = _g2c_sorted(t_cds_end[t] - 1, e0, ne, ex_start, ex_end, ex_cum, strand, total)
        cds_c0 = min(a, b)
        cds_c1 = max(a, b) + 1
    return e0, ne, total, coding, cds_c0, cds_c1


@helper
def _put_exon_intron(buf, p, fs, fe, ex0, ex1, in0, in1, ne):
    """Fields 0 (EXON ``ex0[-ex1]/ne``) and 1 (INTRON ``in0[-in1]/ne-1``) of a row."""
    fs[0] = p
    p = _put_number_of(buf, p, ex0, ex1, ne)
    fe[0] = p
    fs[1] = p
    p = _put_number_of(buf, p, in0, in1, ne - 1)
    fe[1] = p
    return p


@helper
def _finish_row(buf, p, fs, fe, c0, c1, d0, d1, e0, e1, pre_buf, pre_off, k, tx_buf, tx_off, t):
    """Fields 7-9 of a row (cDNA ``c0-c1``, CDS ``d0-d1``, protein ``e0-e1`` positions), then its CSQ
    entry: the prefix ``Consequence|IMPACT|`` ``k`` of (``pre_buf``, ``pre_off``), the
    ``SYMBOL|Gene|Feature|BIOTYPE|STRAND`` of transcript ``t`` in (``tx_buf``, ``tx_off``) and ``|EXON|INTRON|HGVSc|HGVSp|HGVSp_short|cDNA|
    CDS|Protein|Amino_acids|Codons`` (field 10: its span is left in ``fs[10]``, ``fe[10]``). Returns
    the new end of ``buf``."""
    for j, a, b in ((7, c0, c1), (8, d0, d1), (9, e0, e1)):
        fs[j] = p
        p = _put_span(buf, p, a, b)
        fe[j] = p
    fs[10] = p
    p = copy_string(buf, p, pre_off, pre_buf, k)
    p = copy_string(buf, p, tx_off, tx_buf, t)
    for j in FIELD_ORDER:
        buf[p] = 124
        p += 1
        if _ESCAPE_FIELD[j]:
            p = _copy_escaped(buf, p, buf, fs[j], fe[j])
        else:  # (the field lies before p: no overlap)
            copy_bytes(buf, p, buf, fs[j], fe[j] - fs[j])
            p += fe[j] - fs[j]
    fe[10] = p
    return p


@helper
def _put_spans(spans, r, fs, fe):
    """Row ``r`` of a formatting kernel's field spans: (``fs[j]``, ``fe[j]``) for each field ``j``."""
    for j in range(N_FIELDS):
        spans[r, j, 0] = fs[j]
        spans[r, j, 1] = fe[j]


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
    ex_cum,
    seq_buf,
    seq_off,
    pre_buf,
    pre_off,
    tx_buf,
    tx_off,
    base_code,
    aa_code,
    three,
    short,
    comp,
):
    """Text of single-nucleotide rows inside a transcript (sorted exons; not frameshift).

    Per row ``r``: transcript ``row_t``, flags ``row_f``, 0-based genomic position ``row_g``, REF/ALT
    base (ASCII, genomic strand), the consequence kernel's trimmed peptides (``row_aa_ref`` /
    ``row_aa_alt``: ASCII, 0 = empty) and ``ints`` row, and ``row_pre``: index of the row's
    ``Consequence|IMPACT|`` (escaped) in ``pre_buf``/``pre_off``; ``tx_buf``/``tx_off``: each
    transcript's ``SYMBOL|Gene|Feature|BIOTYPE|STRAND`` (escaped), the rest of the CSQ prefix.
    ``seq_off[t]`` is the offset of transcript ``t``'s cDNA in ``seq_buf`` (-1 if not loaded).

    Returns ``(buf, used, spans)``: ``buf[:used]`` holds, per row, :data:`N_FIELDS` fields one after
    the other: exon, intron, HGVSc, HGVSp, HGVSp_short, Amino_acids, Codons, cDNA_position,
    CDS_position, Protein_position, then the CSQ entry without Allele and PICK; ``spans[r, j]`` is
    the (start, end) of field ``j`` of row ``r`` in ``buf``.
    """
    n = row_t.shape[0]
    cap = 0
    for r in range(n):
        cap += ROW_CAP + pre_off[row_pre[r] + 1] - pre_off[row_pre[r]]
        cap += tx_off[row_t[r] + 1] - tx_off[row_t[r]]
    buf = np.empty(cap, dtype=np.uint8)
    spans = np.empty((n, N_FIELDS, 2), dtype=np.int64)
    fs = np.zeros(N_FIELDS, dtype=np.int64)  # start and end of each field of the current row
    fe = np.zeros(N_FIELDS, dtype=np.int64)
    p = 0
    for r in range(n):
        t = row_t[r]
        f = row_f[r]
        g = row_g[r]
        strand = t_strand[t]
        e0, ne, total, coding, cds_c0, cds_c1 = _tx_geometry(
            t, t_exon_off, t_n_exons, t_cds_start, t_cds_end, ex_start, ex_end, ex_cum, strand
        )
        p = _put_exon_intron(buf, p, fs, fe, ints[r, 0], ints[r, 1], ints[r, 2], ints[r, 3], ne)
        # 2 HGVSc
        fs[2] = p
        buf[p] = 99 if coding else 110  # c / n
        buf[p + 1] = 46
        p = _put_position(
            buf, p + 2, g, e0, ne, ex_start, ex_end, ex_cum, strand, total, cds_c0, cds_c1, coding
        )
        if strand >= 0:
            buf[p] = row_ref[r]
            buf[p + 2] = row_alt[r]
        else:
            buf[p] = comp[row_ref[r]]
            buf[p + 2] = comp[row_alt[r]]
        buf[p + 1] = 62  # '>'
        p += 3
        fe[2] = p
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
        fs[4] = p
        if protein:
            p = _put_hgvsp(buf, p, short, f, ps, ref_aa, alt_aa, before, ints[r, 18], ints[r, 13])
        fe[4] = p
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
        p = _finish_row(
            buf,
            p,
            fs,
            fe,
            ints[r, 4],
            ints[r, 5],
            ints[r, 6],
            ints[r, 7],
            ints[r, 8],
            ints[r, 9],
            pre_buf,
            pre_off,
            row_pre[r],
            tx_buf,
            tx_off,
            row_t[r],
        )
        _put_spans(spans, r, fs, fe)
    return buf, p, spans


# ---------------------------------------------------------------------------- other alleles

FALLBACK = 1  # row left to the Python formatter (reference window too short, unusual codon window)


@helper
def _put_peptide(buf, p, pep, a, b, codes):
    for i in range(a, b):
        p = _put_aa(buf, p, pep[i], codes)
    return p


@helper
def _put_ter(buf, p, codes, n):
    """``Ter{n}`` / ``Ter?`` (``*{n}`` / ``*?`` in one-letter form)."""
    p = _put_aa(buf, p, 42, codes)
    if n > 0:
        return _put_int(buf, p, n)
    buf[p] = 63
    return p + 1


@helper
def _put_hgvsp_any(
    buf, p, codes, f, ps, ra, ra0, ra1, aa, aa0, aa1, before, after, dup, ext_aa, fs_ter, ext_ter
):
    """``hgvs.hgvsp`` for any peptide change: ref peptide ``ra[ra0:ra1]``, alt ``aa[aa0:aa1]``."""
    nr = ra1 - ra0
    na = aa1 - aa0
    p0 = p
    buf[p] = 112
    buf[p + 1] = 46
    p += 2
    if f & _START_LOST:
        p = _put_aa(buf, p, 77, codes)
        buf[p] = 49
        buf[p + 1] = 63
        return p + 2
    if f & _FRAMESHIFT:
        if nr == 0:
            return p0
        if na == 1 and aa[aa0] == 42:
            p = _put_peptide(buf, p, ra, ra0, ra1, codes)
            p = _put_int(buf, p, ps)
            return _put_aa(buf, p, 42, codes)
        if nr == 1 and ra[ra0] == 42:
            p = _put_aa(buf, p, 42, codes)
            p = _put_int(buf, p, ps)
            p = _put_peptide(buf, p, aa, aa0, aa1, codes)
            buf[p] = 101
            buf[p + 1] = 120
            buf[p + 2] = 116
            return _put_ter(buf, p + 3, codes, ext_ter)
        p = _put_peptide(buf, p, ra, ra0, ra1, codes)
        p = _put_int(buf, p, ps)
        p = _put_peptide(buf, p, aa, aa0, aa1, codes)
        buf[p] = 102
        buf[p + 1] = 115  # fs
        return _put_ter(buf, p + 2, codes, fs_ter)
    if nr == 0 and na == 0:
        if f & (_SYNONYMOUS | _STOP_RETAINED | _START_RETAINED) and before != 0:
            p = _put_aa(buf, p, before, codes)
            p = _put_int(buf, p, ps)
            buf[p] = 61
            return p + 1
        return p0
    if nr > 0 and ra[ra0] == 42 and (f & _STOP_LOST):
        p = _put_aa(buf, p, 42, codes)
        p = _put_int(buf, p, ps)
        x = 88
        if na > 0:
            x = aa[aa0]
        elif ext_aa > 0:
            x = ext_aa
        p = _put_aa(buf, p, x, codes)
        buf[p] = 101
        buf[p + 1] = 120
        buf[p + 2] = 116
        return _put_ter(buf, p + 3, codes, ext_ter)
    if nr == 0:  # insertion between before (ps - 1) and after (ps)
        if dup:
            if na == 1:
                p = _put_aa(buf, p, aa[aa0], codes)
                p = _put_int(buf, p, ps - 1)
                return p + _dup(buf, p)
            p = _put_aa(buf, p, aa[aa0], codes)
            p = _put_int(buf, p, ps - na)
            buf[p] = 95
            p = _put_aa(buf, p + 1, aa[aa1 - 1], codes)
            p = _put_int(buf, p, ps - 1)
            return p + _dup(buf, p)
        if before == 0 or after == 0:
            return p0
        p = _put_aa(buf, p, before, codes)
        p = _put_int(buf, p, ps - 1)
        buf[p] = 95
        p = _put_aa(buf, p + 1, after, codes)
        p = _put_int(buf, p, ps)
        buf[p] = 105
        buf[p + 1] = 110
        buf[p + 2] = 115  # ins
        return _put_peptide(buf, p + 3, aa, aa0, aa1, codes)
    # span of the reference peptide
    p = _put_aa(buf, p, ra[ra0], codes)
    p = _put_int(buf, p, ps)
    if nr > 1:
        buf[p] = 95
        p = _put_aa(buf, p + 1, ra[ra1 - 1], codes)
        p = _put_int(buf, p, ps + nr - 1)
    if na == 0:
        buf[p] = 100
        buf[p + 1] = 101
        buf[p + 2] = 108  # del
        return p + 3
    if nr == 1 and na == 1:
        return _put_aa(buf, p, aa[aa0], codes)
    if aa[aa0] == 42:
        # p.{ref[0]}{ps}Ter: the span written above is cut back to its first residue
        q = p0 + 2
        q = _put_aa(buf, q, ra[ra0], codes)
        q = _put_int(buf, q, ps)
        return _put_aa(buf, q, 42, codes)
    for ch in (100, 101, 108, 105, 110, 115):  # delins
        buf[p] = ch
        p += 1
    return _put_peptide(buf, p, aa, aa0, aa1, codes)


@helper
def _dup(buf, p):
    """Write ``dup`` at ``p``; returns its length (3)."""
    buf[p] = 100
    buf[p + 1] = 117
    buf[p + 2] = 112
    return 3


@helper
def _feature_bounds(g, e0, ne, ex_start, ex_end):
    """Genomic [start, end) of the exon or intron holding 0-based ``g`` (the whole line if neither;
    sorted, non-overlapping exons)."""
    i = _exon_at_or_before(g, e0, ne, ex_start)
    if i < 0:
        return -(1 << 60), 1 << 60
    if g < ex_end[e0 + i]:
        return ex_start[e0 + i], ex_end[e0 + i]
    if i < ne - 1:
        return ex_end[e0 + i], ex_start[e0 + i + 1]
    return -(1 << 60), 1 << 60


@helper
def _aa_eq(x, y):
    return x != 0 and x == y


@jit
def indel_rows(
    row_t, row_f, row_s, row_e, ref_buf, ref_off, alt_buf, alt_off, pep_ref, pref_off, pep_alt, palt_off,
    row_pre, ints, row_w, win_buf, win_off, win_start, win_clen,
    t_strand, t_cds_start, t_cds_end, t_exon_off, t_n_exons, t_frame, ex_start, ex_end, ex_cum, seq_buf, seq_off,
    pre_buf, pre_off, tx_buf, tx_off, base_code, aa_code, three, short, comp,
):  # fmt: skip
    """Text of rows inside a transcript whose allele is not a single-nucleotide substitution (sorted
    exons): the HGVS 3' shift within the exon/intron, ``dup``/``ins``/``del``/``delins``, protein
    changes with their own 3' shift, frameshifts and extensions — ``Annotator._row_detail``.

    Per row: trimmed allele ``[row_s, row_e)`` with REF/ALT (upper case, genomic strand) in
    ``ref_buf``/``alt_buf``, the consequence kernel's trimmed peptides in ``pep_ref``/``pep_alt``
    and the reference window ``row_w`` (``win_*`` as in ``_alleles_impl.prepare``).

    Returns ``(buf, used, status, prot_pos, spans)`` — the :data:`N_FIELDS` fields of every row and
    their spans as in :func:`snv_rows` (all empty for rows with ``status`` FALLBACK), and the row's
    Protein position (-1: none).
    """
    n = row_t.shape[0]
    cap = 0
    big = 1
    for r in range(n):
        ln = ref_off[r + 1] - ref_off[r] + alt_off[r + 1] - alt_off[r]
        ln += pref_off[r + 1] - pref_off[r] + palt_off[r + 1] - palt_off[r]
        big = max(big, ln + 8)
        cap += ROW_CAP + 60 * ln + pre_off[row_pre[r] + 1] - pre_off[row_pre[r]]
        cap += tx_off[row_t[r] + 1] - tx_off[row_t[r]]
    buf = np.empty(cap, dtype=np.uint8)
    spans = np.empty((n, N_FIELDS, 2), dtype=np.int64)
    status = np.zeros(n, dtype=np.int64)
    prot_pos = np.full(n, -1, dtype=np.int64)
    unit = np.empty(big, dtype=np.uint8)  # shifted indel bases (genomic)
    at = np.empty(big, dtype=np.uint8)  # ALT in transcript orientation
    rt = np.empty(big, dtype=np.uint8)  # REF in transcript orientation
    ra = np.empty(big, dtype=np.uint8)  # reference peptide (rotated by the protein 3' shift)
    aa = np.empty(big, dtype=np.uint8)
    fs = np.zeros(N_FIELDS, dtype=np.int64)
    fe = np.zeros(N_FIELDS, dtype=np.int64)
    p = 0
    for r in range(n):
        row_start = p
        t = row_t[r]
        f = row_f[r]
        s = row_s[r]
        e = row_e[r]
        strand = t_strand[t]
        plus = strand >= 0
        e0, ne, total, coding, cds_c0, cds_c1 = _tx_geometry(
            t, t_exon_off, t_n_exons, t_cds_start, t_cds_end, ex_start, ex_end, ex_cum, strand
        )
        r0 = ref_off[r]
        rlen = ref_off[r + 1] - r0
        a0 = alt_off[r]
        alen = alt_off[r + 1] - a0
        w = row_w[r]
        ok = w >= 0
        ws = 0
        wb = 0
        wlen = 0
        clen = 0
        if ok:
            ws = win_start[w]
            wb = win_off[w]
            wlen = win_off[w + 1] - wb
            clen = win_clen[w]
        # HGVS 3' rule: a pure insertion/deletion moves to its 3'-most placement within its feature
        hs = s
        he = e
        ins = rlen == 0 and alen > 0
        dele = alen == 0 and rlen > 0
        hlen = alen if ins else rlen
        for i in range(hlen):
            unit[i] = alt_buf[a0 + i] if ins else ref_buf[r0 + i]
        if ok and (ins or dele):
            anchor = s if rlen > 0 else s - (0 if plus else 1)
            lo, hi = _feature_bounds(max(anchor, 0), e0, ne, ex_start, ex_end)
            moved = 0
            if plus:
                q = e
                while q < hi and q < clen:
                    if q - ws >= wlen:
                        ok = False
                        break
                    if win_buf[wb + q - ws] != unit[moved % hlen]:
                        break
                    moved += 1
                    q += 1
                rot = moved % hlen
                for i in range(hlen):
                    at[i] = unit[(i + rot) % hlen]
            else:
                if s - 64 < 0 and lo < 0:
                    ok = False  # the Python code would fetch before the contig start
                q = s - 1
                while ok and q >= lo and q >= 0:
                    if q < ws:
                        ok = False
                        break
                    if win_buf[wb + q - ws] != unit[hlen - 1 - moved % hlen]:
                        break
                    moved += 1
                    q -= 1
                rot = moved % hlen
                for i in range(hlen):
                    at[i] = unit[(i - rot + hlen) % hlen]
            for i in range(hlen):
                unit[i] = at[i]
            hs = s + moved if plus else s - moved
            he = e + moved if plus else e - moved
        # duplication: the inserted bases repeat the reference 5' of them (transcript orientation)
        is_dup = False
        if ok and hs == he and ins:
            if plus:
                if hs - hlen >= 0:
                    if hs - hlen < ws:
                        ok = False
                    else:
                        is_dup = True
                        for i in range(hlen):
                            if win_buf[wb + hs - hlen - ws + i] != unit[i]:
                                is_dup = False
            else:
                if hs + hlen <= clen:
                    if hs + hlen - ws > wlen:
                        ok = False
                    else:
                        is_dup = True
                        for i in range(hlen):
                            if win_buf[wb + hs - ws + i] != unit[i]:
                                is_dup = False
        # codon window must be a plain slice of the transcript
        w0 = ints[r, 14]
        protein = ints[r, 8] > 0 and coding
        if protein and w0 >= 0:
            w1 = ints[r, 15]
            c0 = ints[r, 16]
            c1 = ints[r, 17]
            if not (w0 <= c0 and c0 <= c1 and c1 <= w1):
                ok = False
        if not ok:
            status[r] = FALLBACK
            for j in range(N_FIELDS):  # every field empty; what the row wrote is dropped
                spans[r, j, 0] = row_start
                spans[r, j, 1] = row_start
            p = row_start
            continue
        # transcript-orientation REF / ALT of the (shifted) allele
        if ins:
            nr_t = 0
            na_t = hlen
            for i in range(hlen):
                at[i] = unit[i] if plus else comp[unit[hlen - 1 - i]]
        elif dele:
            nr_t = hlen
            na_t = 0
            for i in range(hlen):
                rt[i] = unit[i] if plus else comp[unit[hlen - 1 - i]]
        else:
            nr_t = rlen
            na_t = alen
            for i in range(rlen):
                rt[i] = ref_buf[r0 + i] if plus else comp[ref_buf[r0 + rlen - 1 - i]]
            for i in range(alen):
                at[i] = alt_buf[a0 + i] if plus else comp[alt_buf[a0 + alen - 1 - i]]
        p = _put_exon_intron(buf, p, fs, fe, ints[r, 0], ints[r, 1], ints[r, 2], ints[r, 3], ne)
        # 2 HGVSc
        fs[2] = p
        buf[p] = 99 if coding else 110
        buf[p + 1] = 46
        p += 2
        if hs == he:
            if is_dup:
                if plus:
                    ds = hs - hlen
                    de = hs - 1
                else:
                    ds = hs + hlen - 1
                    de = hs
                p = _put_position(
                    buf, p, ds, e0, ne, ex_start, ex_end, ex_cum, strand, total, cds_c0, cds_c1, coding
                )
                if hlen != 1:
                    buf[p] = 95
                    p = _put_position(
                        buf,
                        p + 1,
                        de,
                        e0,
                        ne,
                        ex_start,
                        ex_end,
                        ex_cum,
                        strand,
                        total,
                        cds_c0,
                        cds_c1,
                        coding,
                    )
                p += _dup(buf, p)
            else:
                left = hs - 1 if plus else hs
                right = hs if plus else hs - 1
                p = _put_position(
                    buf, p, left, e0, ne, ex_start, ex_end, ex_cum, strand, total, cds_c0, cds_c1, coding
                )
                buf[p] = 95
                p = _put_position(
                    buf, p + 1, right, e0, ne, ex_start, ex_end, ex_cum, strand, total, cds_c0, cds_c1, coding
                )
                buf[p] = 105
                buf[p + 1] = 110
                buf[p + 2] = 115
                p += 3
                for i in range(na_t):
                    buf[p] = at[i]
                    p += 1
        else:
            first = hs if plus else he - 1
            last = he - 1 if plus else hs
            p = _put_position(
                buf, p, first, e0, ne, ex_start, ex_end, ex_cum, strand, total, cds_c0, cds_c1, coding
            )
            if first != last:
                buf[p] = 95
                p = _put_position(
                    buf, p + 1, last, e0, ne, ex_start, ex_end, ex_cum, strand, total, cds_c0, cds_c1, coding
                )
            if na_t == 0:
                buf[p] = 100
                buf[p + 1] = 101
                buf[p + 2] = 108
                p += 3
            elif nr_t == 1 and na_t == 1:
                buf[p] = rt[0]
                buf[p + 1] = 62
                buf[p + 2] = at[0]
                p += 3
            else:
                for ch in (100, 101, 108, 105, 110, 115):
                    buf[p] = ch
                    p += 1
                for i in range(na_t):
                    buf[p] = at[i]
                    p += 1
        fe[2] = p
        # protein: the consequence kernel's peptides, with the HGVS 3' shift on the protein
        ps = ints[r, 8]
        nr = pref_off[r + 1] - pref_off[r]
        na = palt_off[r + 1] - palt_off[r]
        for i in range(nr):
            ra[i] = pep_ref[pref_off[r] + i]
        for i in range(na):
            aa[i] = pep_alt[palt_off[r] + i]
        before = 0
        after = 0
        dup = False
        prot_pos[r] = ps if ps > 0 else -1
        span_a = ints[r, 8]
        span_b = ints[r, 9]
        frameshift = (f & _FRAMESHIFT) != 0
        if protein:
            s0 = seq_off[t]
            o = cds_c0 + t_frame[t]
            if nr == 0 and na == 0:
                before = _aa_at(ps, o, s0, total, seq_buf, base_code, aa_code)
            elif nr == 0 and not frameshift:
                while (
                    na > 0
                    and _aa_eq(_aa_at(ps, o, s0, total, seq_buf, base_code, aa_code), aa[0])
                    and aa[0] != 42
                ):
                    x = aa[0]
                    for i in range(na - 1):
                        aa[i] = aa[i + 1]
                    aa[na - 1] = x
                    ps += 1
                before = _aa_at(ps - 1, o, s0, total, seq_buf, base_code, aa_code)
                after = _aa_at(ps, o, s0, total, seq_buf, base_code, aa_code)
                dup = ps - na >= 1
                for i in range(na):
                    if not dup:
                        break
                    if not _aa_eq(_aa_at(ps - na + i, o, s0, total, seq_buf, base_code, aa_code), aa[i]):
                        dup = False
                prot_pos[r] = ps - 1
                span_a = ps - 1
                span_b = ps
            elif na == 0 and not frameshift:
                star = False
                for i in range(nr):
                    if ra[i] == 42:
                        star = True
                if not star:
                    while nr > 0 and _aa_eq(
                        _aa_at(ps + nr, o, s0, total, seq_buf, base_code, aa_code), ra[0]
                    ):
                        x = ra[0]
                        for i in range(nr - 1):
                            ra[i] = ra[i + 1]
                        ra[nr - 1] = x
                        ps += 1
                    prot_pos[r] = ps
                    span_a = ps
                    span_b = ps + nr - 1
        # 3 HGVSp, 4 HGVSp_short
        ext_aa = ints[r, 18]
        for j, codes in ((3, three), (4, short)):  # three-letter, then one-letter
            fs[j] = p
            if protein:
                p = _put_hgvsp_any(
                    buf, p, codes, f, ps, ra, 0, nr, aa, 0, na, before, after, dup, ext_aa,
                    ints[r, 12], ints[r, 13],
                )  # fmt: skip
            fe[j] = p
        # 5 amino acids
        fs[5] = p
        if protein:
            if frameshift:
                if nr > 0:
                    for i in range(nr):
                        buf[p] = ra[i]
                        p += 1
                    buf[p] = 47
                    buf[p + 1] = 88  # /X
                    p += 2
            elif nr > 0 or na > 0:
                if nr == 0:
                    buf[p] = 45
                    p += 1
                for i in range(nr):
                    buf[p] = ra[i]
                    p += 1
                buf[p] = 47
                p += 1
                if na == 0:
                    buf[p] = 45
                    p += 1
                for i in range(na):
                    buf[p] = aa[i]
                    p += 1
            elif before != 0:
                buf[p] = before
                p += 1
        fe[5] = p
        # 6 codons (the allele as given, not shifted): reference window with changed bases upper case
        fs[6] = p
        if protein and w0 >= 0:
            w1 = ints[r, 15]
            c0 = ints[r, 16]
            c1 = ints[r, 17]
            s0 = seq_off[t]
            q = p
            for i in range(w0, w1):
                ch = seq_buf[s0 + i]
                buf[p] = ch if c0 <= i < c1 else _lower(ch)
                p += 1
            if p == q:
                buf[p] = 45
                p += 1
            buf[p] = 47
            p += 1
            q = p
            for i in range(w0, c0):
                buf[p] = _lower(seq_buf[s0 + i])
                p += 1
            for i in range(alen):
                ch = alt_buf[a0 + i] if plus else comp[alt_buf[a0 + alen - 1 - i]]
                buf[p] = _upper(ch)
                p += 1
            for i in range(c1, w1):
                buf[p] = _lower(seq_buf[s0 + i])
                p += 1
            if p == q:
                buf[p] = 45
                p += 1
        fe[6] = p
        p = _finish_row(
            buf,
            p,
            fs,
            fe,
            ints[r, 4],
            ints[r, 5],
            ints[r, 6],
            ints[r, 7],
            span_a,
            span_b,
            pre_buf,
            pre_off,
            row_pre[r],
            tx_buf,
            tx_off,
            row_t[r],
        )
        _put_spans(spans, r, fs, fe)
    return buf, p, status, prot_pos, spans


@jit
def exon_cum(t_exon_off, t_n_exons, ex_start, ex_end):
    """Per exon row, the exonic bases of its transcript's exons before it (in row order): the
    ``ex_cum`` of :func:`_g2c_sorted`, made once per transcript index. Each exon row belongs to
    one transcript's range ``t_exon_off[t] .. + t_n_exons[t]``."""
    out = np.zeros(ex_start.shape[0], dtype=np.int64)
    for t in range(t_exon_off.shape[0]):
        acc = 0
        for i in range(t_n_exons[t]):
            e = t_exon_off[t] + i
            out[e] = acc
            acc += ex_end[e] - ex_start[e]
    return out

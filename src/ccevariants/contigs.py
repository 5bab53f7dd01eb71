"""Contig-name harmonisation between inputs and the reference (``chr1`` vs ``1``, ``chrM`` vs ``MT``)."""

from __future__ import annotations

from collections.abc import Iterable

_MITO = ("chrM", "MT", "chrMT", "M")


def candidates(name: str) -> list[str]:
    """Spellings under which ``name`` may appear in another naming convention (``name`` first)."""
    out = [name]
    if name in _MITO:
        out.extend(m for m in _MITO if m != name)
        return out
    if name.startswith("chr"):
        out.append(name[3:])
    else:
        out.append("chr" + name)
    return out


def harmonise(name: str, reference: Iterable[str] | set[str]) -> str | None:
    """The reference's spelling of contig ``name``, or None when the reference has no such contig."""
    ref = reference if isinstance(reference, (set, frozenset, dict)) else set(reference)
    for candidate in candidates(name):
        if candidate in ref:
            return candidate
    return None


def read_fai(path) -> dict[str, int]:
    """Contig lengths from a FASTA index (``.fai``): name → length, in file order."""
    from .errors import InputError

    lengths: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, 1):
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 2 or not fields[1].isdigit():
                    raise InputError(
                        f"expected a FASTA index line 'name<TAB>length<TAB>…'; found {line.strip()[:60]!r}",
                        path=path,
                        line=lineno,
                    )
                lengths[fields[0]] = int(fields[1])
    except FileNotFoundError:
        raise InputError(
            "expected a FASTA index (.fai) next to the reference; found none", path=path
        ) from None
    return lengths

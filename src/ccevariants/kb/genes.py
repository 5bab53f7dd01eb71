"""Gene symbol normalisation (HGNC/NCBI symbols; aliases such as MLL → KMT2A).

Reads the NCBI-derived table format of ``org.Hs.eg.genes.tsv`` (columns ``entrez_id symbol ...
aliases``, aliases comma-separated) or the bundled ``data/kb/gene_aliases.tsv`` (``symbol entrez_id
aliases``) derived from it for the genes the bundled KB uses (:func:`derive_alias_table`).
An alias resolves only when it names exactly one official symbol; official symbols always win.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

from ..errors import KnowledgeBaseError


class GeneAliases:
    def __init__(self, symbols: set[str], alias_map: dict[str, set[str]], complete: bool, source: str):
        self.symbols = symbols
        self.alias_map = alias_map
        #: True for a genome-wide table: an unknown symbol is then an error, not merely unverified.
        self.complete = complete
        self.source = source

    def resolve(self, gene: str) -> str | None:
        """Official symbol for ``gene`` (symbol or unambiguous alias, case-insensitive); None if unknown."""
        key = gene.strip().upper()
        if key in self.symbols:
            return key
        targets = self.alias_map.get(key)
        if targets and len(targets) == 1:
            return next(iter(targets))
        return None

    @classmethod
    def load(cls, path: str | Path | None = None) -> GeneAliases:
        """Load a genome-wide NCBI table (``path``) or the bundled subset (``None``)."""
        if path is None:
            ref = resources.files("ccevariants") / "data" / "kb" / "gene_aliases.tsv"
            with ref.open("r", encoding="utf-8") as handle:
                return cls._parse(handle, "bundled gene_aliases.tsv", complete=False)
        path = Path(path)
        try:
            with open(path, encoding="utf-8") as handle:
                return cls._parse(handle, str(path), complete=True)
        except FileNotFoundError:
            raise KnowledgeBaseError("expected an existing gene alias table; found none", path=path) from None

    @classmethod
    def _parse(cls, handle, source: str, complete: bool) -> GeneAliases:
        reader = csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t")
        if not reader.fieldnames or "symbol" not in reader.fieldnames or "aliases" not in reader.fieldnames:
            raise KnowledgeBaseError(
                f"expected a tab-separated header with 'symbol' and 'aliases'; found {reader.fieldnames}",
                path=source,
                line=1,
            )
        symbols: set[str] = set()
        alias_map: dict[str, set[str]] = {}
        for row in reader:
            symbol = (row["symbol"] or "").strip().upper()
            if not symbol:
                continue
            symbols.add(symbol)
            for alias in (row.get("aliases") or "").split(","):
                alias = alias.strip().upper()
                if alias and alias != symbol:
                    alias_map.setdefault(alias, set()).add(symbol)
        return cls(symbols, alias_map, complete, source)


def derive_alias_table(ncbi_path: str | Path, genes: set[str], output: str | Path) -> int:
    """Write the bundled subset (``symbol entrez_id aliases``) for ``genes``; returns rows written."""
    from .._io import atomic_write

    wanted = {g.upper() for g in genes}
    rows = []
    with open(ncbi_path, encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["symbol"].upper() in wanted:
                rows.append((row["symbol"], row["entrez_id"], row.get("aliases") or ""))
    with atomic_write(output) as out:
        out.write("# Derived from NCBI Gene (public domain) via Bioconductor org.Hs.eg.db 3.16.0 (2022-09)\n")
        out.write("symbol\tentrez_id\taliases\n")
        for symbol, entrez, aliases in sorted(rows):
            out.write(f"{symbol}\t{entrez}\t{aliases}\n")
    return len(rows)

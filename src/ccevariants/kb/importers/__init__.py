"""Knowledge-base importers: each turns one source into statement documents (schema form).

Every importer returns a :class:`SourceResult`; rows that cannot be imported are counted in
``skipped`` under a reason (never dropped silently), with the first few details in ``problems``.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class SourceResult:
    name: str
    version: str
    licence: str
    research_only: bool = False
    date: str | None = None
    url: str | None = None
    path: str | None = None
    statements: list[tuple] = field(default_factory=list)  # (document, line or row number[, file path])
    skipped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    rows_read: int = 0
    _shown: Counter = field(default_factory=Counter, repr=False)

    def skip(self, reason: str, detail: str | None = None, count: int = 1) -> None:
        """Count ``count`` rows as skipped for ``reason``; keep the first details of each reason."""
        self.skipped[reason] += count
        if detail and self._shown[reason] < PROBLEMS_PER_REASON:
            self._shown[reason] += 1
            self.problems.append(detail)


def tsv_rows(path: Path, required, result: SourceResult, expected: str) -> Iterator[tuple[int, str, dict]]:
    """Rows of a tab-separated source as ``(line, "file:line", row)``, counting each in ``result.rows_read``.

    A header missing any of ``required`` raises :class:`KnowledgeBaseError` naming the file, line 1,
    ``expected`` (what the source's header should hold) and the missing columns.
    """
    from ...errors import KnowledgeBaseError

    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise KnowledgeBaseError(
                f"expected {expected}; found {', '.join(missing)} missing", path=path, line=1
            )
        for row in reader:
            result.rows_read += 1
            yield reader.line_num, f"{path}:{reader.line_num}", row


#: How many example problems the manifest keeps per skip reason (all rows are counted).
PROBLEMS_PER_REASON = 10
SOURCES = ("bundled", "cgi", "moalmanac", "civic", "inhouse")


def run_importer(name: str, path: str | None, oncotree=None) -> SourceResult:
    """Dispatch to the importer for ``name`` (one of :data:`SOURCES`); ``oncotree`` maps disease names."""
    from ...errors import KnowledgeBaseError

    if name == "bundled":
        from .bundled import import_bundled

        return import_bundled(path)
    if path is None:
        raise KnowledgeBaseError(f"expected --source {name}=PATH; found no path")
    if name == "cgi":
        from .cgi import import_cgi

        return import_cgi(path)
    if name == "moalmanac":
        from .moalmanac import import_moalmanac

        return import_moalmanac(path)
    if name == "civic":
        from .civic import import_civic

        return import_civic(path, oncotree=oncotree)
    if name == "inhouse":
        from .inhouse import import_inhouse

        return import_inhouse(path)
    raise KnowledgeBaseError(f"expected a source name among {', '.join(SOURCES)}; found {name!r}")

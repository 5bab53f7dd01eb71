"""One exception hierarchy for everything the pipeline reports to a user.

Messages follow one shape: ``<file>:<line>: expected X; found Y`` (line omitted when it does not
apply). The command line turns any :class:`CcevariantsError` into that one line on stderr and exit
code 2; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

from os import PathLike


class CcevariantsError(Exception):
    """Base class of all errors that are the user's input, not a bug."""

    def __init__(self, message: str, *, path: str | PathLike | None = None, line: int | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
            where += ": "
        return f"{where}{self.detail}"


class InputError(CcevariantsError):
    """A data file (VCF, MAF, BAM, GFF3, CNV table, ...) is malformed or inconsistent."""


class ReferenceMismatchError(InputError):
    """Input does not match the reference genome (contigs, lengths, REF bases, build)."""


class ConfigError(CcevariantsError):
    """Configuration or sample sheet is invalid."""


class KnowledgeBaseError(CcevariantsError):
    """A knowledge-base source or snapshot is invalid."""


class SchemaError(CcevariantsError):
    """A document the pipeline wrote or read does not validate against its JSON schema."""

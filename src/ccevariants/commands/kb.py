"""Knowledge base: compile sources into a content-hashed snapshot, compare and validate snapshots.

ccev kb build --output snapshot.json [--source bundled] [--source cgi=PATH] [--source moalmanac=DIR]
              [--source civic=EVIDENCE_TSV] [--source inhouse=PATH] [--strict] [--oncotree JSON] [--aliases TSV]
ccev kb diff OLD.json NEW.json [--output diff.json]
ccev kb validate [SNAPSHOT.json | --source ...] [--strict]
ccev kb bundle-resources --oncotree RELEASE.json --aliases org.Hs.eg.genes.tsv   (maintainers)
"""

from __future__ import annotations

import argparse

HELP = "build, diff and validate knowledge-base snapshots"


def _add_source_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        action="append",
        default=[],
        metavar="NAME[=PATH]",
        help="knowledge-base source: bundled | cgi=TSV | moalmanac=DIR | civic=TSV | inhouse=TSV/YAML (repeatable; default: bundled)",
    )
    p.add_argument(
        "--strict", action="store_true", help="fail when any row is skipped or statements contradict"
    )
    p.add_argument("--oncotree", help="OncoTree release JSON (default: the bundled subset)")
    p.add_argument(
        "--aliases",
        help="genome-wide gene alias table (NCBI org.Hs.eg genes TSV); unknown genes are then skipped",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kb_command", metavar="ACTION", required=True)
    b = sub.add_parser("build", help="compile sources into a snapshot JSON")
    b.add_argument("--output", required=True, help="snapshot JSON to write")
    _add_source_args(b)
    d = sub.add_parser("diff", help="statement ids added / removed / changed between two snapshots")
    d.add_argument("old")
    d.add_argument("new")
    d.add_argument("--output", help="write the diff as JSON (default: print a summary)")
    v = sub.add_parser("validate", help="validate a snapshot, or the given sources")
    v.add_argument("snapshot", nargs="?", help="snapshot JSON (omit to validate --source inputs)")
    _add_source_args(v)
    r = sub.add_parser(
        "bundle-resources", help="(maintainers) regenerate the bundled OncoTree subset and gene alias table"
    )
    r.add_argument(
        "--oncotree", required=True, help="full OncoTree release JSON (e.g. oncotree_2025_10_03.json)"
    )
    r.add_argument("--aliases", required=True, help="NCBI gene table (org.Hs.eg.genes.tsv)")


def _parse_sources(values: list[str]) -> list[tuple[str, str | None]]:
    out = []
    for value in values or ["bundled"]:
        name, _, path = value.partition("=")
        out.append((name.strip(), path.strip() or None))
    return out


def run(args: argparse.Namespace) -> int:
    import json
    import logging
    import sys

    from .. import __version__
    from .._io import read_json, write_json
    from ..errors import KnowledgeBaseError
    from ..kb.genes import GeneAliases
    from ..kb.snapshot import build_snapshot, diff_snapshots, snapshot_from_document
    from ..oncotree import OncoTree

    log = logging.getLogger("ccevariants.kb")
    log.info("ccevariants %s: kb %s", __version__, args.kb_command)
    if args.kb_command in ("build", "validate") and not (args.kb_command == "validate" and args.snapshot):
        tree = OncoTree.load(args.oncotree) if args.oncotree else None
        aliases = GeneAliases.load(args.aliases) if args.aliases else None
        document = build_snapshot(
            _parse_sources(args.source), strict=args.strict, oncotree=tree, aliases=aliases
        )
        manifest = document["manifest"]
        for source in manifest["sources"]:
            skipped = ", ".join(f"{k}: {v}" for k, v in source["skipped"].items()) or "none"
            log.info(
                "%s %s: %d imported, skipped %s",
                source["name"],
                source["version"],
                source["imported"],
                skipped,
            )
        if manifest["conflicts"]:
            log.warning(
                "%d contradictory statement groups (see manifest.conflicts)", len(manifest["conflicts"])
            )
        if args.kb_command == "build":
            write_json(args.output, document)
            log.info(
                "snapshot %s: %d statements, content hash %s",
                args.output,
                manifest["statement_count"],
                manifest["content_hash"],
            )
        else:
            sys.stdout.write(
                json.dumps(
                    {k: manifest[k] for k in ("statement_count", "content_hash", "sources", "conflicts")},
                    indent=2,
                )
                + "\n"
            )
        return 0
    if args.kb_command == "validate":
        document = read_json(args.snapshot)
        snap = snapshot_from_document(document, args.snapshot)
        sys.stdout.write(
            f"{args.snapshot}: valid snapshot, {len(snap.statements)} statements, content hash {snap.content_hash}\n"
        )
        return 0
    if args.kb_command == "diff":
        old, new = read_json(args.old), read_json(args.new)
        for doc, path in ((old, args.old), (new, args.new)):
            if not isinstance(doc, dict) or "statements" not in doc or "manifest" not in doc:
                raise KnowledgeBaseError(
                    "expected a snapshot with 'manifest' and 'statements'; found something else", path=path
                )
        diff = diff_snapshots(old, new)
        if args.output:
            write_json(args.output, diff)
        else:
            sys.stdout.write(
                f"added {len(diff['added'])}, removed {len(diff['removed'])}, changed {len(diff['changed'])}\n"
                + "".join(f"+ {i}\n" for i in diff["added"])
                + "".join(f"- {i}\n" for i in diff["removed"])
                + "".join(f"~ {c['id']} ({', '.join(c['fields'])})\n" for c in diff["changed"])
            )
        return 0
    if args.kb_command == "bundle-resources":
        from ..kb.bundle import regenerate_bundled_resources

        counts = regenerate_bundled_resources(args.oncotree, args.aliases)
        log.info("bundled resources regenerated: %s", counts)
        return 0
    raise KnowledgeBaseError(f"expected a kb action; found {args.kb_command!r}")

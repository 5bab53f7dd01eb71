"""Subcommands of ``ccev``; each module: ``HELP``, ``add_arguments(parser)``, ``run(args) -> int``.

Modules here import only the standard library at module level (``ccev --help`` stays instant).
"""

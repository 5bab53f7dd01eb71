"""Placeholder: replaced by the stage implementation."""

HELP = "(not yet implemented)"


def add_arguments(parser):
    pass


def run(args):
    raise NotImplementedError("validate_sheet")

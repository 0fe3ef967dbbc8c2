"""The ``neuralpoly`` command line (also ``python -m neuralpoly_core``)."""

from .main import EXIT_CANCELLED, EXIT_ERROR, build_parser, main

__all__ = ["main", "build_parser", "EXIT_ERROR", "EXIT_CANCELLED"]

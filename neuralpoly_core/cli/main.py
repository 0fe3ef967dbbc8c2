"""The ``neuralpoly`` command line (also ``python -m neuralpoly_core``): the parser and ``main``.

Commands
--------
generate   train a neural polytope and extract its mesh
extract    extract a mesh from an existing model file
gallery    train and extract every network of one or more paper figures
boolean    build a network from a JSON description of solids (boolean algebra of neurons)
info       describe a model file
fit        fit a network to a mesh's signed distance, extract a low-poly mesh
regions    count a model's linear regions (exact or MILP), as a mesh or a picture
bounds     the known bounds on the linear regions of an architecture

Each command lives in a module of this package with a ``register(subparsers)`` function that
adds its parser and sets ``run``; :data:`COMMAND_MODULES` lists them in the order of ``--help``.
Bad input exits with status 2 and a message naming the problem; Ctrl-C exits with 130.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import Cancelled, NeuralPolyError
from . import booleans, experiments, folding, lowpoly, models, polytopes, regions

__all__ = ["main", "build_parser", "EXIT_ERROR", "EXIT_CANCELLED", "COMMAND_MODULES"]

EXIT_ERROR = 2
EXIT_CANCELLED = 130

#: The modules whose ``register`` adds commands, in the order ``--help`` lists them.
COMMAND_MODULES = (polytopes, booleans, models, folding, regions, experiments, lowpoly)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="neuralpoly",
        description="Train small networks and extract the surfaces they draw as exact meshes.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except NeuralPolyError as e:
        print(f"neuralpoly {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except (Cancelled, KeyboardInterrupt):
        print(f"neuralpoly {args.command}: cancelled", file=sys.stderr)
        return EXIT_CANCELLED
    except OSError as e:
        print(f"neuralpoly {args.command}: error: {e}", file=sys.stderr)
        return EXIT_ERROR
    except MemoryError:      # a last resort: the budgets (neuralpoly_core.budget) refuse first
        print(f"neuralpoly {args.command}: error: out of memory; use smaller settings (see README, "
              "\"Limits\")", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""``python -m neuralpoly_core`` runs the ``neuralpoly`` command line."""

import sys

from .cli.commands import main

sys.exit(main())

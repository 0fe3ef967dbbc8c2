"""``python -m neuralpoly_core`` runs the ``neuralpoly`` command line."""

import sys

from .cli import main

sys.exit(main())

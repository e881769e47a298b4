"""``python -m streams.cli``: the ``rapport`` command."""

import sys

from streams.cli import main

sys.exit(main())

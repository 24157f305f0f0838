"""``python -m dlcore``: see :mod:`dlcore.cli`."""

import sys

from dlcore.cli import main

sys.exit(main())

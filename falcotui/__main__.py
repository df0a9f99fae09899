"""`python -m falcotui` runs the `falcotui` command."""

import sys

from falcotui.cli import main

sys.exit(main())

"""`python -m bot`: the same as the `ci-triage` command."""

import sys

from bot.cli import main

sys.exit(main())

"""`python -m ferx.cli ...` is the `ferx` command."""
import sys

from . import main

sys.exit(main())

"""`python -m ferx ...` is the `ferx` command (what `torchrun -m ferx` needs)."""
import sys

from .cli import main

sys.exit(main())

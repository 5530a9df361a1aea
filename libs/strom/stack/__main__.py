"""``python -m strom.stack COMMAND`` = ``ops/stack COMMAND``."""

import sys

from strom.stack.cli import main

sys.exit(main(sys.argv[1:]))

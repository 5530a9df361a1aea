"""``python -m strom.stack COMMAND`` = ``ops/stack COMMAND``."""

import sys

from strom.stack.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

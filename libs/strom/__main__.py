"""``python -m strom`` = the ``strom`` command."""

from strom.cli import main

main()

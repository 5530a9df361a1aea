"""``python -m strom.services.resourcemanager [OPTIONS]`` = ``strom resourcemanager [OPTIONS]``."""

import sys

from strom.cli import main

main(["resourcemanager", *sys.argv[1:]])

"""``python -m strom.services.taskmanager [OPTIONS]`` = ``strom taskmanager [OPTIONS]``."""

import sys

from strom.cli import main

main(["taskmanager", *sys.argv[1:]])

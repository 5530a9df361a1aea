"""``python -m strom.services.jobmanager [OPTIONS]`` = ``strom jobmanager [OPTIONS]``."""

import sys

from strom.cli import main

main(["jobmanager", *sys.argv[1:]])

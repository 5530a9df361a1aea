"""A job file that fails on import (line 5)."""

import json

VALUE = json.loads("{not json")


def main():
    raise AssertionError("never reached: the module fails on import")

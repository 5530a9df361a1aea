"""Splitting text, in a submodule of the job's own package."""

import re

WORD = re.compile(r"[a-z]+")


def words(line: str) -> list[str]:
    return WORD.findall(line.lower())

"""The examples in docstrings run: they are the API's shortest documentation."""

import doctest
import importlib
import pkgutil

import pytest

import strom

MODULES = sorted(m.name for m in pkgutil.walk_packages(strom.__path__, "strom.")
                 if not m.name.startswith("strom.services") and m.name != "strom.__main__")


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"

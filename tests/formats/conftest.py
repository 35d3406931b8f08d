"""Fixtures of the format tests: a schema registry on a log of its own."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from headwater.log import open_log
from headwater.registry.store import LogSchemaRegistry


@pytest.fixture(scope="module")
def registry() -> Iterator[LogSchemaRegistry]:
    with tempfile.TemporaryDirectory() as tmp:
        log = open_log(os.path.join(tmp, "log"))
        try:
            yield LogSchemaRegistry(log)
        finally:
            log.close()

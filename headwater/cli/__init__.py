"""The ``headwater`` command line.

Commands are grouped in sub-apps (``topics``, ``log``); ``produce``, ``print`` and
``demo`` sit at the top level, as in kcat and ksqlDB. Each module registers its
commands on the shared ``app`` (``common.py``).
"""

from __future__ import annotations

from headwater.cli import apps, demo, generate, logs, records, server, sql, topics, tour  # noqa: F401 - they register their commands
from headwater.cli.common import app

__all__ = ["app"]

if __name__ == "__main__":
    app()

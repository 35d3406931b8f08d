"""The ``headwater`` command line.

Commands are grouped in sub-apps (``topics``, ``log``); ``produce``, ``print`` and
``demo`` sit at the top level, as in kcat and ksqlDB. Each module registers its
commands on the shared ``app`` (``common.py``).
"""

from __future__ import annotations

import os

# Before pyarrow is first imported (the imports below): Arrow's C++ code, such as the Parquet reader and writer of
# state snapshots, allocates from the pool this names and not from pa.set_memory_pool's; the system pool puts
# those buffers in the glibc heap that the server trims (headwater/server/memory.py). A user's choice wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")

from headwater.cli import apps, demo, generate, logs, records, server, sql, topics, tour  # noqa: E402, F401 - they register their commands
from headwater.cli.common import app  # noqa: E402

__all__ = ["app"]

if __name__ == "__main__":
    app()

"""The Headwater server: one ASGI app on one port (default 127.0.0.1:8088).

It serves the Segment-compatible collector, the ksqlDB REST API, the topic
API, the Kafka Connect REST API and Prometheus metrics. ``create_app`` builds
it; ``headwater up`` runs it with uvicorn.
"""

from headwater.server.app import create_app
from headwater.server.state import ServerState
from headwater.server.config import ServerConfig

__all__ = ["ServerConfig", "ServerState", "create_app"]

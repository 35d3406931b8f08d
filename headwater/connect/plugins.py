"""The connector plug-in registry: Headwater names and Java class names -> connector classes.

Built-ins register the way a user's plug-in would (:func:`register`), by
import string, so a module is imported only when its connector is used and a
plug-in whose module is missing does not break the others. A config's
``connector.class`` may be the Headwater name (``file-sink``), the Java class
name (``org.apache.kafka.connect.file.FileStreamSinkConnector``) or its simple
name (``FileStreamSink``, ``FileStreamSinkConnector``), as Connect accepts.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from headwater.connect.api import ConnectError, Connector


@dataclass(frozen=True)
class Plugin:
    #: The class name GET /connector-plugins shows.
    class_name: str
    #: "module:Class" of the implementation.
    target: str
    aliases: tuple[str, ...]

    def load(self) -> type[Connector]:
        module, _, attr = self.target.partition(":")
        try:
            loaded = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise ConnectError(f"Connector class {self.class_name} is not available: {exc}") from None
        return loaded  # type: ignore[no-any-return]

    def names(self) -> tuple[str, ...]:
        simple = self.class_name.rsplit(".", 1)[-1]
        return (self.class_name, simple, simple.removesuffix("Connector"), *self.aliases)


_PLUGINS: list[Plugin] = []


def register(class_name: str, target: str, *aliases: str) -> None:
    """Make a connector available under its class name, simple name and ``aliases``."""
    _PLUGINS[:] = [p for p in _PLUGINS if p.class_name != class_name]
    _PLUGINS.append(Plugin(class_name, target, aliases))


def find(name: str) -> Plugin:
    for plugin in _PLUGINS:
        if name in plugin.names():
            return plugin
    known = ", ".join(sorted(p.class_name for p in _PLUGINS))
    raise ConnectError(f"Failed to find any class that implements Connector and which name matches {name}, "
                       f"available connectors are: {known}")


def find_or_none(name: str) -> Plugin | None:
    return next((p for p in _PLUGINS if name in p.names()), None)


def available() -> list[tuple[Plugin, type[Connector]]]:
    """Plug-ins whose module imports, with their classes (GET /connector-plugins)."""
    out = []
    for plugin in _PLUGINS:
        try:
            out.append((plugin, plugin.load()))
        except ConnectError:
            continue
    return out


register("org.apache.kafka.connect.file.FileStreamSinkConnector", "headwater.connect.file:FileStreamSinkConnector",
         "file-sink", "file")
register("org.apache.kafka.connect.file.FileStreamSourceConnector",
         "headwater.connect.file:FileStreamSourceConnector", "file-source")
register("io.confluent.kafka.connect.datagen.DatagenConnector", "headwater.connect.datagen:DatagenConnector",
         "datagen")
register("io.confluent.connect.jdbc.JdbcSinkConnector", "headwater.connect.jdbc:JdbcSinkConnector", "jdbc-sink",
         "jdbc")
register("io.confluent.connect.s3.S3SinkConnector", "headwater.connect.s3:S3SinkConnector", "s3-sink", "s3")
register("io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
         "headwater.connect.elasticsearch:ElasticsearchSinkConnector", "elasticsearch-sink", "elasticsearch")
register("io.debezium.connector.postgresql.PostgresConnector", "headwater.connect.cdc.postgres:PostgresConnector",
         "postgres-cdc", "postgresql-cdc")
register("io.debezium.connector.mysql.MySqlConnector", "headwater.connect.cdc.mysql:MySqlConnector", "mysql-cdc",
         "mariadb-cdc", "io.debezium.connector.mariadb.MariaDbConnector")
register("com.mongodb.kafka.connect.MongoSourceConnector", "headwater.connect.cdc.mongodb:MongoSourceConnector",
         "mongodb-source")
register("io.debezium.connector.mongodb.MongoDbConnector", "headwater.connect.cdc.mongodb:MongoDbConnector",
         "mongodb-cdc")

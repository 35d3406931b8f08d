"""The AST of ksqlDB statements: frozen dataclasses, one per statement form.

Expression nodes live in :mod:`headwater.sql.expressions` and are re-exported
here, so ``from headwater.sql import ast`` gives the whole tree. Every node has
``pos`` (see :class:`Position`), excluded from equality.

WITH properties are ordered dicts from the property name to its literal node
(the literal keeps its position, for errors about a bad value). For sources
and queries the names are upper-cased, as ksqlDB matches them; for connectors
they are kept as written (``'connector.class'``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from headwater.sql.expressions import *  # noqa: F403 - the AST includes the expression nodes
from headwater.sql.expressions import Duration, Expression, Literal, Node
from headwater.sql.query import *  # noqa: F403 - and the SELECT nodes
from headwater.sql.query import Query, Statement
from headwater.sql.types import SqlType

Properties = dict[str, Literal]


def property_values(properties: Properties) -> dict[str, object]:
    """The Python values of WITH properties (``{'KAFKA_TOPIC': 'clicks', 'PARTITIONS': 1}``)."""
    return {name: literal.value for name, literal in properties.items()}  # type: ignore[attr-defined]


class SourceKind(enum.Enum):
    STREAM = "STREAM"
    TABLE = "TABLE"


# --- sources -----------------------------------------------------------------


class ColumnConstraint(enum.Enum):
    NONE = ""
    KEY = "KEY"
    PRIMARY_KEY = "PRIMARY KEY"
    HEADERS = "HEADERS"
    HEADER = "HEADER"


@dataclass(frozen=True, slots=True)
class TableElement(Node):
    """A column of CREATE STREAM/TABLE: ``name type [KEY | PRIMARY KEY | HEADERS | HEADER('k')]``."""

    name: str
    type: SqlType
    constraint: ColumnConstraint = ColumnConstraint.NONE
    header_key: str | None = None


@dataclass(frozen=True, slots=True)
class CreateSource(Statement):
    """``CREATE [OR REPLACE] [SOURCE] STREAM|TABLE [IF NOT EXISTS] name [(columns)] [WITH (...)]``."""

    kind: SourceKind
    name: str
    elements: tuple[TableElement, ...] = ()
    properties: Properties = field(default_factory=dict, hash=False)
    or_replace: bool = False
    if_not_exists: bool = False
    is_source: bool = False


@dataclass(frozen=True, slots=True)
class CreateAsSelect(Statement):
    """CSAS / CTAS: ``CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS query``."""

    kind: SourceKind
    name: str
    query: Query
    properties: Properties = field(default_factory=dict, hash=False)
    or_replace: bool = False
    if_not_exists: bool = False


@dataclass(frozen=True, slots=True)
class InsertInto(Statement):
    """``INSERT INTO target [WITH (QUERY_ID='...')] query``."""

    target: str
    query: Query
    properties: Properties = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class InsertValues(Statement):
    """``INSERT INTO target [(columns)] VALUES (values)``; ``columns`` None means schema order."""

    target: str
    columns: tuple[str, ...] | None
    values: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class DropSource(Statement):
    kind: SourceKind
    name: str
    if_exists: bool = False
    delete_topic: bool = False


@dataclass(frozen=True, slots=True)
class AlterSource(Statement):
    """``ALTER STREAM|TABLE name ADD [COLUMN] col type, ...``."""

    kind: SourceKind
    name: str
    columns: tuple[TableElement, ...]


# --- queries lifecycle, listing, describing ----------------------------------


@dataclass(frozen=True, slots=True)
class Terminate(Statement):
    """``TERMINATE query_id`` or ``TERMINATE ALL`` (``query_id`` None)."""

    query_id: str | None


@dataclass(frozen=True, slots=True)
class PauseQuery(Statement):
    query_id: str | None


@dataclass(frozen=True, slots=True)
class ResumeQuery(Statement):
    query_id: str | None


class ShowKind(enum.Enum):
    STREAMS = "STREAMS"
    TABLES = "TABLES"
    TOPICS = "TOPICS"
    QUERIES = "QUERIES"
    FUNCTIONS = "FUNCTIONS"
    PROPERTIES = "PROPERTIES"
    VARIABLES = "VARIABLES"
    CONNECTORS = "CONNECTORS"
    CONNECTOR_PLUGINS = "CONNECTOR PLUGINS"
    TYPES = "TYPES"


class ConnectorType(enum.Enum):
    SOURCE = "SOURCE"
    SINK = "SINK"


@dataclass(frozen=True, slots=True)
class Show(Statement):
    """``SHOW|LIST ...``; ``all_topics`` is SHOW ALL TOPICS, ``connector_type`` SHOW SOURCE|SINK CONNECTORS."""

    kind: ShowKind
    extended: bool = False
    all_topics: bool = False
    connector_type: ConnectorType | None = None


@dataclass(frozen=True, slots=True)
class DescribeSource(Statement):
    name: str
    extended: bool = False


@dataclass(frozen=True, slots=True)
class DescribeSources(Statement):
    """``DESCRIBE STREAMS|TABLES [EXTENDED]``."""

    kind: SourceKind
    extended: bool = False


@dataclass(frozen=True, slots=True)
class DescribeFunction(Statement):
    name: str


@dataclass(frozen=True, slots=True)
class Explain(Statement):
    """``EXPLAIN statement`` or ``EXPLAIN query_id``: exactly one of the two is set."""

    statement: Statement | None = None
    query_id: str | None = None


@dataclass(frozen=True, slots=True)
class Print(Statement):
    """``PRINT topic [FROM BEGINNING] [INTERVAL|SAMPLE n] [LIMIT n]``; the topic keeps its case."""

    topic: str
    from_beginning: bool = False
    interval: int | None = None
    limit: int | None = None


# --- session -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunScript(Statement):
    path: str


@dataclass(frozen=True, slots=True)
class SetProperty(Statement):
    name: str
    value: str


@dataclass(frozen=True, slots=True)
class UnsetProperty(Statement):
    name: str


@dataclass(frozen=True, slots=True)
class AlterSystem(Statement):
    """``ALTER SYSTEM 'name'='value'``."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class DefineVariable(Statement):
    """``DEFINE name = 'value'``; variable names match case-insensitively."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class UndefineVariable(Statement):
    name: str


# --- connectors, types, assertions -------------------------------------------


@dataclass(frozen=True, slots=True)
class CreateConnector(Statement):
    """``CREATE SOURCE|SINK CONNECTOR [IF NOT EXISTS] name WITH ('k'='v', ...)``."""

    connector_type: ConnectorType
    name: str
    properties: Properties = field(default_factory=dict, hash=False)
    if_not_exists: bool = False


@dataclass(frozen=True, slots=True)
class DropConnector(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True, slots=True)
class DescribeConnector(Statement):
    name: str


@dataclass(frozen=True, slots=True)
class CreateType(Statement):
    name: str
    type: SqlType
    if_not_exists: bool = False


@dataclass(frozen=True, slots=True)
class DropType(Statement):
    name: str
    if_exists: bool = False


@dataclass(frozen=True, slots=True)
class AssertTopic(Statement):
    """``ASSERT [NOT EXISTS] TOPIC name [WITH (...)] [TIMEOUT n unit]``."""

    topic: str
    exists: bool = True
    properties: Properties = field(default_factory=dict, hash=False)
    timeout: Duration | None = None


@dataclass(frozen=True, slots=True)
class AssertSchema(Statement):
    """``ASSERT [NOT EXISTS] SCHEMA [SUBJECT s] [ID n] [TIMEOUT n unit]``."""

    subject: str | None = None
    schema_id: int | None = None
    exists: bool = True
    timeout: Duration | None = None

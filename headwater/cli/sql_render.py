"""How ``headwater sql`` shows results: ksqlDB entities as the ksql CLI lays them out, with rich.

Statement results are tables with a dashed rule under the header (``Stream
Name | Kafka Topic | ...``); query rows are the ksql CLI's ``+----+`` grid,
printed one line per row as they arrive, so a push query streams. Values are
printed as plain text (never console markup).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console
from rich.segment import Segment, Segments
from rich.table import Table
from rich.text import Text

Entity = dict[str, Any]

#: The ksql CLI's table style: `` A | B `` with a dashed line under the header and at the end.
KSQL_BOX = box.Box(
    "    \n"
    "  | \n"
    "----\n"
    "  | \n"
    "----\n"
    "----\n"
    "  | \n"
    "----\n",
    ascii=True,
)


def _table(*headers: str, wrap_last: bool = True) -> Table:
    """Names and ids never wrap (they are copied into the next statement); the last column may."""
    table = Table(box=KSQL_BOX, show_edge=True, header_style="bold", pad_edge=False, highlight=False)
    for n, header in enumerate(headers):
        table.add_column(header, no_wrap=not (wrap_last and n == len(headers) - 1))
    return table


def _show(console: Console, table: Table) -> None:
    """Print a table without the box's (blank) top line: the header comes first, as in the ksql CLI."""
    lines = console.render_lines(table, console.options, pad=False)
    console.print(Segments([segment for line in lines[1:] for segment in (*line, Segment.line())]), end="")


def _text(value: Any) -> Text:
    if value is None:
        return Text("null")
    if isinstance(value, bool):
        return Text("true" if value else "false")
    if isinstance(value, (dict, list)):
        return Text(json.dumps(value))
    return Text(str(value))


def render_entity(console: Console, entity: Entity) -> None:
    kind = entity.get("@type")
    renderer = _RENDERERS.get(str(kind))
    if renderer is None:
        console.print(Text(json.dumps(entity, indent=2)))
    else:
        renderer(console, entity)
    for warning in entity.get("warnings") or []:
        console.print(Text(f"WARNING: {warning.get('message', warning)}", style="yellow"))


def _current_status(console: Console, e: Entity) -> None:
    table = _table("Message")
    table.add_row(_text(e["commandStatus"]["message"]))
    _show(console, table)


def _sources(console: Console, e: Entity) -> None:
    tables = e["@type"] == "tables"
    table = _table("Table Name" if tables else "Stream Name", "Kafka Topic", "Key Format", "Value Format", "Windowed")
    for s in sorted(e["tables" if tables else "streams"], key=lambda s: s["name"]):
        table.add_row(s["name"], s["topic"], s["keyFormat"], s["valueFormat"], _text(s["isWindowed"]))
    _show(console, table)


def _topics(console: Console, e: Entity) -> None:
    table = _table("Kafka Topic", "Partitions", "Partition Replicas")
    for t in e["topics"]:
        table.add_row(t["name"], str(len(t["replicaInfo"])), ",".join(str(r) for r in t["replicaInfo"]))
    _show(console, table)


def _queries(console: Console, e: Entity) -> None:
    table = _table("Query ID", "Query Type", "Status", "Sink Name", "Sink Kafka Topic", "Query String")
    for q in e["queries"]:
        table.add_row(q["id"], q.get("queryType", ""), q.get("state", ""), ",".join(q.get("sinks", [])),
                      ",".join(q.get("sinkKafkaTopics", [])), _text(q.get("queryString", "")))
    _show(console, table)
    console.print("For detailed information on a Query run: EXPLAIN <Query ID>;")


def _properties(console: Console, e: Entity) -> None:
    overwritten = set(e.get("overwrittenProperties", []))
    table = _table("Property", "Scope", "Value")
    for p in e["properties"]:
        name = p["name"] + (" (overridden)" if p["name"] in overwritten else "")
        table.add_row(name, p.get("scope", ""), _text(p.get("value")))
    _show(console, table)


def _variables(console: Console, e: Entity) -> None:
    table = _table("Variable Name", "Value")
    for v in e["variables"]:
        table.add_row(v["name"], _text(v["value"]))
    _show(console, table)


def _functions(console: Console, e: Entity) -> None:
    table = _table("Function Name", "Category")
    for f in e["functions"]:
        table.add_row(f.get("name", ""), f.get("category", ""))
    _show(console, table)


def _field_type(field: Entity) -> str:
    schema = field["schema"]
    kind = schema["type"]
    text = "VARCHAR(STRING)" if kind == "STRING" else kind
    if field.get("type") == "KEY":
        text += "  (key)"
    elif field.get("type") == "HEADER":
        text += f"  (header('{field['headerKey']}'))" if field.get("headerKey") else "  (headers)"
    return text


def _describe(console: Console, description: Entity) -> None:
    console.print(Text(f"{'Name':<17}: {description['name']}"))
    if description.get("extended"):
        for label, key in (("Type", "type"), ("Timestamp field", "timestamp"), ("Key format", "keyFormat"),
                           ("Value format", "valueFormat"), ("Kafka topic", "topic")):
            value = description.get(key) or ("Not set - using <ROWTIME>" if key == "timestamp" else "")
            console.print(Text(f"{label:<17}: {value}"))
        console.print(Text(f"{'Statement':<17}: {description.get('statement', '')}"))
    table = _table("Field", "Type")
    for field in description["fields"]:
        table.add_row(field["name"], _field_type(field))
    _show(console, table)
    if description.get("extended"):
        for label, key in (("Queries that read from this", "readQueries"), ("Queries that write from this", "writeQueries")):
            queries = description.get(key) or []
            if queries:
                console.print(Text(f"\n{label} {description['type'].lower()}"))
                for q in queries:
                    console.print(Text(f"{q['id']} ({q.get('state', '')}) : {q.get('queryString', '')}"))
        if description.get("statistics"):
            console.print(Text(f"\nLocal runtime statistics\n{description['statistics']}"))
    else:
        kind = "Stream" if description.get("type") == "STREAM" else "Table"
        console.print(f"For runtime statistics and query details run: DESCRIBE <{kind}> EXTENDED;")


def _source_description(console: Console, e: Entity) -> None:
    _describe(console, e["sourceDescription"])


def _source_descriptions(console: Console, e: Entity) -> None:
    for description in e["sourceDescriptions"]:
        _describe(console, description)
        console.print()


def _query_description(console: Console, e: Entity) -> None:
    q = e["queryDescription"]
    for label, value in (("ID", q.get("id")), ("Query Type", q.get("queryType")), ("SQL", q.get("statementText")),
                         ("Host Query Status", q.get("state"))):
        console.print(Text(f"{label:<17}: {value or ''}"))
    table = _table("Field", "Type")
    for field in q.get("fields", []):
        table.add_row(field["name"], _field_type(field))
    _show(console, table)
    console.print(Text(f"\nSources that this query reads from: \n-----------------------------------\n"
                       + "\n".join(q.get("sources", []))))
    console.print(Text(f"\nExecution plan      \n--------------      \n{q.get('executionPlan', '')}"))


def _connector_info(console: Console, e: Entity) -> None:
    info = e["info"]
    console.print(Text(f" Created connector {info['name']}"))


def _drop_connector(console: Console, e: Entity) -> None:
    console.print(Text(f" Dropped connector \"{e['connectorName']}\""))


def _warning_entity(console: Console, e: Entity) -> None:
    console.print(Text(f" {e['message']}"))


def _connector_list(console: Console, e: Entity) -> None:
    table = _table("Connector Name", "Type", "Class", "Status")
    for c in e["connectors"]:
        table.add_row(c["name"], str(c.get("type", "")).upper(), c.get("className", ""), _text(c.get("state", "")))
    _show(console, table)


def _connector_description(console: Console, e: Entity) -> None:
    status = e["status"]
    lines = [("Name", status["name"]), ("Class", e.get("connectorClass", "")),
             ("Type", str(status.get("type", "")).upper()), ("State", status["connector"]["state"]),
             ("WorkerId", status["connector"].get("worker_id", ""))]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        console.print(Text(f"{key.ljust(width)} : {value}"), soft_wrap=True)
    tasks = _table("Task ID", "State", "Error Trace")
    for task in status.get("tasks", []):
        tasks.add_row(str(task["id"]), task["state"], _text(task.get("trace", "")))
    console.print()
    _show(console, tasks)
    sources = _table("Related Topics")
    for topic in e.get("topics", []):
        sources.add_row(topic)
    console.print()
    _show(console, sources)


def _connector_plugins(console: Console, e: Entity) -> None:
    table = _table("Connector Plugin Class", "Type", "Version")
    for p in e["connectorPlugins"]:
        table.add_row(p["className"], str(p.get("type", "")).upper(), _text(p.get("version", "")))
    _show(console, table)


_RENDERERS = {
    "connector_info": _connector_info,
    "drop_connector": _drop_connector,
    "warning_entity": _warning_entity,
    "connector_list": _connector_list,
    "connector_description": _connector_description,
    "connector_plugins_list": _connector_plugins,
    "currentStatus": _current_status,
    "streams": _sources,
    "tables": _sources,
    "kafka_topics": _topics,
    "queries": _queries,
    "properties": _properties,
    "variables": _variables,
    "function_names": _functions,
    "sourceDescription": _source_description,
    "source_descriptions": _source_descriptions,
    "queryDescription": _query_description,
}


class RowPrinter:
    """The ksql CLI's result grid, one line per row as rows arrive (push queries never end by themselves)."""

    def __init__(self, console: Console, columns: Sequence[str]) -> None:
        self.console = console
        width = max(console.width, 40)
        self.widths = [max(len(c), min(30, max(10, width // max(len(columns), 1) - 1))) for c in columns]
        self.rule = "+" + "+".join("-" * w for w in self.widths) + "+"
        self.console.print(Text(self.rule))
        self.console.print(Text(self._line(list(columns))))
        self.console.print(Text(self.rule))

    def _line(self, values: Sequence[str]) -> str:
        return "|" + "|".join(v.ljust(w) for v, w in zip(values, self.widths, strict=False)) + "|"

    def row(self, values: Sequence[Any]) -> None:
        self.console.print(Text(self._line([_text(v).plain for v in values])), soft_wrap=True)

    def end(self, message: str | None) -> None:
        self.console.print(Text(self.rule))
        if message:
            self.console.print(Text(message))

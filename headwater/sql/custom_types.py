"""CREATE TYPE / DROP TYPE / SHOW TYPES: named types, resolved in statements before they are planned.

ksqlDB keeps custom types in its metastore; a statement that names one
(``CREATE STREAM s (addr ADDRESS) ...``, ``CAST(x AS ADDRESS)``) is checked
with the registered type in its place. :class:`TypeRegistry` holds them and
:meth:`TypeRegistry.resolve` rewrites a statement's types; an unknown name is
left as it is, so the statement fails later with ksqlDB's "Unknown type".
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from typing import Any

from headwater.errors import SqlSemanticError
from headwater.sql import ast
from headwater.sql.types import ArrayType, CustomType, DecimalType, MapType, SqlType, StructField, StructType


class TypeRegistry:
    """Custom type name (as the parser normalized it) to its SQL type."""

    def __init__(self) -> None:
        self.types: dict[str, SqlType] = {}

    def register(self, statement: ast.CreateType) -> str:
        """Register a type; the status message ksqlDB answers."""
        resolved = self.resolve_type(statement.type)
        existing = self.types.get(statement.name)
        if existing is not None and not statement.if_not_exists:
            raise SqlSemanticError(f"Cannot register custom type '{statement.name}' since it is already registered "
                                   f"with type: {existing.sql()}", statement.pos)
        if existing is None:
            self.types[statement.name] = resolved
        return f"Registered custom type with name '{statement.name}' and SQL type {resolved.sql()}"

    def check_new(self, statement: ast.CreateType) -> None:
        unknown = _unknown(self.resolve_type(statement.type))
        if unknown is not None:
            raise SqlSemanticError(f"Unknown type: {unknown}", statement.pos)
        existing = self.types.get(statement.name)
        if existing is not None and not statement.if_not_exists:
            raise SqlSemanticError(f"Cannot register custom type '{statement.name}' since it is already registered "
                                   f"with type: {existing.sql()}", statement.pos)

    def check_drop(self, statement: ast.DropType) -> None:
        if statement.name not in self.types and not statement.if_exists:
            raise SqlSemanticError(f"Type {statement.name} does not exist.", statement.pos)

    def drop(self, statement: ast.DropType) -> str:
        if self.types.pop(statement.name, None) is None:
            return f"Type '{statement.name}' does not exist"
        return f"Dropped type '{statement.name}'"

    def resolve_type(self, sql_type: SqlType) -> SqlType:
        if isinstance(sql_type, CustomType):
            return self.types.get(sql_type.name.upper(), self.types.get(sql_type.name, sql_type))
        if isinstance(sql_type, ArrayType):
            return ArrayType(self.resolve_type(sql_type.element))
        if isinstance(sql_type, MapType):
            return MapType(self.resolve_type(sql_type.key), self.resolve_type(sql_type.value))
        if isinstance(sql_type, StructType):
            return StructType(tuple(StructField(f.name, self.resolve_type(f.type)) for f in sql_type.fields))
        return sql_type

    def resolve(self, node: Any) -> Any:
        """``node`` with every custom type it names replaced by its registered type."""
        if not self.types:
            return node
        if isinstance(node, SqlType) and not isinstance(node, DecimalType):
            return self.resolve_type(node)
        if isinstance(node, tuple):
            items = tuple(self.resolve(v) for v in node)
            return items if any(a is not b for a, b in zip(items, node, strict=True)) else node
        if isinstance(node, ast.Node) and is_dataclass(node):
            changes = {}
            for f in fields(node):
                if f.name == "pos":
                    continue
                value = getattr(node, f.name)
                new = self.resolve(value)
                if new is not value:
                    changes[f.name] = new
            return replace(node, **changes) if changes else node
        return node

    def entity(self, text: str) -> dict[str, Any]:
        """SHOW TYPES: ksqlDB's ``type_list`` entity."""
        return {"@type": "type_list", "statementText": text, "warnings": [],
                "types": {name: schema_info(t) for name, t in sorted(self.types.items())}}


def schema_info(sql_type: SqlType) -> dict[str, Any]:
    """A type as ksqlDB's REST ``SchemaInfo`` (``type``, ``fields``, ``memberSchema``)."""
    info: dict[str, Any] = {"type": sql_type.base.name, "fields": None, "memberSchema": None}
    if isinstance(sql_type, StructType):
        info["fields"] = [{"name": f.name, "schema": schema_info(f.type)} for f in sql_type.fields]
    elif isinstance(sql_type, ArrayType):
        info["memberSchema"] = schema_info(sql_type.element)
    elif isinstance(sql_type, MapType):
        info["memberSchema"] = schema_info(sql_type.value)
    elif isinstance(sql_type, DecimalType):
        info["parameters"] = {"precision": sql_type.precision, "scale": sql_type.scale}
    return info


def _unknown(sql_type: SqlType) -> str | None:
    if isinstance(sql_type, CustomType):
        return sql_type.sql()
    if isinstance(sql_type, ArrayType):
        return _unknown(sql_type.element)
    if isinstance(sql_type, MapType):
        return _unknown(sql_type.key) or _unknown(sql_type.value)
    if isinstance(sql_type, StructType):
        return next((u for f in sql_type.fields if (u := _unknown(f.type)) is not None), None)
    return None

"""The dashboard file, validated: frozen pydantic models that refuse unknown fields.

A panel's query is checked when the file is loaded: it must be one SELECT
statement that parses. A push query (``EMIT CHANGES``) makes a live panel,
read over server-sent events; any other SELECT is a pull query that the page
re-runs every ``refresh_s``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from headwater.errors import HeadwaterError
from headwater.sql import ast
from headwater.sql.parser import parse_statement
from headwater.sql.script import split_statements

NAME_PATTERN = r"^[a-z0-9_-]+$"
RANGE_UNITS_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
PanelType = Literal["timeseries", "bar", "table", "stat", "topn", "category"]
Name = Annotated[str, Field(pattern=NAME_PATTERN, min_length=1, max_length=64)]
Column = Annotated[str, Field(min_length=1, max_length=200)]


class DashboardSpecError(HeadwaterError):
    """A dashboard file or body that is not a valid dashboard; the message names the field."""


def range_ms(text: str) -> int:
    """``5m``, ``1h``, ``24h``, ``7d`` in milliseconds."""
    match = re.fullmatch(r"(\d{1,6})([smhd])", text.strip())
    if match is None:
        raise ValueError(f"a time range is a number and a unit (s, m, h, d), like 5m or 24h; got {text!r}")
    return int(match.group(1)) * RANGE_UNITS_MS[match.group(2)]


def parse_select(text: str) -> ast.Query:
    """The one SELECT statement of ``text``; a ValueError saying what is wrong otherwise."""
    try:
        pieces = [p for p in split_statements(text) if p.text.strip().rstrip(";").strip()]
        if len(pieces) != 1:
            raise ValueError(f"a panel runs exactly one SELECT statement, got {len(pieces)} statements")
        statement = parse_statement(pieces[0].text, pieces[0].line, pieces[0].column)
    except HeadwaterError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(statement, ast.Query):
        raise ValueError(f"a panel runs a SELECT statement, not {type(statement).__name__}")
    return statement


class Panel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    title: str = Field(min_length=1, max_length=200)
    type: PanelType
    query: str = Field(min_length=1, max_length=20_000)
    x: Column | None = None
    y: list[Column] = Field(default_factory=list, max_length=20)
    series: Column | None = None
    label: Column | None = None
    value: Column | None = None
    limit: int = Field(default=10, ge=1, le=10_000)
    width: int = Field(default=6, ge=1, le=12)

    @field_validator("y", mode="before")
    @classmethod
    def _one_y(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("query")
    @classmethod
    def _select(cls, value: str) -> str:
        parse_select(value)
        return value

    @model_validator(mode="after")
    def _columns_for_type(self) -> Panel:
        if self.type in ("timeseries", "bar") and (not self.x or not self.y):
            raise ValueError(f"a {self.type} panel needs x (the x column, WINDOWSTART for windowed tables) "
                             "and y (the value columns)")
        if self.type in ("topn", "category") and (not self.label or not self.value):
            raise ValueError(f"a {self.type} panel needs label (the category column) and value (the value column)")
        if self.type == "stat" and not self.value:
            raise ValueError("a stat panel needs value (the column whose sum it shows)")
        return self

    @property
    def is_push(self) -> bool:
        """A live panel: its query is a push query (EMIT CHANGES)."""
        return bool(parse_select(self.query).is_push)


class Dashboard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    refresh_s: float = Field(default=5, ge=1, le=86_400)
    time_range: str = "1h"
    panels: list[Panel] = Field(default_factory=list, max_length=100)

    @field_validator("time_range")
    @classmethod
    def _range(cls, value: str) -> str:
        range_ms(value)
        return value

    @field_validator("panels")
    @classmethod
    def _unique_panels(cls, panels: list[Panel]) -> list[Panel]:
        seen: set[str] = set()
        for panel in panels:
            if panel.id in seen:
                raise ValueError(f"panel id {panel.id!r} appears twice: panel ids are unique in a dashboard")
            seen.add(panel.id)
        return panels

    def panel(self, panel_id: str) -> Panel | None:
        return next((p for p in self.panels if p.id == panel_id), None)

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def describe_errors(error: ValidationError) -> str:
    """Pydantic's errors as one line per field: ``panels.0.type: Input should be ...``."""
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(the dashboard)"
        message = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def from_data(data: Any, where: str) -> Dashboard:
    """A Dashboard from parsed YAML/JSON; DashboardSpecError naming ``where`` and the field otherwise."""
    if not isinstance(data, dict):
        raise DashboardSpecError(f"{where}: a dashboard is a mapping of fields (id, title, panels, ...), "
                                 f"got {type(data).__name__}")
    try:
        return Dashboard.model_validate(data)
    except ValidationError as exc:
        raise DashboardSpecError(f"{where}: {describe_errors(exc)}") from None


def from_yaml(text: str, where: str) -> Dashboard:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DashboardSpecError(f"{where}: not valid YAML: {exc}") from None
    return from_data(data, where)


def to_yaml(dashboard: Dashboard) -> str:
    return str(yaml.safe_dump(dashboard.as_dict(), sort_keys=False, allow_unicode=True, width=110))

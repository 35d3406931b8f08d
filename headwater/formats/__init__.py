"""Serialization formats for record keys and values: a registry of plug-ins.

``create_format("json", columns, {"WRAP_SINGLE_VALUE": False})`` builds a
:class:`Format`; the built-ins (JSON, DELIMITED, KAFKA, NONE, AVRO, JSON_SR, PROTOBUF, PROTOBUF_NOSR) register
themselves through :func:`register_format`, as a plug-in format would.
"""

from __future__ import annotations

from headwater.formats import avro, delimited, json, json_sr, kafka, none, protobuf
from headwater.formats.base import (
    Column,
    Decoded,
    Format,
    FormatError,
    Role,
    create_format,
    format_class,
    format_names,
    register_format,
)

__all__ = [
    "Column",
    "Decoded",
    "Format",
    "FormatError",
    "Role",
    "avro",
    "create_format",
    "delimited",
    "format_class",
    "format_names",
    "json",
    "json_sr",
    "kafka",
    "none",
    "protobuf",
    "register_format",
]

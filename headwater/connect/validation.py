"""ConfigInfos: what PUT /connector-plugins/{plugin}/config/validate and GET .../config answer.

The definitions are the runtime's common keys (Connect's ConnectorConfig and
SinkConnectorConfig) followed by the connector's own ``config_def``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from headwater.connect.api import ConfigKey, Connector
from headwater.connect.secrets import masked_config

COMMON: tuple[ConfigKey, ...] = (
    ConfigKey("name", required=True, importance="HIGH", group="Common",
              documentation="Globally unique name to use for this connector."),
    ConfigKey("connector.class", required=True, importance="HIGH", group="Common",
              documentation="Name or alias of the class for this connector."),
    ConfigKey("tasks.max", type="INT", default=1, importance="HIGH", group="Common",
              documentation="Maximum number of tasks to use for this connector."),
    ConfigKey("key.converter", type="CLASS", importance="LOW", group="Common",
              documentation="Converter class used to convert between Kafka Connect format and the serialized "
                            "form that is written to Kafka (keys)."),
    ConfigKey("value.converter", type="CLASS", importance="LOW", group="Common",
              documentation="Converter class for values."),
    ConfigKey("transforms", type="LIST", default="", importance="LOW", group="Transforms",
              documentation="Aliases for the transformations to be applied to records."),
    ConfigKey("predicates", type="LIST", default="", importance="LOW", group="Predicates",
              documentation="Aliases for the predicates used by transformations."),
    ConfigKey("errors.retry.timeout", type="LONG", default=0, importance="MEDIUM", group="Error Handling",
              documentation="The maximum duration in milliseconds that a failed operation will be reattempted. "
                            "-1 for infinite retries."),
    ConfigKey("errors.retry.delay.max.ms", type="LONG", default=60000, importance="MEDIUM", group="Error Handling",
              documentation="The maximum duration in milliseconds between consecutive retry attempts."),
    ConfigKey("errors.tolerance", default="none", importance="MEDIUM", group="Error Handling",
              recommended_values=("none", "all"),
              documentation="Behavior for tolerating errors during connector operation: 'none' fails the task, "
                            "'all' skips problematic records."),
    ConfigKey("errors.log.enable", type="BOOLEAN", default=False, importance="MEDIUM", group="Error Handling",
              documentation="Log the error context of each failure."),
)

SINK: tuple[ConfigKey, ...] = (
    ConfigKey("topics", type="LIST", default="", importance="HIGH", group="Common",
              documentation="List of topics to consume, separated by commas"),
    ConfigKey("topics.regex", default="", importance="HIGH", group="Common",
              documentation="Regular expression giving topics to consume."),
    ConfigKey("errors.deadletterqueue.topic.name", default="", importance="MEDIUM", group="Error Handling",
              documentation="The name of the topic to be used as the dead letter queue (DLQ) for messages that "
                            "result in an error when processed by this sink connector."),
    ConfigKey("errors.deadletterqueue.context.headers.enable", type="BOOLEAN", default=False, importance="MEDIUM",
              group="Error Handling",
              documentation="If true, add headers containing error context to the messages written to the DLQ."),
)


def definitions(cls: type[Connector]) -> list[ConfigKey]:
    common = [*COMMON, *(SINK if cls.type == "sink" else ())]
    names = {k.name for k in common}
    return [*common, *(k for k in cls.config_def() if k.name not in names)]


def _definition(key: ConfigKey, order: int) -> dict[str, Any]:
    return {
        "name": key.name, "type": key.type, "required": key.required,
        "default_value": None if key.default is None else str(key.default).lower()
        if isinstance(key.default, bool) else str(key.default),
        "importance": key.importance, "documentation": key.documentation, "group": key.group,
        "width": "NONE", "display_name": key.name, "dependents": [], "order": order,
    }


def config_infos(class_name: str, cls: type[Connector], config: Mapping[str, str],
                 errors: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    keys = definitions(cls)
    # Connect answers PASSWORD values as "[hidden]"; URLs lose their password part too.
    config = masked_config(config, [k.name for k in keys if k.type == "PASSWORD"])
    configs = [
        {"definition": _definition(k, i),
         "value": {"name": k.name, "value": config.get(k.name, None if k.default is None else str(k.default)),
                   "recommended_values": list(k.recommended_values), "errors": list(errors.get(k.name, ())),
                   "visible": True}}
        for i, k in enumerate(keys, 1)
    ]
    known = {k.name for k in keys}
    for name, messages in errors.items():  # errors of keys without a definition (transforms.x.type ...)
        if name not in known:
            configs.append({"definition": _definition(ConfigKey(name), len(configs) + 1),
                            "value": {"name": name, "value": config.get(name), "recommended_values": [],
                                      "errors": list(messages), "visible": True}})
    groups = list(dict.fromkeys(k.group or "Common" for k in keys))
    return {"name": class_name, "error_count": sum(len(m) for m in errors.values()), "groups": groups,
            "configs": configs}


def config_keys(cls: type[Connector]) -> list[dict[str, Any]]:
    """GET /connector-plugins/{plugin}/config: the definitions only."""
    return [_definition(k, i) for i, k in enumerate(definitions(cls), 1)]

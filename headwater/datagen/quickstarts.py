"""kafka-connect-datagen's quickstarts and the seed systems' generators, by name.

The Avro schemas are those of kafka-connect-datagen (``src/main/resources/*.avro``)
with their ``arg.properties``, and the key fields of its ``Quickstart.java``.
Annotations only ksqlDB's own ``ksql-datagen`` reads (``format_as_time``,
``session``) are left out, as kafka-connect-datagen ignores them: clickstream's
``time``/``_time`` and pageviews' ``viewtime`` are counters, not timestamps.

Besides those, two generators reproduce the seed systems' events
(``headwater.datagen.seeds``): ``audit_log`` (seed 000) and ``website_visits``
(seed 002).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.datagen.base import AvroGenerator, Generator
from headwater.datagen.seeds import AuditLogGenerator, WebsiteVisitGenerator
from headwater.errors import ConfigError


def _field(name: str, kind: str | dict[str, Any], **props: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": kind} if isinstance(kind, str) else dict(kind)
    if props:
        schema["arg.properties"] = props
    return {"name": name, "type": schema}


def _record(namespace: str, name: str, *fields: dict[str, Any], **props: Any) -> dict[str, Any]:
    record: dict[str, Any] = {"namespace": namespace, "name": name, "type": "record", "fields": list(fields)}
    if props:
        record["arg.properties"] = props
    return record


CLICKSTREAM_IPS = [
    "111.152.45.45", "111.203.236.146", "111.168.57.122", "111.249.79.93", "111.168.57.122",
    "111.90.225.227", "111.173.165.103", "111.145.8.144", "111.245.174.248", "111.245.174.111",
    "222.152.45.45", "222.203.236.146", "222.168.57.122", "222.249.79.93", "222.168.57.122",
    "222.90.225.227", "222.173.165.103", "222.145.8.144", "222.245.174.248", "222.245.174.222",
    "122.152.45.245", "122.203.236.246", "122.168.57.222", "122.249.79.233", "122.168.57.222",
    "122.90.225.227", "122.173.165.203", "122.145.8.244", "122.245.174.122", "122.245.174.122",
    "233.152.245.45", "233.203.236.146", "233.168.257.122", "233.249.279.93", "233.168.257.122",
    "233.90.225.227", "233.173.215.103", "233.145.28.144", "233.245.174.248", "233.245.174.233",
]
CLICKSTREAM_REQUESTS = [
    "GET /index.html HTTP/1.1",
    "GET /site/user_status.html HTTP/1.1",
    "GET /site/login.html HTTP/1.1",
    "GET /site/user_status.html HTTP/1.1",
    "GET /images/track.png HTTP/1.1",
    "GET /images/logo-small.png HTTP/1.1",
]
CLICKSTREAM_STATUSES = ["200", "302", "404", "405", "406", "407"]
CLICKSTREAM_BYTES = ["278", "1289", "2048", "4096", "4006", "4196", "14096"]
CLICKSTREAM_AGENTS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/59.0.3071.115 Safari/537.36",
]
CLICKSTREAM_CODES = [
    (200, "Successful"), (302, "Redirect"), (404, "Page not found"), (405, "Method not allowed"),
    (406, "Not acceptable"), (407, "Proxy authentication required"),
]

CLICKSTREAM = _record(
    "clickstream", "events",
    _field("ip", "string", options=CLICKSTREAM_IPS),
    _field("userid", "int", range={"min": -1, "max": 40}),
    _field("remote_user", "string", options=["-"]),
    _field("time", "string", iteration={"start": 1, "step": 10}),
    _field("_time", "long", iteration={"start": 1, "step": 10}),
    _field("request", "string", options=CLICKSTREAM_REQUESTS),
    _field("status", "string", options=CLICKSTREAM_STATUSES),
    _field("bytes", "string", options=CLICKSTREAM_BYTES),
    _field("referrer", "string", options=["-"]),
    _field("agent", "string", options=CLICKSTREAM_AGENTS),
)

CLICKSTREAM_CODES_SCHEMA = _record(
    "clickstream", "codes",
    _field("code", "int"),
    _field("definition", "string"),
    options=[{"code": code, "definition": definition} for code, definition in CLICKSTREAM_CODES],
)

CLICKSTREAM_USERS = _record(
    "clickstream", "users",
    _field("user_id", "int", iteration={"start": 1}),
    _field("username", "string", options=[
        "akatz1022", "bobk_43", "alison_99", "k_robertz_88", "Ferd88", "Reeva43", "Antonio_0966",
        "ArlyneW8ter", "DimitriSchenz88", "Oriana_70", "AbdelKable_86", "Roberto_123", "AlanGreta_GG66",
        "Nathan_126", "AndySims_345324", "GlenAlan_23344", "LukeWaters_23", "BenSteins_235"]),
    _field("registered_at", "long", range={"min": 1407645330000, "max": 1502339792000}),
    _field("first_name", "string", options=[
        "Elwyn", "Curran", "Hanson", "Woodrow", "Ferd", "Reeva", "Antonio", "Arlyne", "Dimitri", "Oriana",
        "Abdel", "Greta"]),
    _field("last_name", "string", options=[
        "Vanyard", "Vears", "Garrity", "Trice", "Tomini", "Jushcke", "De Banke", "Pask", "Rockhill",
        "Romagosa", "Adicot", "Lalonde"]),
    _field("city", "string", options=["Palo Alto", "San Francisco", "Raleigh", "London", "Frankfurt", "New York"]),
    _field("level", "string", options=["Gold", "Silver", "Platinum"]),
)

PAGEVIEWS = _record(
    "ksql", "pageviews",
    _field("viewtime", "long", iteration={"start": 1, "step": 10}),
    _field("userid", "string", regex="User_[1-9]"),
    _field("pageid", "string", regex="Page_[1-9][0-9]"),
)

USERS = _record(
    "ksql", "users",
    _field("registertime", "long", range={"min": 1487715775521, "max": 1519273364600}),
    _field("userid", "string", regex="User_[1-9]"),
    _field("regionid", "string", regex="Region_[1-9]"),
    _field("gender", "string", options=["MALE", "FEMALE", "OTHER"]),
)

ORDERS = _record(
    "ksql", "orders",
    _field("ordertime", "long", range={"min": 1487715775521, "max": 1519273364600}),
    _field("orderid", "int", iteration={"start": 0}),
    _field("itemid", "string", regex="Item_[1-9][0-9]{0,2}"),
    _field("orderunits", "double", range={"min": 0.1, "max": 10.0}),
    _field("address", {"type": "record", "name": "address", "fields": [
        _field("city", "string", regex="City_[1-9]{0,2}"),
        _field("state", "string", regex="State_[1-9]{0,2}"),
        _field("zipcode", "long", range={"min": 10000, "max": 99999}),
    ]}),
)

RATINGS = _record(
    "ratings", "ratings",
    _field("rating_id", "long", iteration={"start": 1}),
    _field("user_id", "int", range={"min": -1, "max": 20}),
    _field("stars", "int", range={"min": 1, "max": 5}),
    _field("route_id", "int", range={"min": 1, "max": 9999}),
    _field("rating_time", "long", iteration={"start": 1, "step": 12}),
    _field("channel", "string", options=["web", "iOS", "ios", "iOS-test", "android"]),
    _field("message", "string", options=[
        "Surprisingly good, maybe you are getting your mojo back at long last!",
        "meh",
        "more peanuts please",
        "is this as good as it gets? really ?",
        "why is it so difficult to keep the bathrooms clean ?",
        "your team here rocks!",
        "(expletive deleted)",
        "thank you for the most friendly, helpful experience today at your new lounge",
        "Exceptional service - pretty much the best ever customer service experience",
        "airport refurb looks great, will fly outta here more!",
        "worst. flight. ever. #neveragain",
    ]),
)

#: name -> (factory, one-line description). Keys are those of kafka-connect-datagen's Quickstart.java.
QUICKSTARTS: dict[str, tuple[Callable[[], Generator], str]] = {
    "clickstream": (lambda: AvroGenerator(CLICKSTREAM, "ip"), "web server log lines, keyed by ip"),
    "clickstream_codes": (lambda: AvroGenerator(CLICKSTREAM_CODES_SCHEMA, "code"),
                          "HTTP status codes and their definitions, keyed by code"),
    "clickstream_users": (lambda: AvroGenerator(CLICKSTREAM_USERS, "user_id"),
                          "web users (user_id 1, 2, 3, ...), keyed by user_id"),
    "pageviews": (lambda: AvroGenerator(PAGEVIEWS, "viewtime"), "page views, keyed by viewtime"),
    "users": (lambda: AvroGenerator(USERS, "userid"), "users with region and gender, keyed by userid"),
    "orders": (lambda: AvroGenerator(ORDERS, "orderid"), "orders with a nested address, keyed by orderid"),
    "ratings": (lambda: AvroGenerator(RATINGS, "rating_id"), "airline ratings, keyed by rating_id"),
    "audit_log": (AuditLogGenerator, "seed 000's audit-log events (type, details, created_at), keyed by _id"),
    "website_visits": (WebsiteVisitGenerator,
                       "seed 002's website visits (visitDate, country, lastAction, duration), keyed by country"),
}


def quickstart(name: str) -> Generator:
    """The generator of quickstart ``name`` (case-insensitive, as datagen validates it)."""
    entry = QUICKSTARTS.get(name.strip().lower())
    if entry is None:
        raise ConfigError(f"datagen: unknown quickstart {name!r}; expected one of {', '.join(QUICKSTARTS)}")
    return entry[0]()

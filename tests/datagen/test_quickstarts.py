"""Each quickstart's field names, types, value sets, ranges and key, as kafka-connect-datagen defines them."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest

from headwater.datagen.base import AvroGenerator, Generator, record_rng
from headwater.datagen.quickstarts import QUICKSTARTS, quickstart
from headwater.errors import ConfigError

NOW_MS = 1_790_000_000_000
N = 600


def sample(name: str, n: int = N, seed: int = 1) -> tuple[Generator, list[dict[str, Any]]]:
    generator = quickstart(name)
    return generator, [generator.value(i, record_rng(seed, 0, i), NOW_MS) for i in range(n)]


def field_types(generator: Generator) -> dict[str, str]:
    return {f.name: f.schema.type for f in generator.value_schema.fields}


def values(records: list[dict[str, Any]], field: str) -> set[Any]:
    return {r[field] for r in records}


def test_clickstream() -> None:
    generator, records = sample("clickstream")
    assert field_types(generator) == {
        "ip": "string", "userid": "int32", "remote_user": "string", "time": "string", "_time": "int64",
        "request": "string", "status": "string", "bytes": "string", "referrer": "string", "agent": "string"}
    assert generator.key_field == "ip" and generator.key_schema is not None and generator.key_schema.type == "string"
    assert {ip.split(".")[0] for ip in values(records, "ip")} == {"111", "222", "122", "233"}
    assert "233.168.257.122" in values(records, "ip")  # datagen's list has invalid octets
    assert values(records, "userid") <= set(range(-1, 40)) and len(values(records, "userid")) > 30
    assert values(records, "status") == {"200", "302", "404", "405", "406", "407"}
    assert values(records, "bytes") == {"278", "1289", "2048", "4096", "4006", "4196", "14096"}
    assert values(records, "remote_user") == {"-"} and values(records, "referrer") == {"-"}
    assert len(values(records, "agent")) == 2
    requests = Counter(r["request"] for r in records)
    assert len(requests) == 5
    # user_status is listed twice in datagen's options, so it is drawn about twice as often.
    assert requests["GET /site/user_status.html HTTP/1.1"] > 1.4 * requests["GET /index.html HTTP/1.1"]
    assert [r["_time"] for r in records[:3]] == [1, 11, 21] and [r["time"] for r in records[:3]] == ["1", "11", "21"]
    assert generator.key(records[0]) == records[0]["ip"]


def test_clickstream_codes() -> None:
    generator, records = sample("clickstream_codes")
    assert field_types(generator) == {"code": "int32", "definition": "string"}
    assert generator.key_field == "code" and generator.key_schema is not None
    assert generator.key_schema.type == "int32"
    assert {(r["code"], r["definition"]) for r in records} == {
        (200, "Successful"), (302, "Redirect"), (404, "Page not found"), (405, "Method not allowed"),
        (406, "Not acceptable"), (407, "Proxy authentication required")}


def test_clickstream_users() -> None:
    generator, records = sample("clickstream_users")
    assert field_types(generator) == {
        "user_id": "int32", "username": "string", "registered_at": "int64", "first_name": "string",
        "last_name": "string", "city": "string", "level": "string"}
    assert generator.key_field == "user_id"
    assert [r["user_id"] for r in records] == list(range(1, N + 1))
    assert len(values(records, "username")) == 18
    assert all(1407645330000 <= r["registered_at"] < 1502339792000 for r in records)
    assert values(records, "city") == {"Palo Alto", "San Francisco", "Raleigh", "London", "Frankfurt", "New York"}
    assert values(records, "level") == {"Gold", "Silver", "Platinum"}
    assert len(values(records, "first_name")) == 12 and len(values(records, "last_name")) == 12


def test_pageviews_users_orders_ratings() -> None:
    generator, pageviews = sample("pageviews")
    assert field_types(generator) == {"viewtime": "int64", "userid": "string", "pageid": "string"}
    assert generator.key_field == "viewtime"
    assert [r["viewtime"] for r in pageviews[:3]] == [1, 11, 21]
    assert all(re.fullmatch(r"User_[1-9]", r["userid"]) and re.fullmatch(r"Page_[1-9][0-9]", r["pageid"])
               for r in pageviews)

    generator, users = sample("users")
    assert field_types(generator) == {"registertime": "int64", "userid": "string", "regionid": "string",
                                      "gender": "string"}
    assert generator.key_field == "userid"
    assert values(users, "gender") == {"MALE", "FEMALE", "OTHER"}
    assert all(1487715775521 <= r["registertime"] < 1519273364600 and re.fullmatch(r"Region_[1-9]", r["regionid"])
               for r in users)

    generator, orders = sample("orders")
    assert field_types(generator) == {"ordertime": "int64", "orderid": "int32", "itemid": "string",
                                      "orderunits": "float64", "address": "struct"}
    assert generator.key_field == "orderid"
    assert [r["orderid"] for r in orders[:3]] == [0, 1, 2]
    for r in orders:
        assert re.fullmatch(r"Item_[1-9][0-9]{0,2}", r["itemid"]) and 0.1 <= r["orderunits"] < 10.0
        assert set(r["address"]) == {"city", "state", "zipcode"} and 10000 <= r["address"]["zipcode"] < 99999
        assert re.fullmatch(r"City_[1-9]{0,2}", r["address"]["city"])

    generator, ratings = sample("ratings")
    assert field_types(generator) == {"rating_id": "int64", "user_id": "int32", "stars": "int32",
                                      "route_id": "int32", "rating_time": "int64", "channel": "string",
                                      "message": "string"}
    assert generator.key_field == "rating_id"
    assert [r["rating_id"] for r in ratings[:3]] == [1, 2, 3]
    assert [r["rating_time"] for r in ratings[:3]] == [1, 13, 25]
    assert values(ratings, "stars") == {1, 2, 3, 4} and values(ratings, "user_id") <= set(range(-1, 20))
    assert values(ratings, "channel") == {"web", "iOS", "ios", "iOS-test", "android"}
    assert len(values(ratings, "message")) == 11


def test_audit_log_events() -> None:
    generator, records = sample("audit_log", 3000)
    assert field_types(generator) == {"_id": "int64", "type": "string", "details": "struct", "created_at": "string"}
    details = generator.value_schema.field("details")
    assert details is not None
    assert [f.name for f in details.schema.fields] == ["name", "action", "userId", "productId"]
    types = Counter(r["type"] for r in records)
    assert set(types) == {"SIGNUP", "LOGIN", "PAGE", "ADD_TO_CART", "ORDER"}
    assert types["PAGE"] > types["ADD_TO_CART"] > types["ORDER"]  # a funnel, not uniform
    assert {r["details"]["name"] for r in records} == {"PRODUCT_LISTING", "PRODUCT_DETAILS", "CART"}
    assert {r["details"]["action"] for r in records} == {"CLICK", "VIEW"}
    assert {r["details"]["name"] for r in records if r["type"] == "ORDER"} == {"CART"}
    products = Counter(r["details"]["productId"] for r in records)
    assert all(re.fullmatch(r" [0-9]{1,2}", p) for p in products)  # the seed's " 42" form
    top, *_, bottom = [count for _, count in products.most_common()]
    assert top > 5 * bottom  # a few products are far more popular
    assert all(re.fullmatch(r" -?[0-9]+", r["details"]["userId"]) for r in records)
    assert {r["created_at"] for r in records} == {"2026-09-21T14:13:20.000000"}  # the event time, from the clock


def test_website_visits() -> None:
    generator, records = sample("website_visits", 3000)
    assert field_types(generator) == {"visitDate": "string", "country": "string", "lastAction": "string",
                                      "duration": "int64"}
    assert generator.key_field == "country"
    countries = Counter(r["country"] for r in records)
    assert set(countries) == {"UAE", "INDIA", "QATAR", "GERMANY"}
    assert countries["INDIA"] > countries["QATAR"]
    actions = Counter(r["lastAction"] for r in records)
    assert set(actions) == {"FAQ", "SHOPPING_CART", "LISTING_PAGE", "CONFIGURATION_PAGE"}
    assert 0.18 < actions["SHOPPING_CART"] / len(records) < 0.32
    assert values(records, "visitDate") == {str(NOW_MS)}
    cart = sorted(r["duration"] for r in records if r["lastAction"] == "SHOPPING_CART")
    listing = sorted(r["duration"] for r in records if r["lastAction"] == "LISTING_PAGE")
    assert cart[len(cart) // 2] > 2 * listing[len(listing) // 2]
    assert all(1 <= r["duration"] <= 4 * 3600 for r in records)


@pytest.mark.parametrize("name", list(QUICKSTARTS))
def test_same_seed_same_records_other_seed_other_records(name: str) -> None:
    _, first = sample(name, 50, seed=42)
    _, again = sample(name, 50, seed=42)
    _, other = sample(name, 50, seed=43)
    assert first == again
    assert first != other or name == "clickstream_codes" and len({str(r) for r in first}) == 6


def test_quickstart_names_are_case_insensitive_and_checked() -> None:
    assert quickstart("ClickStream_Users").key_field == "user_id"
    with pytest.raises(ConfigError, match="unknown quickstart 'nope'; expected one of clickstream"):
        quickstart("nope")


def test_schema_string_with_arg_properties() -> None:
    schema = """{"type": "record", "name": "device", "namespace": "iot", "fields": [
        {"name": "id", "type": {"type": "long", "arg.properties": {"iteration": {"start": 5, "step": 5, "restart": 20}}}},
        {"name": "label", "type": {"type": "string", "arg.properties": {"iteration": {"start": 1}, "prefix": "dev-"}}},
        {"name": "ip", "type": {"type": "string", "arg.properties": {"regex": "10\\\\.0\\\\.[0-9]{1,2}\\\\.[1-9]"}}},
        {"name": "temp", "type": {"type": "double", "arg.properties": {"range": {"min": -10, "max": 40}}}},
        {"name": "name", "type": {"type": "string", "arg.properties": {"length": {"min": 3, "max": 6}}}},
        {"name": "on", "type": {"type": "boolean", "arg.properties": {"odds": 1.0}}},
        {"name": "tags", "type": {"type": "array", "items": "string", "arg.properties": {"length": 2}}},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"]}},
        {"name": "note", "type": ["null", "string"]}
    ]}"""
    generator = AvroGenerator(schema, key_field="id")
    schema_types = {f.name: (f.schema.type, f.schema.optional) for f in generator.value_schema.fields}
    assert schema_types["note"] == ("string", True) and schema_types["kind"] == ("string", False)
    assert generator.value_schema.name == "iot.device"
    records = [generator.value(i, record_rng(1, 0, i), NOW_MS) for i in range(200)]
    assert [r["id"] for r in records[:5]] == [5, 10, 15, 5, 10]
    assert [r["label"] for r in records[:3]] == ["dev-1", "dev-2", "dev-3"]
    for r in records:
        assert re.fullmatch(r"10\.0\.[0-9]{1,2}\.[1-9]", r["ip"]) and -10 <= r["temp"] < 40 and 3 <= len(r["name"]) < 6
        assert r["on"] is True and len(r["tags"]) == 2 and r["kind"] in ("A", "B")
    assert {r["note"] is None for r in records} == {True, False}
    with pytest.raises(ConfigError, match="schema.keyfield 'nope' is not a field"):
        AvroGenerator(schema, key_field="nope")


def test_bad_schema_strings() -> None:
    with pytest.raises(ConfigError, match="not JSON"):
        AvroGenerator("{nope")
    with pytest.raises(ConfigError, match="must be an Avro record"):
        AvroGenerator('"string"')
    with pytest.raises(ConfigError, match="unsupported Avro type 'decimalish'"):
        AvroGenerator('{"type": "record", "name": "r", "fields": [{"name": "x", "type": "decimalish"}]}')


def test_bad_regex_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="bad regex 'User_\\[1-9'"):
        AvroGenerator('{"type": "record", "name": "r", "fields": [{"name": "x", "type": '
                      '{"type": "string", "arg.properties": {"regex": "User_[1-9"}}}]}')

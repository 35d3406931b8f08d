"""JSON and URL functions, evaluated in DuckDB."""

from __future__ import annotations

from typing import Any

import pytest

from headwater.sql.functions.json import json_path
from tests.sql.functions.harness import check, ids

CASES: list[tuple[str, Any]] = [
    ("EXTRACTJSONFIELD(J, '$.s')", "str"),
    ("EXTRACTJSONFIELD(J, '$.a.b[0]')", "1"),
    ("EXTRACTJSONFIELD(J, '$.a.b[2].c')", "d"),
    ("EXTRACTJSONFIELD(J, '$.a')", '{"b":[1,2,{"c":"d"}]}'),
    ("EXTRACTJSONFIELD(J, '$[''a''][''b''][1]')", "2"),
    ("EXTRACTJSONFIELD(J, '$.n')", None),
    ("EXTRACTJSONFIELD(J, '$.missing')", None),
    ("EXTRACTJSONFIELD('{\"log\":{\"cloud\":\"gcp\",\"app\":\"login\"}}', '$.log.cloud')", "gcp"),
    ("EXTRACTJSONFIELD('not json', '$.a')", None),
    ("EXTRACTJSONFIELD(NS, '$.a')", None),
    ("IS_JSON_STRING('[1, 2, 3]')", True),
    ("IS_JSON_STRING('\"abc\"')", True),
    ("IS_JSON_STRING('abc')", False),
    ("IS_JSON_STRING('')", False),
    ("IS_JSON_STRING(NS)", False),
    ("JSON_ARRAY_CONTAINS('[1, 2, 3]', 3)", True),
    ("JSON_ARRAY_CONTAINS('[1, 2, 3]', 4)", False),
    ("JSON_ARRAY_CONTAINS('[\"a\", 1]', 'a')", True),
    ("JSON_ARRAY_CONTAINS('[\"1\"]', 1)", False),
    ("JSON_ARRAY_CONTAINS('[1.5, true]', 1.5E0)", True),
    ("JSON_ARRAY_CONTAINS('[false]', FALSE)", True),
    ("JSON_ARRAY_CONTAINS('[1, null]', NI)", True),
    ("JSON_ARRAY_CONTAINS('{\"a\": 1}', 1)", False),
    ("JSON_ARRAY_CONTAINS('bad', 1)", False),
    ("JSON_ARRAY_CONTAINS(NS, 1)", False),
    ("JSON_ARRAY_LENGTH('[1, 2, 3]')", 3),
    ("JSON_ARRAY_LENGTH('[]')", 0),
    ("JSON_ARRAY_LENGTH('{}')", None),
    ("JSON_ARRAY_LENGTH('[1,')", None),
    ("JSON_CONCAT('{\"a\": 1}', '{\"b\": 2}')", '{"a":1,"b":2}'),
    ("JSON_CONCAT('{\"a\": 1, \"b\": 1}', '{\"a\": {\"x\": 2}}')", '{"a":{"x":2},"b":1}'),
    ("JSON_CONCAT('[1, 2]', '[3]')", "[1,2,3]"),
    ("JSON_CONCAT('[1]', '{\"a\": 1}')", '[1,{"a":1}]'),
    ("JSON_CONCAT('1', '2', '\"x\"')", '[1,2,"x"]'),
    ("JSON_CONCAT('{}', NS)", None),
    ("JSON_CONCAT('{}', 'bad')", None),
    ("JSON_CONCAT(J, S)", None),
    ("JSON_ARRAY_LENGTH(S)", None),
    ("JSON_KEYS(J)", ["a", "s", "n"]),
    ("JSON_RECORDS(S)", None),
    ("JSON_ITEMS(S)", None),
    ("JSON_KEYS('{\"a\": 1, \"b\": {\"c\": 2}}')", ["a", "b"]),
    ("JSON_KEYS('[1]')", None),
    ("JSON_KEYS(NS)", None),
    ("JSON_RECORDS('{\"a\": 1, \"b\": \"x\", \"c\": [1]}')", {"a": "1", "b": '"x"', "c": "[1]"}),
    ("JSON_RECORDS('[1]')", None),
    ("JSON_ITEMS('[1, \"a\", {\"b\": 2}]')", ["1", '"a"', '{"b":2}']),
    ("JSON_ITEMS('{}')", None),
    ("TO_JSON_STRING(S)", '"hello world"'),
    ("TO_JSON_STRING(I)", "7"),
    ("TO_JSON_STRING(D)", "2.5"),
    ("TO_JSON_STRING(DEC)", "12.34"),
    ("TO_JSON_STRING(FLAG)", "true"),
    ("TO_JSON_STRING(ARR)", "[3,1,2]"),
    ("TO_JSON_STRING(M)", '{"a":1,"b":2}'),
    ("TO_JSON_STRING(ST)", '{"A":1,"B":"x"}'),
    ("TO_JSON_STRING(TS)", "1609556645678"),
    ("TO_JSON_STRING(DT)", "18629"),
    ("TO_JSON_STRING(TM)", "11045678"),
    ("TO_JSON_STRING(BYT)", '"AAH/"'),
    ("TO_JSON_STRING(STRUCT(T := TS, L := ARRAY[DT]))", '{"T":1609556645678,"L":[18629]}'),
    ("TO_JSON_STRING(NS)", "null"),
    ("TO_JSON_STRING('say \"hi\"')", '"say \\"hi\\""'),
    # URL functions over https://user@www.example.com:8080/a%20b/c?q=1&x=a+b%26c#frag%21
    ("URL_EXTRACT_PROTOCOL(URL)", "https"),
    ("URL_EXTRACT_HOST(URL)", "www.example.com"),
    ("URL_EXTRACT_PORT(URL)", 8080),
    ("URL_EXTRACT_PATH(URL)", "/a b/c"),
    ("URL_EXTRACT_QUERY(URL)", "q=1&x=a+b&c"),
    ("URL_EXTRACT_FRAGMENT(URL)", "frag!"),
    ("URL_EXTRACT_PARAMETER(URL, 'x')", "a b&c"),
    ("URL_EXTRACT_PARAMETER(URL, 'q')", "1"),
    ("URL_EXTRACT_PARAMETER(URL, 'missing')", None),
    ("URL_EXTRACT_PARAMETER('http://h/p?flag&y=2', 'flag')", ""),
    ("URL_EXTRACT_HOST('http://[::1]:80/x')", "[::1]"),
    ("URL_EXTRACT_PORT('https://docs.confluent.io/current/ksql/docs/syntax-reference.html')", None),
    ("URL_EXTRACT_PATH('https://docs.confluent.io/current/ksql/docs/syntax-reference.html#scalar-functions')",
     "/current/ksql/docs/syntax-reference.html"),
    ("URL_EXTRACT_FRAGMENT('http://test.com')", None),
    ("URL_EXTRACT_QUERY('http://test.com/path')", None),
    ("URL_EXTRACT_PROTOCOL('/relative/path')", None),
    ("URL_EXTRACT_HOST('/relative/path')", None),
    ("URL_EXTRACT_HOST(NS)", None),
    ("URL_ENCODE_PARAM('url encoded (+*~)')", "url+encoded+%28%2B*%7E%29"),
    ("URL_DECODE_PARAM('url%20encoded+%2B')", "url encoded +"),
    ("URL_DECODE_PARAM(NS)", None),
]


@pytest.mark.parametrize(("expression", "expected"), CASES, ids=ids(CASES))
def test_json_or_url_function(con, expression: str, expected: Any) -> None:
    check(con, expression, expected)


@pytest.mark.parametrize(
    ("path", "duckdb_path"),
    [
        ("$.a.b[0]", '$."a"."b"[0]'),
        ("$['a b']['c']", '$."a b"."c"'),
        ('$["x"][2]', '$."x"[2]'),
        ("$", "$"),
        ("a.b", "a.b"),
    ],
)
def test_json_path_translation(path: str, duckdb_path: str) -> None:
    assert json_path(path) == duckdb_path

"""URL functions, parsing with RFC 3986's regular expression as java.net.URI does.

Components are percent-decoded as URI's getters decode them (``+`` stays a
plus); URL_DECODE_PARAM and URL_ENCODE_PARAM follow java.net.URLDecoder /
URLEncoder (``+`` is a space; only letters, digits and ``.-*_`` stay as they are).
A URL without the component gives NULL.
"""

from __future__ import annotations

from headwater.sql.functions.registry import Call, FunctionRegistry, scalar, variant

URL = "URL"

# RFC 3986, appendix B: 2 scheme, 4 authority, 5 path, 6 ?query (7 query), 8 #fragment (9 fragment).
_URI = r"'^(([^:/?#]+):)?(//([^/?#]*))?([^?#]*)(\?([^#]*))?(#(.*))?'"
# Authority: userinfo@, host (or [IPv6]), :port.
_AUTHORITY = r"'^(([^@]*)@)?(\[[^\]]*\]|[^:]*)(:([0-9]*))?$'"

MACROS: tuple[str, ...] = (
    f"CREATE OR REPLACE MACRO hw_url_part(hw_u, hw_g) AS regexp_extract(hw_u, {_URI}, hw_g)",
    f"""CREATE OR REPLACE MACRO hw_url_host(hw_u) AS
         CASE WHEN hw_url_part(hw_u, 3) <> '' THEN
           nullif(regexp_extract(hw_url_part(hw_u, 4), {_AUTHORITY}, 3), '') END""",
    f"""CREATE OR REPLACE MACRO hw_url_port(hw_u) AS
         CASE WHEN hw_url_part(hw_u, 3) <> '' THEN
           TRY_CAST(nullif(regexp_extract(hw_url_part(hw_u, 4), {_AUTHORITY}, 5), '') AS INTEGER) END""",
    """CREATE OR REPLACE MACRO hw_url_decode_param(hw_s) AS TRY(url_decode(replace(hw_s, '+', ' ')))""",
    """CREATE OR REPLACE MACRO hw_url_encode_param(hw_s) AS
         replace(replace(replace(url_encode(hw_s), '%20', '+'), '%2A', '*'), '~', '%7E')""",
    # The decoded value of the first name=value pair of the raw query whose name matches.
    """CREATE OR REPLACE MACRO hw_url_parameter(hw_u, hw_name) AS
         hw_url_decode_param(split_part(list_filter(string_split(hw_url_part(hw_u, 7), '&'),
           lambda hw_p: split_part(hw_p, '=', 1) = hw_name)[1], '=', 2))""",
)


def _part(group: int, presence: int | None = None) -> str:
    """Component ``group`` decoded; NULL when its delimiter group ``presence`` did not match."""
    decoded = f"TRY(url_decode(hw_url_part({{0}}, {group})))"
    if presence is None:
        return decoded
    return f"CASE WHEN hw_url_part({{0}}, {presence}) <> '' THEN {decoded} END"


def _parameter(call: Call) -> str:
    url, name = call.sql
    return (
        f"CASE WHEN list_position(list_transform(string_split(hw_url_part({url}, 7), '&'), "
        f"lambda {(p := call.fresh())}: split_part({p}, '=', 1)), {name}) IS NOT NULL "
        f"THEN hw_url_parameter({url}, {name}) END"
    )


def register(registry: FunctionRegistry) -> None:
    registry.add_setup(*MACROS)
    for name, description, template, result in (
        ("URL_DECODE_PARAM", "Decodes an application/x-www-form-urlencoded string.", "hw_url_decode_param({0})", "STRING"),
        ("URL_ENCODE_PARAM", "Encodes a string as application/x-www-form-urlencoded.", "hw_url_encode_param({0})", "STRING"),
        ("URL_EXTRACT_FRAGMENT", "The decoded fragment of a URL.", _part(9, 8), "STRING"),
        ("URL_EXTRACT_HOST", "The host of a URL.", "hw_url_host({0})", "STRING"),
        ("URL_EXTRACT_PATH", "The decoded path of a URL.", _part(5), "STRING"),
        ("URL_EXTRACT_PORT", "The port of a URL.", "hw_url_port({0})", "INT"),
        ("URL_EXTRACT_PROTOCOL", "The protocol (scheme) of a URL.", "nullif(hw_url_part({0}, 2), '')", "STRING"),
        ("URL_EXTRACT_QUERY", "The decoded query string of a URL.", _part(7, 6), "STRING"),
    ):
        registry.register(scalar(name, URL, description, variant("input STRING", result, template)))
    registry.register(scalar(
        "URL_EXTRACT_PARAMETER", URL, "The decoded value of a query parameter of a URL; NULL when absent.",
        variant("input STRING, paramName STRING", "STRING", _parameter),
    ))

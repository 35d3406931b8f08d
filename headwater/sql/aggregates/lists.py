"""DuckDB list expressions shared by the aggregates whose state is a list.

Each builder returns SQL text with no ``{``/``}`` of its own (structs are
built with ``struct_pack``), so it can sit inside a ``str.format`` template.
Lambda parameters are prefixed ``_hw_`` so they never shadow a column of the
relation the template runs over; builders that may nest take a ``tag`` to
keep the names of nested uses apart.

Cost: ``first_seen`` and ``counts_first_seen`` sort their input (n log n),
for a ``GROUP BY``. Their running forms work per record, on the list of the
values so far: ``ordered_distinct`` and ``ordered_counts`` scan that list
once (``list_distinct``, ``histogram``) and then, per distinct value, up to
its first occurrence (``list_position``): cheap when values repeat, quadratic
in the record's position when they do not (DuckDB sorts lists of structs too
slowly to do better per record). The merges look keys up with
``list_position`` (|old| x |new|, both bounded by a limit or by the distinct
values of one batch).
"""

from __future__ import annotations


def let(value: str, name: str, body: str) -> str:
    """Evaluate ``value`` once, bind it to the lambda parameter ``name`` and evaluate ``body``."""
    return f"list_transform([{value}], lambda {name}: {body})[1]"


def empty(list_type: str) -> str:
    return f"CAST([] AS {list_type})"


def _runs(entries: str, body: str, tag: str) -> str:
    """Bind ``_hw_p{tag}`` to ``entries`` (structs whose first field ``v`` is the key) sorted, and
    ``_hw_b{tag}`` to the 1-based positions in it where a run of equal keys starts."""
    p, b, i = f"_hw_p{tag}", f"_hw_b{tag}", f"_hw_i{tag}"
    starts = f"list_filter(range(1, len({p}) + 1), lambda {i}: {i} = 1 OR {p}[{i} - 1].v IS DISTINCT FROM {p}[{i}].v)"
    return let(f"list_sort(coalesce({entries}, []))", p, let(starts, b, body))


def first_seen(entries: str, tag: str = "") -> str:
    """The distinct ``v`` of a list of ``struct_pack(v := value, o := offset)``, in order of first ``o``.

    NULL is a value like any other (it is kept once).
    """
    p, b, j, e = f"_hw_p{tag}", f"_hw_b{tag}", f"_hw_j{tag}", f"_hw_e{tag}"
    firsts = f"list_transform({b}, lambda {j}: struct_pack(o := {p}[{j}].o, v := {p}[{j}].v))"
    return _runs(entries, f"list_transform(list_sort({firsts}), lambda {e}: {e}.v)", tag)


def counts_first_seen(entries: str, tag: str = "") -> str:
    """``[struct_pack(k := value, c := occurrences)]`` of a list of ``struct_pack(v := value, o := offset)``,
    one entry per distinct value, in order of first ``o``."""
    p, b, j, n, e = f"_hw_p{tag}", f"_hw_b{tag}", f"_hw_j{tag}", f"_hw_n{tag}", f"_hw_e{tag}"
    firsts = (f"list_transform({b}, lambda {j}, {n}: struct_pack(o := {p}[{j}].o, k := {p}[{j}].v, "
              f"c := CAST(coalesce({b}[{n} + 1], len({p}) + 1) - {j} AS BIGINT)))")
    return _runs(entries, f"list_transform(list_sort({firsts}), lambda {e}: struct_pack(k := {e}.k, c := {e}.c))", tag)


def add_counts(old: str, new: str, limit: int | None, list_type: str) -> str:
    """Merge two ``[struct_pack(k, c)]`` lists with distinct keys: counts of a key in both add up; keys only
    in ``new`` are appended in ``new``'s order while the result holds fewer than ``limit`` keys."""
    o, n, ok, nk, e = "_hw_ao", "_hw_an", "_hw_aok", "_hw_ank", "_hw_ae"
    updated = (f"list_transform({o}, lambda {e}: struct_pack(k := {e}.k, "
               f"c := {e}.c + coalesce({n}[list_position({nk}, {e}.k)].c, 0)))")
    fresh = f"list_filter({n}, lambda {e}: list_position({ok}, {e}.k) IS NULL)"
    if limit is not None:
        fresh = f"list_slice({fresh}, 1, greatest({limit} - len({o}), 0))"
    body = f"list_concat({updated}, {fresh})"
    keys = f"list_transform({{}}, lambda {e}: {e}.k)"
    return let(f"coalesce({old}, {empty(list_type)})", o,
               let(f"coalesce({new}, {empty(list_type)})", n,
                   let(keys.format(o), ok, let(keys.format(n), nk, body))))


def subtract_counts(old: str, retracted: str, list_type: str) -> str:
    """``old`` with the counts of ``retracted`` taken off; keys whose count drops to 0 are removed."""
    o, r, rk, e = "_hw_so", "_hw_sr", "_hw_srk", "_hw_se"
    lowered = (f"list_transform({o}, lambda {e}: struct_pack(k := {e}.k, "
               f"c := {e}.c - coalesce({r}[list_position({rk}, {e}.k)].c, 0)))")
    body = f"list_filter({lowered}, lambda {e}: {e}.c > 0)"
    return let(old, o, let(f"coalesce({retracted}, {empty(list_type)})", r,
                           let(f"list_transform({r}, lambda {e}: {e}.k)", rk, body)))


def ordered_distinct(values: str, tag: str = "") -> str:
    """The distinct elements of the list ``values`` in order of first occurrence, NULL included."""
    l, v, e = f"_hw_l{tag}", f"_hw_v{tag}", f"_hw_e{tag}"
    firsts = f"list_transform(list_distinct({l}), lambda {v}: struct_pack(p := list_position({l}, {v}), v := {v}))"
    null = f"list_position({l}, NULL)"
    # list_distinct drops NULL; {l}[{null}] is a NULL of the element type.
    with_null = (f"CASE WHEN {null} IS NULL THEN {firsts} "
                 f"ELSE list_append({firsts}, struct_pack(p := {null}, v := {l}[{null}])) END")
    return let(values, l, f"list_transform(list_sort({with_null}), lambda {e}: {e}.v)")


def ordered_counts(histogram: str, values: str, tag: str = "") -> str:
    """``[struct_pack(k := value, c := count)]`` from a ``histogram`` map, in order of first occurrence in
    the list ``values`` (which holds the same non-null values)."""
    l, m, e = f"_hw_l{tag}", f"_hw_m{tag}", f"_hw_e{tag}"
    entries = (f"list_transform(map_entries({m}), lambda {e}: struct_pack(p := list_position({l}, {e}.key), "
               f"k := {e}.key, c := CAST({e}.value AS BIGINT)))")
    body = f"list_transform(list_sort({entries}), lambda {e}: struct_pack(k := {e}.k, c := {e}.c))"
    return let(values, l, let(histogram, m, body))

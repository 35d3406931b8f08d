"""Compatibility of JSON Schemas, after the differences Confluent's registry reports (``JsonSchemaDiff``).

``json_differences(original, update)`` lists why data valid against ``original`` may be rejected by
``update`` (``compatibility.py`` picks the direction: BACKWARD original = old schema, FORWARD the other
way round). The error types are Confluent's names; only the breaking ones are listed.

Types and objects: a property's ``type`` may widen (a type added, ``integer`` to ``number``) but not
narrow or change (TYPE_NARROWED, TYPE_CHANGED); a property added to an open content model
(``additionalProperties`` not false) breaks, since old data may hold it with any type
(PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL), unless its schema is empty; added to a closed model it is fine; a
property removed from a closed content model breaks (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL), from an
open one it is fine; a property becoming required breaks unless it has a default
(REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL, REQUIRED_ATTRIBUTE_ADDED); closing an open model breaks
(ADDITIONAL_PROPERTIES_REMOVED). Properties and array ``items`` are compared recursively.

References: a local ``$ref`` (``#/definitions/X``, ``#/$defs/X``, any JSON pointer into the same
schema) is followed on both sides; a pair of references already being compared counts as compatible, so
recursive definitions end. A ``$ref`` that is not local (another subject) is not followed.

Combined schemas (``oneOf``, ``anyOf``, ``allOf``), as Confluent's ``CombinedSchemaDiff``: another
criterion breaks (COMBINED_TYPE_CHANGED) unless the update's is ``anyOf`` (COMBINED_TYPE_EXTENDED,
compatible); with the same criterion, fewer ``oneOf``/``anyOf`` subschemas break (SUM_TYPE_NARROWED) and
more ``allOf`` subschemas break (PRODUCT_TYPE_EXTENDED), the other way round being compatible; then each
original subschema must be paired with a distinct update subschema that accepts its data (a maximum
matching), else COMBINED_TYPE_SUBSCHEMAS_CHANGED, and the pairs' own differences are reported. A plain
schema becoming a ``oneOf``/``anyOf`` is compatible when one branch accepts it (SUM_TYPE_EXTENDED); a
one-branch combination becoming that branch is compared as the branch; any other change between a
combination and a plain schema is TYPE_CHANGED.
"""

from __future__ import annotations

from typing import Any

_COMBINERS = ("oneOf", "anyOf", "allOf")


def _error(kind: str, path: str, description: str) -> str:
    return f"{{errorType:'{kind}', description:'{description} at path '{path}''}}"


def _types(schema: Any) -> set[str] | None:
    """The JSON types a schema allows (None: any)."""
    if not isinstance(schema, dict) or "type" not in schema:
        return None
    kind = schema["type"]
    return {str(k) for k in kind} if isinstance(kind, list) else {str(kind)}


def _open(schema: dict[str, Any]) -> bool:
    return schema.get("additionalProperties", True) is not False


def _empty(schema: Any) -> bool:
    return schema is True or schema == {}


def _combiner(schema: Any) -> str | None:
    if isinstance(schema, dict):
        return next((c for c in _COMBINERS if isinstance(schema.get(c), list)), None)
    return None


def _pointer(root: Any, ref: str) -> Any:
    """The subschema a local reference names, None when it names nothing here."""
    if not ref.startswith("#"):
        return None
    node = root
    for part in ref[1:].lstrip("/").split("/") if ref[1:] else ():
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isascii() and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


class _Diff:
    def __init__(self, original_root: Any, update_root: Any) -> None:
        self.roots = (original_root, update_root)
        self.comparing: set[tuple[str, str]] = set()

    def _deref(self, schema: Any, side: int, seen: tuple[str, ...] = ()) -> tuple[Any, str | None]:
        """A schema with its local ``$ref`` followed (and the reference, for cycle checks)."""
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            target = _pointer(self.roots[side], ref)
            if target is not None and ref not in seen:
                found, _ = self._deref(target, side, (*seen, ref))
                return found, ref
        return schema, None

    def compare(self, original: Any, update: Any, path: str) -> list[str]:
        original, old_ref = self._deref(original, 0)
        update, new_ref = self._deref(update, 1)
        if old_ref is not None and new_ref is not None:
            if (old_ref, new_ref) in self.comparing:
                return []  # a recursive definition: assumed to hold while it is being checked
            self.comparing.add((old_ref, new_ref))
            try:
                return self._compare(original, update, path)
            finally:
                self.comparing.discard((old_ref, new_ref))
        return self._compare(original, update, path)

    def _compare(self, original: Any, update: Any, path: str) -> list[str]:
        if not isinstance(original, dict) or not isinstance(update, dict):
            if update is False and original is not False:
                return [_error("TYPE_NARROWED", path, "The schema no longer accepts any value")]
            return []
        old_kind, new_kind = _combiner(original), _combiner(update)
        if old_kind or new_kind:
            return self._combined(original, update, old_kind, new_kind, path)
        found: list[str] = []
        old_types, new_types = _types(original), _types(update)
        if new_types is not None:
            widened = set(new_types) | ({"integer"} if "number" in new_types else set())
            if old_types is None or not old_types <= widened:
                kind = "TYPE_NARROWED" if old_types is not None and new_types < old_types else "TYPE_CHANGED"
                found.append(_error(kind, path, f"The type changed from {sorted(old_types or ['any'])} to "
                                                f"{sorted(new_types)}"))
                return found
        old_props: dict[str, Any] = original.get("properties") or {}
        new_props: dict[str, Any] = update.get("properties") or {}
        if _open(original) and not _open(update):
            found.append(_error("ADDITIONAL_PROPERTIES_REMOVED", path, "The content model was closed"))
        for name, schema in new_props.items():
            if name not in old_props and _open(original) and not _empty(schema):
                found.append(_error("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL", f"{path}properties/{name}",
                                    f"The property '{name}' was added to an open content model"))
        for name in old_props:
            if name not in new_props and not _open(update):
                found.append(_error("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", f"{path}properties/{name}",
                                    f"The property '{name}' was removed from a closed content model"))
        old_required, new_required = set(original.get("required") or ()), set(update.get("required") or ())
        for name in sorted(new_required - old_required):
            if isinstance(new_props.get(name), dict) and "default" in new_props[name]:
                continue
            kind = "REQUIRED_ATTRIBUTE_ADDED" if name in old_props else "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
            found.append(_error(kind, f"{path}required", f"The property '{name}' became required"))
        for name, schema in new_props.items():
            if name in old_props:
                found += self.compare(old_props[name], schema, f"{path}properties/{name}/")
        if "items" in original and "items" in update:
            found += self.compare(original["items"], update["items"], f"{path}items/")
        return found

    def _combined(self, original: dict[str, Any], update: dict[str, Any], old_kind: str | None,
                  new_kind: str | None, path: str) -> list[str]:
        if old_kind is None and new_kind is not None:
            if new_kind != "allOf":
                for i, branch in enumerate(update[new_kind]):
                    if not self.compare(original, branch, f"{path}{new_kind}/{i}/"):
                        return []  # SUM_TYPE_EXTENDED: compatible
            return [_error("TYPE_CHANGED", path, f"The schema became a {new_kind} no branch of which accepts it")]
        if old_kind is not None and new_kind is None:
            if len(original[old_kind]) == 1:
                return self.compare(original[old_kind][0], update, path)
            return [_error("TYPE_CHANGED", path, f"The {old_kind} became a single schema")]
        if old_kind is None or new_kind is None:  # neither is combined: the caller compares them
            return []
        if old_kind != new_kind and new_kind != "anyOf":
            return [_error("COMBINED_TYPE_CHANGED", path, f"The {old_kind} became a {new_kind}")]
        found: list[str] = []
        old_branches = _distinct(original[old_kind])
        new_branches = _distinct(update[new_kind])
        if len(old_branches) < len(new_branches) and new_kind == "allOf":
            found.append(_error("PRODUCT_TYPE_EXTENDED", path, "An allOf got more subschemas"))
        elif len(old_branches) > len(new_branches) and new_kind != "allOf":
            found.append(_error("SUM_TYPE_NARROWED", path, f"A {new_kind} lost subschemas"))
        table = {(i, j): self.compare(a, b, f"{path}{new_kind}/{j}/")
                 for i, a in enumerate(old_branches) for j, b in enumerate(new_branches)}
        pairs = _matching(len(old_branches), len(new_branches), {k for k, v in table.items() if not v})
        if len(pairs) < min(len(old_branches), len(new_branches)):
            found.append(_error("COMBINED_TYPE_SUBSCHEMAS_CHANGED", path, f"The subschemas of the {old_kind} "
                                                                          "cannot be paired with the update's"))
        return found


def _distinct(branches: list[Any]) -> list[Any]:
    out: list[Any] = []
    for branch in branches:
        if branch not in out:
            out.append(branch)
    return out


def _matching(left: int, right: int, edges: set[tuple[int, int]]) -> dict[int, int]:
    """A maximum matching (right -> left) of a small bipartite graph, by augmenting paths."""
    match: dict[int, int] = {}

    def augment(i: int, seen: set[int]) -> bool:
        for j in range(right):
            if (i, j) in edges and j not in seen:
                seen.add(j)
                if j not in match or augment(match[j], seen):
                    match[j] = i
                    return True
        return False

    for i in range(left):
        augment(i, set())
    return match


def json_differences(original: Any, update: Any, path: str = "#/") -> list[str]:
    """Why data valid against ``original`` may be rejected by ``update`` (empty when it is always accepted)."""
    return _Diff(original, update).compare(original, update, path)

"""Clean an Anthropic tool `input_schema` into a provider's `parameters` schema.

Anthropic accepts full JSON Schema; OpenAI-compatible providers accept
subsets. `clean_tool_schema(schema, dialect)` returns a new dict (the input is
never mutated) that the dialect accepts:

- every dialect: `$schema` is dropped; local `$ref`s (`#/$defs/X`,
  `#/definitions/X`, any `#/...` pointer) are inlined; arrays without `items`
  get one (`{}`, or `{"type": "string"}` for Gemini, which requires a type).
- "full" (OpenAI and most servers): everything else is kept. A recursive
  `$ref` cannot be inlined, so it stays, with the definitions it needs.
- "no_additional_properties": `additionalProperties` is dropped as well.
- "gemini" (Gemini's OpenAPI 3.0 subset): only the keywords Gemini documents
  for function declarations are kept; `anyOf`/`oneOf`/type lists with `null`
  become `nullable`; `oneOf` becomes `anyOf`; `allOf` is merged; `const`
  becomes a one-value `enum`; empty `properties` are removed and `required`
  only names declared properties.

What is lost: for dialects other than "full", the exact constraint of a
keyword the provider rejects. Where the keyword carries meaning for the model
(`pattern`, `default`, `format` such as `uri`, non-string `enum`s, exclusive
bounds, `const`) it is restated in the `description` so the model still sees
it; `examples`, `$id`, `$comment` and other annotations are dropped. A
recursive reference is replaced by a placeholder object described in words.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from providers.openai.presets import SchemaDialect

#: Deepest chain of `$ref`s inlined inside one another before the chain is
#: treated as recursive, so pathological schemas cannot blow up.
MAX_REF_DEPTH = 32

_DEFINITION_KEYS = ("$defs", "definitions")
# Keywords whose value is one subschema, a map of subschemas, or a list of them.
_SCHEMA_KEYS = frozenset(
    {
        "items",
        "additionalProperties",
        "additionalItems",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
    }
)
_SCHEMA_MAP_KEYS = frozenset(
    {"properties", "patternProperties", "dependentSchemas", "$defs", "definitions"}
)
_SCHEMA_LIST_KEYS = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})

# Gemini's documented function-declaration Schema fields (OpenAPI 3.0 subset).
_GEMINI_KEYS = frozenset(
    {
        "type",
        "format",
        "title",
        "description",
        "nullable",
        "enum",
        "items",
        "properties",
        "required",
        "minItems",
        "maxItems",
        "minimum",
        "maximum",
        "minLength",
        "maxLength",
        "minProperties",
        "maxProperties",
        "anyOf",
        "propertyOrdering",
    }
)
_GEMINI_STRING_FORMATS = frozenset({"enum", "date-time"})
_GEMINI_NUMBER_FORMATS = frozenset({"float", "double", "int32", "int64"})
# Keywords Gemini rejects whose meaning is worth restating in the description.
_GEMINI_DESCRIBED = {
    "pattern": "Pattern",
    "default": "Default",
    "exclusiveMinimum": "Exclusive minimum",
    "exclusiveMaximum": "Exclusive maximum",
    "multipleOf": "Multiple of",
    "uniqueItems": "Unique items",
}
_GEMINI_ARRAY_ITEMS: dict[str, Any] = {"type": "string"}


class SchemaError(ValueError):
    """The schema cannot be cleaned (e.g. a `$ref` that points nowhere)."""


@dataclass
class _Context:
    root: Mapping[str, Any]
    dialect: SchemaDialect
    # Definitions still referenced after inlining (recursive refs, "full" only).
    kept_refs: set[str] = field(default_factory=set)


def clean_tool_schema(schema: Mapping[str, Any], dialect: SchemaDialect) -> dict[str, Any]:
    """A copy of `schema` that a provider of `dialect` accepts (see module doc)."""
    if not isinstance(schema, Mapping):
        raise SchemaError("a schema must be a JSON object")
    ctx = _Context(root=schema, dialect=dialect)
    cleaned = _clean(schema, ctx, ("#",))
    if not isinstance(cleaned, dict):  # a root $ref to a boolean schema
        raise SchemaError("the root schema must be a JSON object")
    if ctx.kept_refs:
        _restore_definitions(cleaned, ctx)
    return cleaned


def _restore_definitions(cleaned: dict[str, Any], ctx: _Context) -> None:
    """Put back the definitions that recursive `$ref`s still point to."""
    for defs_key in _DEFINITION_KEYS:
        defs = ctx.root.get(defs_key)
        if not isinstance(defs, Mapping):
            continue
        prefix = f"#/{defs_key}/"
        kept: dict[str, Any] = {}
        # Cleaning a definition can reveal further recursive refs: repeat until stable.
        while True:
            wanted = sorted(ref[len(prefix) :] for ref in ctx.kept_refs if ref.startswith(prefix))
            missing = [name for name in wanted if name not in kept and name in defs]
            if not missing:
                break
            for name in missing:
                kept[name] = _clean(defs[name], ctx, ("#", prefix + name))
        if kept:
            cleaned[defs_key] = kept


def _clean(node: Any, ctx: _Context, expanding: tuple[str, ...]) -> Any:
    if isinstance(node, bool):  # `true` / `false` schemas
        return node
    if not isinstance(node, Mapping):
        raise SchemaError(f"expected a schema object, got {type(node).__name__}")
    if isinstance(node.get("$ref"), str):
        return _inline_ref(node, ctx, expanding)

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$schema":
            continue
        if key in _DEFINITION_KEYS:
            # Inlined wherever used; put back later only if a recursive ref needs them.
            continue
        if key == "additionalProperties" and ctx.dialect != "full":
            continue
        if key in _SCHEMA_KEYS:
            out[key] = (
                [_clean(v, ctx, expanding) for v in value]
                if isinstance(value, list)
                else _clean(value, ctx, expanding)
            )
        elif key in _SCHEMA_MAP_KEYS:
            if not isinstance(value, Mapping):
                raise SchemaError(f"{key} must be an object")
            out[key] = {name: _clean(sub, ctx, expanding) for name, sub in value.items()}
        elif key in _SCHEMA_LIST_KEYS:
            if not isinstance(value, list):
                raise SchemaError(f"{key} must be a list")
            out[key] = [_clean(sub, ctx, expanding) for sub in value]
        else:
            _check_keyword(key, value)
            out[key] = copy.deepcopy(value)

    if ctx.dialect == "gemini":
        out = _to_gemini(out)
    elif _is_array(out) and "items" not in out and "prefixItems" not in out:
        out["items"] = {}
    return out


def _check_keyword(key: str, value: Any) -> None:
    """Reject keyword values of the wrong shape (they would break the rewrites)."""
    if key in ("required", "enum") and not isinstance(value, list):
        raise SchemaError(f"{key} must be a list")
    if key == "required" and not all(isinstance(name, str) for name in value):
        raise SchemaError("required must list property names")
    if key == "format" and not isinstance(value, str):
        raise SchemaError("format must be a string")
    if key == "type" and not (
        isinstance(value, str)
        or (isinstance(value, list) and all(isinstance(kind, str) for kind in value))
    ):
        raise SchemaError("type must be a string or a list of strings")


def _inline_ref(node: Mapping[str, Any], ctx: _Context, expanding: tuple[str, ...]) -> Any:
    ref: str = node["$ref"]
    siblings = {k: v for k, v in node.items() if k != "$ref"}
    if not ref.startswith("#"):
        if ctx.dialect == "full":
            return _clean(siblings, ctx, expanding) | {"$ref": ref}
        raise SchemaError(f"remote $ref {ref!r} cannot be resolved")

    if ref in expanding or len(expanding) > MAX_REF_DEPTH:
        if ctx.dialect == "full" and _is_restorable(ref):
            ctx.kept_refs.add(ref)
            return _clean(siblings, ctx, expanding) | {"$ref": ref}
        placeholder = _clean(siblings, ctx, expanding)
        _describe(placeholder, f"Recursive: same structure as {ref}.")
        if ctx.dialect == "gemini":
            placeholder.setdefault("type", "object")
        return placeholder

    target = _resolve_pointer(ctx.root, ref)
    resolved = _clean(target, ctx, (*expanding, ref))
    if not siblings:
        return resolved
    if not isinstance(resolved, dict):
        return _clean(siblings, ctx, expanding)
    # Keywords next to the $ref (often a description) refine the target.
    merged = dict(resolved)
    merged.update(_clean(siblings, ctx, expanding))
    return merged


def _is_restorable(ref: str) -> bool:
    """Whether a kept `$ref` will still resolve after cleaning (root or top-level definition)."""
    if ref == "#":
        return True
    parts = ref.split("/")
    return len(parts) == 3 and parts[0] == "#" and parts[1] in _DEFINITION_KEYS


def _resolve_pointer(root: Mapping[str, Any], ref: str) -> Any:
    """Follow a local JSON pointer such as `#/$defs/Item`."""
    node: Any = root
    if ref in ("#", "#/"):
        return root
    for raw in ref[2:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise SchemaError(f"$ref {ref!r} points to nothing in the schema")
    return node


def _is_array(node: Mapping[str, Any]) -> bool:
    kind = node.get("type")
    return kind == "array" or (isinstance(kind, list) and "array" in kind)


def _describe(node: dict[str, Any], text: str) -> None:
    """Append a sentence to the node's description."""
    current = node.get("description")
    node["description"] = (
        f"{current.rstrip()} {text}" if isinstance(current, str) and current.strip() else text
    )


def _format_value(value: Any) -> str:
    return repr(value) if not isinstance(value, str) else value


def _to_gemini(node: dict[str, Any]) -> dict[str, Any]:
    """Rewrite one already-cleaned node into Gemini's subset (children done)."""
    node = _merge_all_of(node)

    if "oneOf" in node:
        node["anyOf"] = node.pop("oneOf") + node.get("anyOf", [])
    if "anyOf" in node:
        node = _flatten_nullable_any_of(node)

    kind = node.get("type")
    if isinstance(kind, list):
        types = [t for t in kind if t != "null"]
        if len(types) < len(kind):
            node["nullable"] = True
        if len(types) == 1:
            node["type"] = types[0]
        elif types:
            del node["type"]
            node["anyOf"] = [{"type": t} for t in types]
        else:
            node["type"] = "string"

    if "const" in node:
        const = node.pop("const")
        if isinstance(const, str):
            node["enum"] = [const]
            node.setdefault("type", "string")
        else:
            _describe(node, f"Must be {_format_value(const)}.")

    if "enum" in node:
        values = node["enum"]
        if isinstance(values, list) and all(isinstance(v, str) for v in values):
            node.setdefault("type", "string")
        else:
            del node["enum"]
            shown = ", ".join(_format_value(v) for v in values) if isinstance(values, list) else ""
            _describe(node, f"Allowed values: {shown}.")
            if "type" not in node and isinstance(values, list):
                inferred = _json_type(values)
                if inferred:
                    node["type"] = inferred

    fmt = node.get("format")
    if fmt is not None:
        allowed = (
            _GEMINI_NUMBER_FORMATS
            if node.get("type") in ("number", "integer")
            else _GEMINI_STRING_FORMATS
        )
        if fmt not in allowed:
            del node["format"]
            _describe(node, f"Format: {_format_value(fmt)}.")

    for key, label in _GEMINI_DESCRIBED.items():
        if key in node:
            _describe(node, f"{label}: {_format_value(node[key])}.")

    if "items" not in node and node.get("type") == "array":
        prefix = node.get("prefixItems")
        node["items"] = (
            prefix[0] if isinstance(prefix, list) and prefix else dict(_GEMINI_ARRAY_ITEMS)
        )
    elif node.get("items") == {}:
        node["items"] = dict(_GEMINI_ARRAY_ITEMS)
    elif isinstance(node.get("items"), list):  # old tuple form
        tuple_items = node["items"]
        node["items"] = tuple_items[0] if tuple_items else dict(_GEMINI_ARRAY_ITEMS)

    properties = node.get("properties")
    if isinstance(properties, dict):
        if not properties:
            del node["properties"]
            node.pop("required", None)
        else:
            node.setdefault("type", "object")
    if "required" in node:
        declared = node.get("properties") or {}
        required = [name for name in node["required"] if name in declared]
        if required:
            node["required"] = required
        else:
            del node["required"]

    return {key: value for key, value in node.items() if key in _GEMINI_KEYS}


def _json_type(values: list[Any]) -> str | None:
    """The one JSON type shared by all values, if any."""
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    return None


def _merge_all_of(node: dict[str, Any]) -> dict[str, Any]:
    """Merge `allOf` parts into the node (Gemini has no `allOf`).

    Properties and required lists are united; for other keywords the node's
    own value wins, then the first part that has one.
    """
    parts = node.pop("allOf", None)
    if not isinstance(parts, list):
        return node
    merged: dict[str, Any] = {}
    for part in [node, *parts]:
        if not isinstance(part, dict):
            continue
        for key, value in part.items():
            if key == "properties" and isinstance(value, dict):
                merged["properties"] = {**value, **merged.get("properties", {})}
            elif key == "required" and isinstance(value, list):
                merged["required"] = list(dict.fromkeys([*merged.get("required", []), *value]))
            else:
                merged.setdefault(key, value)
    return merged


def _flatten_nullable_any_of(node: dict[str, Any]) -> dict[str, Any]:
    """`anyOf: [X, {type: null}]` -> X with `nullable: true`."""
    variants = node["anyOf"]
    non_null = [v for v in variants if not (isinstance(v, dict) and v.get("type") == "null")]
    if len(non_null) == len(variants):
        return node
    if len(non_null) == 1 and isinstance(non_null[0], dict):
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        merged = dict(non_null[0])
        merged.update(rest)  # the outer description/title win
        merged["nullable"] = True
        return merged
    node["anyOf"] = non_null
    node["nullable"] = True
    return node

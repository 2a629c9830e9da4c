"""Keyset ("cursor") pagination on (sort value, id).

DRF's CursorPagination positions on the first ordering field only and skips
ties with an offset, which drifts when rows with the same value arrive. Here
the cursor holds the last row's sort value and id, and the next page is
`WHERE (value, id) < (v, i)` in the page's direction: rows inserted while a
client pages (newer ones, at the top) never shift, duplicate or hide the
older rows it has yet to see, and every page is one index range scan.

A view names its sort keys in `keyset_orderings` (name -> SortKey) and its
default in `keyset_default_ordering` ("-started_at": newest first).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

#: Name of the annotation a computed sort key is stored under.
SORT_ANNOTATION = "sort_value"


@dataclass(frozen=True)
class SortKey:
    """A column (str) or an expression rows can be ordered by, with its JSON decoder."""

    expression: Any
    decode: Callable[[Any], Any] = int

    @property
    def is_column(self) -> bool:
        return isinstance(self.expression, str)

    @property
    def lookup(self) -> str:
        return self.expression if self.is_column else SORT_ANNOTATION

    def value_of(self, row: Any) -> Any:
        return getattr(row, self.lookup)


def decode_datetime(value: Any) -> datetime:
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError("not a datetime")
    return parsed


def decode_decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError("not a decimal") from None


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def encode_token(payload: dict[str, Any]) -> str:
    """An opaque, URL-safe cursor token for a JSON-able position."""
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_token(token: str) -> dict[str, Any]:
    """The position in a token; ValueError when it is not one of ours."""
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, orjson.JSONDecodeError):
        raise ValueError("not a cursor") from None
    if not isinstance(payload, dict):
        raise ValueError("not a cursor")
    return payload


def page_size(request: Request, default: int, maximum: int) -> int:
    """`?page_size=`, capped at `maximum`; 400 when it is not a positive whole number."""
    raw = request.query_params.get("page_size")
    if not raw:
        return default
    try:
        size = int(raw)
    except ValueError:
        raise ValidationError({"page_size": ["A whole number."]}) from None
    if size < 1:
        raise ValidationError({"page_size": ["At least 1."]})
    return min(size, maximum)


@dataclass(frozen=True)
class Cursor:
    ordering: str
    value: Any
    id: int
    reverse: bool  # True: the page before this position


class KeysetPagination(BasePagination):
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"
    ordering_query_param = "ordering"
    page_size = 50
    max_page_size = 500

    def paginate_queryset(
        self, queryset: QuerySet, request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.orderings: dict[str, SortKey] = view.keyset_orderings
        self.ordering = self._ordering(request, view)
        self.key = self.orderings[self.ordering.lstrip("-")]
        self.descending = self.ordering.startswith("-")
        self.size = self._page_size(request)
        cursor = self._decode_cursor(request)
        reverse = cursor.reverse if cursor else False

        if not self.key.is_column:
            queryset = queryset.annotate(**{SORT_ANNOTATION: self.key.expression})
        backwards = self.descending != reverse  # effective direction: high to low
        if cursor is not None:
            queryset = queryset.filter(self._beyond(cursor, backwards))
        sign = "-" if backwards else ""
        rows = list(queryset.order_by(f"{sign}{self.key.lookup}", f"{sign}id")[: self.size + 1])
        has_more = len(rows) > self.size
        rows = rows[: self.size]
        if reverse:
            rows.reverse()
            self.has_next, self.has_previous = True, has_more
        else:
            self.has_next, self.has_previous = has_more, cursor is not None
        self.page = rows
        return rows

    def get_paginated_response(self, data: Any) -> Response:
        return Response(self.paginated_body(data))

    def paginated_body(self, data: Any) -> dict[str, Any]:
        return {"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        return self._link(self.page[-1], reverse=False)

    def get_previous_link(self) -> str | None:
        if not self.has_previous or not self.page:
            return None
        return self._link(self.page[0], reverse=True)

    # --- cursors ---------------------------------------------------------------
    def _beyond(self, cursor: Cursor, backwards: bool) -> Q:
        lookup = self.key.lookup
        op = "lt" if backwards else "gt"
        return Q(**{f"{lookup}__{op}": cursor.value}) | Q(
            **{lookup: cursor.value, f"id__{op}": cursor.id}
        )

    def _link(self, row: Any, *, reverse: bool) -> str:
        payload = {
            "o": self.ordering,
            "v": _encode_value(self.key.value_of(row)),
            "i": row.pk,
            "r": reverse,
        }
        return replace_query_param(self.base_url, self.cursor_query_param, encode_token(payload))

    def _decode_cursor(self, request: Request) -> Cursor | None:
        token = request.query_params.get(self.cursor_query_param)
        if not token:
            return None
        try:
            payload = decode_token(token)
            cursor = Cursor(
                ordering=str(payload["o"]),
                value=self.key.decode(payload["v"]),
                id=int(payload["i"]),
                reverse=bool(payload["r"]),
            )
        except (KeyError, TypeError, ValueError):
            raise NotFound("Invalid cursor.") from None
        if cursor.ordering != self.ordering:
            raise NotFound("Invalid cursor: it was made for another ordering.")
        return cursor

    # --- parameters ------------------------------------------------------------
    def _ordering(self, request: Request, view: Any) -> str:
        ordering = request.query_params.get(self.ordering_query_param) or (
            view.keyset_default_ordering
        )
        if ordering.lstrip("-") not in self.orderings:
            choices = ", ".join(self._ordering_choices())
            raise ValidationError({"ordering": [f"Choose one of {choices}."]})
        return ordering

    def _ordering_choices(self) -> list[str]:
        return [f"{sign}{name}" for name in self.orderings for sign in ("", "-")]

    def _page_size(self, request: Request) -> int:
        return page_size(request, self.page_size, self.max_page_size)

    # --- OpenAPI ---------------------------------------------------------------
    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        orderings = getattr(view, "keyset_orderings", {})
        parameters = [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "Opaque position from a previous page's next/previous link.",
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Rows per page (default {self.page_size}, "
                f"at most {self.max_page_size}).",
                "schema": {"type": "integer"},
            },
        ]
        if len(orderings) > 1:
            parameters.append(
                {
                    "name": self.ordering_query_param,
                    "required": False,
                    "in": "query",
                    "description": "Sort key; a leading - sorts high to low. "
                    f"Default {view.keyset_default_ordering}.",
                    "schema": {
                        "type": "string",
                        "enum": [f"{s}{name}" for name in orderings for s in ("", "-")],
                    },
                }
            )
        return parameters

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["results"],
            "properties": {"next": link, "previous": link, "results": schema},
        }

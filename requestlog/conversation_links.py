"""Conversation keys in URLs: any key, one path segment, the same in both directions.

A key comes from a client (`x-claude-code-session-id`, `metadata.user_id`)
and may hold anything: a newline, `/`, `?`, `#`, `%`, `..`, unicode. Django's
`<path:>` refuses a newline (its `.+` stops there, so reversing failed and
the page answered 500), and browsers rewrite `/./` and `/../` in a path
before sending it. So a key is put in a URL as:

- itself, when it is a plain token (letters, digits, `-`, `_`, `.`, not
  starting with `.`): a UUID or `fp-…` key reads as it is stored;
- otherwise `~` followed by the URL-safe base64 of its UTF-8 bytes, without
  padding. `~` never starts a plain token, so the two forms cannot collide.

The key stays stored as it is; only its URL form changes.
"""

from __future__ import annotations

import base64
import binascii
import re

#: Marks an encoded key.
ENCODED_PREFIX = "~"
_PLAIN = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_ENCODED = re.compile(r"~[A-Za-z0-9_-]+")
#: Matches both forms; used by the dashboard's URL converter and the API's lookup.
SEGMENT_REGEX = r"[A-Za-z0-9_-][A-Za-z0-9._-]*|~[A-Za-z0-9_-]+"


def key_to_segment(key: str) -> str:
    """The URL path segment for a conversation key."""
    if _PLAIN.fullmatch(key):
        return key
    encoded = base64.urlsafe_b64encode(key.encode()).decode().rstrip("=")
    return ENCODED_PREFIX + encoded


def key_from_segment(segment: str) -> str:
    """The key a segment stands for; ValueError when it is neither form."""
    if _PLAIN.fullmatch(segment):
        return segment
    if not _ENCODED.fullmatch(segment):
        raise ValueError("not a conversation key")
    data = segment[len(ENCODED_PREFIX) :]
    try:
        key = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise ValueError("not a conversation key") from None
    if key_to_segment(key) != segment:  # one URL per key: no padding variants, no plain keys
        raise ValueError("not a conversation key")
    return key


class ConversationKeyConverter:
    """`<conversation_key:key>`: the view gets the stored key back."""

    regex = SEGMENT_REGEX

    def to_python(self, value: str) -> str:
        return key_from_segment(value)

    def to_url(self, value: str) -> str:
        return key_to_segment(value)

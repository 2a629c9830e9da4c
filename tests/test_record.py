"""gateway.record: the logged path keeps no credential from the query string."""

from __future__ import annotations

import pytest

from gateway.record import logged_path


@pytest.mark.parametrize(
    ("query", "logged"),
    [
        ("", "/v1/messages"),
        ("beta=true", "/v1/messages?beta=true"),
        ("key=sk-1", "/v1/messages?key=%5Bredacted%5D"),
        ("beta=true&api_key=sk-1", "/v1/messages?beta=true&api_key=%5Bredacted%5D"),
        ("access_token=t", "/v1/messages?access_token=%5Bredacted%5D"),
        ("cookie=c", "/v1/messages?cookie=%5Bredacted%5D"),
        ("%6Bey=sk-1", "/v1/messages?key=%5Bredacted%5D"),  # an encoded name is decoded first
        ("KEY=sk-1", "/v1/messages?KEY=%5Bredacted%5D"),
    ],
)
def test_it_redacts_values_of_credential_like_names(query, logged):
    assert logged_path("/v1/messages", query) == logged

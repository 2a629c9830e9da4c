"""Pytest fixtures for the fakes (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.upstream import FakeUpstream


@pytest.fixture
def fake_upstream() -> Iterator[FakeUpstream]:
    """A running FakeUpstream for one test; stopped (thread joined) afterwards."""
    with FakeUpstream() as fake:
        yield fake

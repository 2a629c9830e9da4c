"""Test doubles for Switchboard's tests: fake LLM providers served over real HTTP."""

"""End-to-end support for tests that drive the real Claude Code CLI (see test_claude_code_cli)."""

"""The agent catalogue (agents/), its rendering into Claude Code, and its registration."""

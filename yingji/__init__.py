"""The yingji program: the composition root that joins bot/ (the core) and commands/ (the Slack surface)."""

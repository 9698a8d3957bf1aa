"""Alerts from monitoring become incidents: `payloads` reads and maps what monitoring sends, `store` opens
one incident per key and records each alert on its timeline."""

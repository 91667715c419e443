"""The embedded target: SQLite queues and table, the HTTP gateway, pollers and the supervisor."""

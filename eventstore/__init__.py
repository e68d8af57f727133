"""PostgreSQL persistence: the schema's migrations, connections, and (next) the event store."""

"""PostgreSQL advisor: slow queries, column-level missing indexes, unused/duplicate indexes, bloat and health."""

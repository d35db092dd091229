"""What every capability builds on: the client factory, clock, errors, contracts, the shared ports
(metrics, documents, credentials, notifications, events, RDS) with their AWS adapters and in-memory
fakes, PostgreSQL helpers, Powertools wiring and the plugin registry.

Capabilities import from here and never from each other.
"""

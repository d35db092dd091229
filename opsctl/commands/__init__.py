"""One module per opsctl command group; each exposes ``register(subparsers)``."""

"""ChurnGuard Ops shared library, shipped to every function as the `ops` Lambda layer.

``core`` holds what every capability builds on (ports, AWS adapters, errors, contracts); each
capability package (``backup``, ``drill``, ...) depends on ``core`` and never on another capability.
Nothing here creates a client at import time.
"""

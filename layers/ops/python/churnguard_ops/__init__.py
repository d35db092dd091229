"""ChurnGuard Ops shared library, shipped to every function as the `ops` Lambda layer.

Domain logic lives behind small ports (see each capability's ``ports.py``); AWS adapters translate
``botocore`` errors into :mod:`churnguard_ops.errors`. Nothing here creates a client at import time.
"""

MARKER_TAG = "CreatedBy"
MARKER_VALUE = "churnguard-ops"

"""KMS keys without an RSA key pair each: moto 5.2 generates a 2048-bit RSA private key for every key it
creates, symmetric ones included, where it is never used (only asymmetric keys sign or verify). That took
0.1-1.6 s per key, ~10 s of the ~30 s an embedded AWS took to deploy the app's six CMKs on a loaded
2-core machine. Here the pair is generated the first time something uses it, so an asymmetric key
behaves exactly as before and a symmetric one never pays for it.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["install"]

_installed = False
_lock = threading.Lock()


class _PrivateKeyOnFirstUse:
    def __init__(self, generate: Any, key_spec: str) -> None:
        self._generate, self._key_spec = generate, key_spec
        self._key: Any = None
        self._key_lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        with self._key_lock:
            if self._key is None:
                self._key = self._generate(self._key_spec)
        return getattr(self._key, name)


def install() -> None:
    """Make moto's KMS generate each key pair on first use (idempotent, process-wide)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.kms import models

        generate = models.generate_private_key
        models.generate_private_key = lambda key_spec: _PrivateKeyOnFirstUse(generate, key_spec)  # type: ignore[assignment]
        _installed = True

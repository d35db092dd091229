"""Memory (GiB) of RDS instance classes, to turn FreeableMemory into a percentage used.

From the RDS instance class table (AWS documentation, "DB instance class types: hardware specifications").
A class missing here makes the memory metric of that instance "unknown class" in the results, never a guess.
"""
from __future__ import annotations

_BURSTABLE = {"micro": 1, "small": 2, "medium": 4, "large": 8, "xlarge": 16, "2xlarge": 32}
#: GiB per ``large`` of the standard (m) and memory-optimised (r) families; sizes scale linearly.
_PER_LARGE = {"m5": 8, "m6g": 8, "m6i": 8, "m7g": 8, "m6gd": 8, "r5": 16, "r6g": 16, "r6i": 16, "r7g": 16,
              "r6gd": 16}
_SIZES = {"large": 1, "xlarge": 2, "2xlarge": 4, "4xlarge": 8, "8xlarge": 16, "12xlarge": 24, "16xlarge": 32,
          "24xlarge": 48}

MEMORY_GIB: dict[str, float] = {
    **{f"db.{family}.{size}": float(gib) for family in ("t3", "t4g") for size, gib in _BURSTABLE.items()},
    **{f"db.{family}.{size}": float(gib * factor) for family, gib in _PER_LARGE.items()
       for size, factor in _SIZES.items()},
}


def memory_bytes(instance_class: str) -> float | None:
    gib = MEMORY_GIB.get(instance_class)
    return gib * 2 ** 30 if gib is not None else None

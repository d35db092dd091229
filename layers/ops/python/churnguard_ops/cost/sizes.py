"""EC2 and RDS size ladders: the next size down of an instance type or DB instance class.

A type is ``<family>.<size>`` (``m5.xlarge``), a DB class ``db.<family>.<size>`` (``db.r5.2xlarge``). Each
family offers its own sizes (``m5`` starts at ``large``, ``c5`` jumps from ``4xlarge`` to ``9xlarge``, the
burstable ``t`` families go down to ``nano``), so the next size down is the next smaller size *the family
offers*, or None where there is none (``m5.large``, ``t3.nano``, any ``metal``). Families not in the table
use the doubling ladder from ``large`` up (``large``, ``xlarge``, ``2xlarge``, ``4xlarge``, ``8xlarge``,
``16xlarge``): a guess the price book then confirms (no price for the smaller size, no recommendation).

``size_units`` is AWS's normalization factor (small = 1, large = 4, xlarge = 8, Nxlarge = 8N): a size is
"xlarge or larger" when its units are at least 8.
"""
from __future__ import annotations

import re

_SMALL = {"nano": 0.25, "micro": 0.5, "small": 1.0, "medium": 2.0, "large": 4.0, "xlarge": 8.0}
_NXLARGE = re.compile(r"^(\d+)xlarge$")

_BURSTABLE = ("nano", "micro", "small", "medium", "large", "xlarge", "2xlarge")
_STANDARD = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge",
             "48xlarge")
_GRAVITON = ("medium",) + _STANDARD[:-2]  # m6g.medium .. m6g.16xlarge
_GENERIC = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge")

#: Sizes per family (EC2 and RDS share family names; RDS offers a subset, checked by the price book).
FAMILY_SIZES: dict[str, tuple[str, ...]] = {
    **{f: _BURSTABLE for f in ("t2", "t3", "t3a", "t4g")},
    **{f: _STANDARD for f in ("m5", "m5a", "m5d", "m6i", "m6a", "m7i", "m7a", "r5", "r5a", "r5d", "r6i", "r6a",
                              "r7i", "c6i", "c6a", "c7i", "c7a")},
    **{f: _GRAVITON for f in ("m6g", "m7g", "r6g", "r7g", "c6g", "c7g", "m6gd", "r6gd", "c6gd")},
    "m4": ("large", "xlarge", "2xlarge", "4xlarge", "10xlarge", "16xlarge"),
    "c4": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge"),
    "c5": ("large", "xlarge", "2xlarge", "4xlarge", "9xlarge", "12xlarge", "18xlarge", "24xlarge"),
    "c5a": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge"),
    "r4": ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "16xlarge"),
}


def split(instance_type: str) -> tuple[str, str, str] | None:
    """``("db.", "r5", "xlarge")`` for ``db.r5.xlarge``, ``("", "m5", "large")`` for ``m5.large``; None if
    the name is not of that shape."""
    prefix = "db." if instance_type.startswith("db.") else ""
    parts = instance_type[len(prefix):].split(".")
    if len(parts) != 2 or not all(parts):
        return None
    return prefix, parts[0], parts[1]


def size_units(instance_type: str) -> float | None:
    """The size's normalization factor (``large`` 4, ``xlarge`` 8, ``4xlarge`` 32); None for ``metal`` or
    anything unparsable."""
    parts = split(instance_type)
    if parts is None:
        return None
    size = parts[2]
    if size in _SMALL:
        return _SMALL[size]
    match = _NXLARGE.match(size)
    return 8.0 * int(match.group(1)) if match else None


def is_at_least(instance_type: str, size: str) -> bool:
    """``instance_type``'s size is ``size`` or larger (``is_at_least("m5.2xlarge", "xlarge")``)."""
    units, floor = size_units(instance_type), size_units(f"x.{size}")
    return units is not None and floor is not None and units >= floor


def next_size_down(instance_type: str) -> str | None:
    """The next smaller size of the same family (``m5.xlarge`` -> ``m5.large``, ``db.t3.small`` ->
    ``db.t3.micro``), or None where the family has none."""
    parts = split(instance_type)
    if parts is None:
        return None
    prefix, family, size = parts
    ladder = FAMILY_SIZES.get(family, _GENERIC)
    if size not in ladder:
        return None
    index = ladder.index(size)
    return f"{prefix}{family}.{ladder[index - 1]}" if index > 0 else None


def sizes_down(instance_type: str, steps: int) -> str | None:
    """``steps`` sizes smaller (``sizes_down("m5.2xlarge", 2) == "m5.large"``), or None if the ladder ends
    before."""
    current: str | None = instance_type
    for _ in range(steps):
        current = next_size_down(current) if current else None
    return current if steps > 0 else None

"""Vulnerability management: one ledger of findings from every scanner, SLA clocks, exceptions that expire."""

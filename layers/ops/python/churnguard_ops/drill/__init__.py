"""Restore drills: restore a backup to a temporary instance, prove it with SQL, measure, clean up, report."""

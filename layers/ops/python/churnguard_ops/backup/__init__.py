"""Scheduled backups: RDS snapshots with retention and DR copies, configuration and app-data backups."""

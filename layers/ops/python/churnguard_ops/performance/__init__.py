"""Performance: CloudWatch thresholds graded by severity, deduplicated alerts, and reports over any window."""

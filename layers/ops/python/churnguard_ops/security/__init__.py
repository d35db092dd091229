"""Security event analysis: exact, event-time detections over application and CloudTrail events."""

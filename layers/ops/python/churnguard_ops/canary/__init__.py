"""Canary gates: shift a Lambda alias to a new version step by step, judged on CloudWatch evidence."""

"""The one client factory honours AWS_MAX_ATTEMPTS (the embedded AWS sets 3; 7 otherwise: the call and 6 retries)."""
from __future__ import annotations

import pytest

from churnguard_ops.core import aws


@pytest.mark.parametrize(("value", "expected"), [(None, 7), ("3", 3), ("1", 1), ("0", 7), ("-2", 7), ("many", 7)])
def test_max_attempts_comes_from_aws_max_attempts_when_it_is_a_whole_number_of_at_least_one(monkeypatch, value,
                                                                                            expected):
    if value is None:
        monkeypatch.delenv("AWS_MAX_ATTEMPTS", raising=False)
    else:
        monkeypatch.setenv("AWS_MAX_ATTEMPTS", value)
    assert aws.max_attempts() == expected


def test_clients_are_made_with_that_many_attempts_in_adaptive_mode(monkeypatch):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "4")
    for name, value in (("AWS_DEFAULT_REGION", "us-east-1"), ("AWS_ACCESS_KEY_ID", "testing"),
                        ("AWS_SECRET_ACCESS_KEY", "testing")):  # no credential lookup (it would open sockets)
        monkeypatch.setenv(name, value)
    aws.reset_clients()
    try:
        retries = aws.client("sqs", "us-east-1").meta.config.retries
    finally:
        aws.reset_clients()
    assert retries["mode"] == "adaptive"
    assert retries["total_max_attempts"] == 4  # botocore's total: the first call included

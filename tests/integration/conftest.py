"""Fixtures shared by the integration tests."""
from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from churnguard_ops.core import aws
from opsctl.local.kms_keys import install as generate_kms_key_pairs_on_first_use

REGION = "us-east-1"


@pytest.fixture(scope="session", autouse=True)
def _kms_keys_without_unused_rsa_pairs() -> None:
    """moto makes an RSA pair for every KMS key, symmetric ones too: made on first use instead (see the module)."""
    generate_kms_key_pairs_on_first_use()


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto in-process with dummy credentials, and our client factory emptied before and after."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    aws.reset_clients()
    with mock_aws():
        yield
    aws.reset_clients()

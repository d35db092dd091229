"""Fixtures shared by the integration tests."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from churnguard_ops.core import aws, contracts
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


def create_vuln_ledger_table(dynamodb: Any, name: str) -> str:
    """The vulnerability ledger as the stack defines it: ``pk``, and the ``state``/``resource`` index."""
    state, resource = contracts.VULNS_LEDGER_STATE_ATTRIBUTE, contracts.VULNS_LEDGER_RESOURCE_ATTRIBUTE
    dynamodb.create_table(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                              for a in (contracts.VULNS_LEDGER_KEY, state, resource)],
        KeySchema=[{"AttributeName": contracts.VULNS_LEDGER_KEY, "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": contracts.VULNS_LEDGER_STATE_INDEX,
                                 "KeySchema": [{"AttributeName": state, "KeyType": "HASH"},
                                               {"AttributeName": resource, "KeyType": "RANGE"}],
                                 "Projection": {"ProjectionType": "ALL"}}])
    return name

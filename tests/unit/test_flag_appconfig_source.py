"""The AppConfig data-plane adapter: one session, the token each answer carries, a new session after a failure.

botocore's Stubber checks every request against the real API model (parameter names and types) without a socket.
"""
from __future__ import annotations

import io
from collections.abc import Iterator

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from churnguard_ops.core import aws
from churnguard_ops.core.errors import Throttled
from churnguard_ops.flags.adapters import AppConfigDataSource

SESSION = {"ApplicationIdentifier": "churnguard-ops-flags", "EnvironmentIdentifier": "production",
           "ConfigurationProfileIdentifier": "feature-flags", "RequiredMinimumPollIntervalInSeconds": 45}


def _answer(token: str, content: bytes, version: str | None = None) -> dict:
    answer = {"NextPollConfigurationToken": token, "NextPollIntervalInSeconds": 45,
              "ContentType": "application/json", "Configuration": StreamingBody(io.BytesIO(content), len(content))}
    if version:
        answer["VersionLabel"] = version
    return answer


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    client = boto3.session.Session().client("appconfigdata", region_name="us-east-1", aws_access_key_id="x",
                                             aws_secret_access_key="x")
    monkeypatch.setattr(aws, "client", lambda service, region=None: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def test_the_session_starts_once_and_each_poll_uses_the_token_the_last_answer_carried(stub: Stubber) -> None:
    stub.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, SESSION)
    stub.add_response("get_latest_configuration", _answer("t1", b'{"f": {"default": false}}', "v1"),
                      {"ConfigurationToken": "t0"})
    stub.add_response("get_latest_configuration", _answer("t2", b""), {"ConfigurationToken": "t1"})
    source = AppConfigDataSource("churnguard-ops-flags", "production", "feature-flags", 45)
    first, unchanged = source.fetch(), source.fetch()
    assert (first.content, first.version, first.poll_interval_seconds) == (b'{"f": {"default": false}}', "v1", 45)
    assert unchanged.content == b"" and unchanged.version is None


def test_a_failed_poll_forgets_the_token_and_the_next_poll_starts_a_new_session(stub: Stubber) -> None:
    stub.add_response("start_configuration_session", {"InitialConfigurationToken": "t0"}, SESSION)
    stub.add_client_error("get_latest_configuration", "ThrottlingException", http_status_code=429)
    stub.add_response("start_configuration_session", {"InitialConfigurationToken": "n0"}, SESSION)
    stub.add_response("get_latest_configuration", _answer("n1", b"{}"), {"ConfigurationToken": "n0"})
    source = AppConfigDataSource("churnguard-ops-flags", "production", "feature-flags", 45)
    with pytest.raises(Throttled, match="GetLatestConfiguration"):
        source.fetch()
    assert source.fetch().content == b"{}"


def test_the_minimum_poll_interval_asked_of_appconfig_is_at_least_15_seconds() -> None:
    assert AppConfigDataSource("a", "e", "p", 5).poll_seconds == 15

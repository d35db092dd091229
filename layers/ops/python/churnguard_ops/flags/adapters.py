"""AWS adapters of the flags library: the AppConfig data plane and EMF metrics without a service dimension."""
from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from churnguard_ops.core import aws
from churnguard_ops.core.errors import guarded
from churnguard_ops.flags.ports import Fetched

#: AppConfig refuses a shorter RequiredMinimumPollIntervalInSeconds.
MIN_POLL_SECONDS = 15


class AppConfigDataSource:
    """StartConfigurationSession once, then GetLatestConfiguration with the token each answer carries.

    A failed poll forgets the token (it may have expired: tokens live 24 hours), so the next poll starts a
    new session. The client is made on first use, never at import or construction.
    """

    def __init__(self, application: str, environment: str, profile: str, poll_seconds: int,
                 region: str | None = None) -> None:
        self.application, self.environment, self.profile = application, environment, profile
        self.poll_seconds = max(MIN_POLL_SECONDS, poll_seconds)
        self.region = region
        self._token: str | None = None

    def fetch(self) -> Fetched:
        client = aws.client("appconfigdata", self.region)
        try:
            if self._token is None:
                session = guarded("appconfigdata StartConfigurationSession", client.start_configuration_session,
                                  ApplicationIdentifier=self.application, EnvironmentIdentifier=self.environment,
                                  ConfigurationProfileIdentifier=self.profile,
                                  RequiredMinimumPollIntervalInSeconds=self.poll_seconds)
                self._token = session["InitialConfigurationToken"]
            answer = guarded("appconfigdata GetLatestConfiguration", client.get_latest_configuration,
                             ConfigurationToken=self._token)
        except Exception:
            self._token = None
            raise
        self._token = answer["NextPollConfigurationToken"]
        body = answer.get("Configuration")
        return Fetched(body.read() if body is not None else b"", answer.get("NextPollIntervalInSeconds"),
                       answer.get("VersionLabel"))


class FlagEmfMetrics:
    """MetricsSink writing one EMF line per datapoint with exactly the given dimensions.

    Powertools adds a ``service`` dimension from POWERTOOLS_SERVICE_NAME to every metric; the cohort metrics
    must carry exactly {Flag, FlagVariant} (the canary judge and the alarms select on those), so the provider is
    made with an empty service, which Powertools treats as none.
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace

    def put(self, name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
        provider = AmazonCloudWatchEMFProvider(namespace=self.namespace, service="")
        for key, dimension in dimensions.items():
            provider.add_dimension(name=key, value=dimension)
        provider.add_metric(name=name, unit=MetricUnit(unit), value=value)
        provider.flush_metrics()

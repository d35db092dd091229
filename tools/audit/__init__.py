"""Build-time security checks: the layer's lock file and ``make audit`` (bandit, pip-audit, cdk-nag, cfn-lint)."""

"""Feature flags for ChurnGuard's Lambdas: sticky rollouts and rules on AppConfig, explained and measured."""

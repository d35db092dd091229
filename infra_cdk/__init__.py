"""ChurnGuard Ops CDK app: stacks per capability plus shared constructs."""

"""opsctl: the ChurnGuard Ops operator CLI and local runtime (never shipped to Lambda)."""
import os

# aws-cdk-lib's jsii runtime prints a banner for Node 20 unless told not to; it starts on the first
# import of `constructs`, so this must be set before anything imports the CDK app.
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

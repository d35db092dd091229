"""Settings every test run needs, whoever starts pytest (make test, an IDE, a bare `pytest`)."""
import os

# aws-cdk-lib runs on jsii/Node.js; silence its Node 20 banners (set before anything imports the CDK).
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

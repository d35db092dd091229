"""Settings every test run needs, whoever starts pytest (make test, an IDE, a bare `pytest`)."""
import os

# aws-cdk-lib runs on jsii/Node.js; silence its Node 20 banners (set before anything imports the CDK).
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test``): a module's tests run on one worker, since they share module-scoped
    fixtures (an embedded AWS, a PostgreSQL); every infra test runs on one worker, since they share one CDK
    synth per session. Unit tests are spread freely."""
    import pytest

    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith("tests/infra/"):
            item.add_marker(pytest.mark.xdist_group("infra"))
        elif not path.startswith("tests/unit/"):
            item.add_marker(pytest.mark.xdist_group(path))

"""Settings every test run needs, whoever starts pytest (make test, an IDE, a bare `pytest`)."""
import os

# aws-cdk-lib runs on jsii/Node.js; silence its Node 20 banners (set before anything imports the CDK).
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

#: Where each test starts under ``make test`` (-n 2 --dist loadgroup): the longest work first, so that the
#: two workers finish together; what no prefix matches (unit tests: many, each short, each its own unit of
#: work) comes last and fills the gaps. The demo test alone takes minutes, and grows with every capability.
START_ORDER = (
    "tests/e2e/test_opsctl.py::test_demo_",
    "tests/e2e/",
    "tests/infra/",
    "tests/integration/",
)


def pytest_configure(config):
    # xdist starts groups with the most tests first unless told otherwise; START_ORDER decides instead.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def _module_fixtures(item) -> list[str]:
    """Names of the module- or package-scoped fixtures a test uses (what ties it to the other tests of its file)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    return sorted(name for name, defs in info.name2fixturedefs.items()
                  if defs and defs[-1].scope in ("module", "package"))


def _start_rank(item) -> int:
    nodeid = item.nodeid
    return next((rank for rank, prefix in enumerate(START_ORDER) if nodeid.startswith(prefix)), len(START_ORDER))


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``make test``): every infra test runs on one worker, since they share one CDK synth
    per session; an integration module's tests run on one worker, since they share module-scoped fixtures (an
    embedded AWS, a PostgreSQL). An e2e test runs opsctl in a process of its own, so it is its own unit of work
    unless it shares a module-scoped fixture (then it stays with the tests that share it). Unit tests are
    spread freely. On an xdist worker, items are then ordered by START_ORDER (stable: the order within a rank
    is kept)."""
    import pytest

    for item in items:
        path = item.nodeid.split("::", 1)[0]
        if path.startswith("tests/infra/"):
            item.add_marker(pytest.mark.xdist_group("infra"))
        elif path.startswith("tests/e2e/"):
            shared = _module_fixtures(item)
            item.add_marker(pytest.mark.xdist_group(f"{path}::{','.join(shared)}" if shared else item.nodeid))
        elif not path.startswith("tests/unit/"):
            item.add_marker(pytest.mark.xdist_group(path))
    if hasattr(config, "workerinput"):  # an xdist worker (its collection is what gets scheduled); else as usual
        items.sort(key=_start_rank)

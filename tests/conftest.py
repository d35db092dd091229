"""Settings every test run needs, whoever starts pytest (make test, an IDE, a bare `pytest`)."""
import os

# aws-cdk-lib runs on jsii/Node.js; silence its Node 20 banners (set before anything imports the CDK).
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

#: Where each test starts under ``make test`` (-n 3 --dist loadgroup): the longest work first, so that the
#: workers finish together; what no prefix matches (unit tests: many, each short, each its own unit of
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


def _start_rank(item) -> int:
    nodeid = item.nodeid
    return next((rank for rank, prefix in enumerate(START_ORDER) if nodeid.startswith(prefix)), len(START_ORDER))


def _unit_of_work(nodeid: str) -> str:
    """Which tests run together on one worker under ``make test``: every infra test (they share one CDK synth per
    session), an integration module's tests (they share module-scoped fixtures: an embedded AWS, a PostgreSQL);
    an e2e test runs opsctl in a process of its own and a unit test is short, so each is its own unit of work."""
    path = nodeid.split("::", 1)[0]
    if path.startswith("tests/infra/"):
        return "infra"
    if path.startswith("tests/integration/"):
        return path
    return nodeid


def pytest_xdist_make_scheduler(config, log):
    """Schedule by :func:`_unit_of_work`. (``--dist loadgroup`` cannot: pytest-xdist 3.8 marks a group by
    rewriting ``item._nodeid``, which pytest 9 no longer reads, so every test was scheduled on its own and module
    fixtures ran on both workers.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnitOfWork(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of_work(nodeid)

    return ByUnitOfWork(config, log)


def pytest_collection_modifyitems(config, items):
    """On an xdist worker (its collection is what gets scheduled), order the items by START_ORDER (stable: the
    order within a rank is kept), so the longest work starts first."""
    if hasattr(config, "workerinput"):
        items.sort(key=_start_rank)

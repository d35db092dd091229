# The two commands (see README): `make demo` and `make test`. Each sets itself up on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: setup demo test test-unit lint bench synth audit lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml layers/ops/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# --no-compile: bytecode is written on first import, for what runs, instead of for every installed file.
	$(BIN)/python -m pip install --quiet --no-compile -e '.[dev]'
	@# No PostgreSQL server binaries on this machine: use the self-contained PyPI build instead.
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
		|| $(BIN)/python -m pip install --quiet pgserver
	@command -v node >/dev/null 2>&1 || { echo "Node.js (18+) is required by aws-cdk-lib (jsii): apt-get install nodejs" >&2; exit 1; }
	@# The cost report's browser test opens the HTML page in a headless Chromium from the OS packages.
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium) || echo "chromium not installed: the browser test will be skipped"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/opsctl demo --out out/demo

# Three workers on two cores: much of the suite waits (canary and flag bakes, the demo, embedded servers), so a
# third worker overlaps the waits (integration alone: 302 s with two, 267 s with three). tests/conftest.py
# schedules the tests that share a fixture together (its own xdist scheduler) and starts the longest work first.
test: lint
	$(BIN)/python -m pytest -n 3 --dist loadgroup

# Static checks (also part of `make test`): lint + import order, layering contracts, types of the
# layer, the CDK app and the test fakes (typed against the ports they stand in for).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/mypy layers/ops/python/churnguard_ops infra_cdk tests/unit/fakes.py tests/unit/drill_fakes.py tests/unit/canary_fakes.py tests/unit/security_fakes.py tests/unit/security_report_fakes.py tests/unit/cost_fakes.py tests/unit/performance_fakes.py tests/unit/dbadvisor_fakes.py tests/unit/incidents_fakes.py tests/unit/alarms_fakes.py tests/unit/flags_fakes.py tests/unit/vulns_fakes.py

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

bench: $(STAMP)
	$(BIN)/python bench/import_time.py
	$(BIN)/python bench/drill.py
	$(BIN)/python bench/canary.py
	$(BIN)/python bench/security.py
	$(BIN)/python bench/security_pipeline.py
	$(BIN)/python bench/cost_api_calls.py
	$(BIN)/python bench/embedded_postgres.py
	$(BIN)/python bench/perf_api_calls.py

synth: $(STAMP)
	$(BIN)/python -m infra_cdk.app

# Build-time security checks into out/audit/: bandit (layer + handlers), pip-audit (the layer's lock), cdk-nag and
# cfn-lint (the synthesized app), summary.md/json. Fails on an unscoped or expired entry of
# vulnerability-exceptions.toml or a lock out of date with layers/ops/requirements.txt; findings are reported.
audit: $(STAMP)
	$(BIN)/python -m tools.audit.run --out out/audit

# layers/ops/requirements.lock from layers/ops/requirements.txt, resolved for the layer's platform (Lambda arm64,
# the functions' Python); the layer installs exactly the lock.
lock: $(STAMP)
	$(BIN)/python -m tools.audit.lock

clean:
	rm -rf $(VENV) cdk.out .opsctl out

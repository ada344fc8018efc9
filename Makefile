# The two commands of the README, the quick loop for working on the code, and a long walk.
.PHONY: run test check lint walk contention setup setup-test

run: setup  ## set up, then serve the app on http://localhost:8501
	.venv/bin/streamlit run app.py

test: setup-test lint  ## set up, then run the whole test suite (browser tests included), as CI does
	.venv/bin/python -m pytest

check: setup-test lint  ## the fast tier while working: no real model, no browser (under a minute)
	.venv/bin/python -m pytest -m "not slow" -q

lint:  ## style and types (ruff, mypy), configured in pyproject.toml
	.venv/bin/ruff check mlsd ui pages app.py tests benchmarks
	.venv/bin/mypy

# A long random walk through the app in a real browser (tests/walk.py); a seed replays it exactly.
#   make walk SEED=123 STEPS=500 VIEWPORT=phone     (no SEED: a random one, printed)
STEPS ?= 200
VIEWPORT ?= desktop
walk: setup-test  ## set up, then walk the app at random in headless Chromium and report any crash
	.venv/bin/python -m tests.walk $(if $(SEED),--seed $(SEED)) --steps $(STEPS) --viewport $(VIEWPORT) $(WALK_ARGS)

# Two tabs ticking boxes while a backup is restored in a loop, RUNS times (a known defect, issue #10).
RUNS ?= 6
contention: setup-test  ## set up, then repeat the lost-click test and count the runs that lose a click
	@fails=0; for i in $$(seq $(RUNS)); do MLSD_CONTENTION=1 .venv/bin/python -m pytest -q -p no:cacheprovider \
	    tests/test_browser_contention.py || fails=$$((fails+1)); done; echo "$$fails of $(RUNS) runs lost a click"

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

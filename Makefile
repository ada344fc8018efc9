# The two commands of the README.
.PHONY: run test walk setup setup-test

run: setup  ## set up, then serve the app on http://localhost:8501
	.venv/bin/streamlit run app.py

test: setup-test  ## set up, then run the whole test suite (browser tests included)
	.venv/bin/python -m pytest

# A long random walk through the app in a real browser (tests/walk.py); a seed replays it exactly.
#   make walk SEED=123 STEPS=500 VIEWPORT=phone     (no SEED: a random one, printed)
STEPS ?= 200
VIEWPORT ?= desktop
walk: setup-test  ## set up, then walk the app at random in headless Chromium and report any crash
	.venv/bin/python -m tests.walk $(if $(SEED),--seed $(SEED)) --steps $(STEPS) --viewport $(VIEWPORT) $(WALK_ARGS)

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

# The two commands of the README, and the quick loop for working on the code.
.PHONY: run test check lint setup setup-test

run: setup  ## set up, then serve the app on http://localhost:8501
	.venv/bin/streamlit run app.py

test: setup-test lint  ## set up, then run the whole test suite (browser tests included), as CI does
	.venv/bin/python -m pytest

check: setup-test lint  ## the fast tier while working: no real model, no browser (under a minute)
	.venv/bin/python -m pytest -m "not slow" -q

lint:  ## style and types (ruff, mypy), configured in pyproject.toml
	.venv/bin/ruff check mlsd ui pages app.py tests benchmarks
	.venv/bin/mypy

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

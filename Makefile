# The two commands of the README.
.PHONY: run test setup setup-test

run: setup  ## set up, then serve the app on http://localhost:8501
	.venv/bin/streamlit run app.py

test: setup-test  ## set up, then run the whole test suite (browser tests included)
	.venv/bin/python -m pytest

setup:
	scripts/setup.sh

setup-test:
	scripts/setup.sh --test

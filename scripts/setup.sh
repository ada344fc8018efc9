#!/usr/bin/env bash
# Set up the project on a fresh machine: a virtualenv in .venv with everything pinned.
#   scripts/setup.sh          the app and the library
#   scripts/setup.sh --test   plus the test tools and Debian's Chromium for the browser tests
set -euo pipefail
cd "$(dirname "$0")/.."

with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv

# Reinstall only when the pinned requirements changed since the last setup.
stamp=".venv/.mlsd-installed-$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)-$with_tests"
if [ ! -e "$stamp" ]; then
    .venv/bin/pip install --quiet --upgrade pip
    # The CPU build of torch lies on this machine's disk; installing it first keeps
    # sentence-transformers from pulling a multi-GB CUDA build.
    .venv/bin/pip install --quiet torch==2.13.0
    if [ "$with_tests" = 1 ]; then
        .venv/bin/pip install --quiet -c constraints.txt -e ".[test]"
    else
        .venv/bin/pip install --quiet -c constraints.txt -e .
    fi
    rm -f .venv/.mlsd-installed-*
    touch "$stamp"
fi

if [ "$with_tests" = 1 ] && ! command -v chromium >/dev/null 2>&1; then
    # Playwright's own browser download cannot work here: use Debian's Chromium.
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

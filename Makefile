# Two entry points: `make run` (the daily job on the tiny world) and `make test`.
PY      := .venv/bin/python
STAMP   := .venv/.installed
AS_OF   ?= 2025-12-31
CHROMIUM := /usr/bin/chromium
# Root installs system packages directly; anyone else through sudo.
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export LEADGRAPH_HOME ?= $(CURDIR)/var

.PHONY: run test lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || python3.11 -m venv .venv
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	test -d "$(LEADGRAPH_HOME)/landing" || .venv/bin/leadgraph simulate
	.venv/bin/leadgraph run --as-of $(AS_OF)

# The lead desk's browser tests drive Debian's Chromium (nothing downloads a browser of its own).
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# Two workers; a test file stays on one worker so its module fixtures are built once.
test: $(STAMP) $(CHROMIUM)
	.venv/bin/pytest -q -n 2 --dist loadfile

lock: $(STAMP)
	$(PY) -m pip install --quiet -r requirements.in
	$(PY) -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf var

# gpuguard: `make test` and `make demo` work on a fresh Debian 12 machine with Python 3.11+, gcc and apt.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GPUGUARD := $(VENV)/bin/gpuguard
STAMP := $(VENV)/.installed
DEBIAN_TOOLS := /usr/bin/prometheus /usr/bin/promtool /usr/bin/prometheus-alertmanager /usr/bin/amtool /usr/bin/jsonnetfmt /usr/bin/systemd-analyze
PYTEST_ARGS ?=

.PHONY: all venv driver tools test lint render demo bench clean

all: venv driver

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

# The simulated driver, compiled against NVIDIA's nvml.h from the pinned nvidia-nvml-dev wheel.
driver: $(STAMP)
	$(MAKE) -C simulator PYTHON=$(abspath $(PY))

# Debian's Prometheus 2.42, Alertmanager 0.25 and jsonnetfmt, installed only when missing.
tools:
	@missing=""; for f in $(DEBIAN_TOOLS); do [ -x $$f ] || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: prometheus prometheus-alertmanager jsonnet systemd"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	    prometheus prometheus-alertmanager jsonnet systemd >/dev/null; \
	fi

test: venv driver tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .

render: venv
	$(PY) -m gpuguard.render

demo: venv driver tools
	$(GPUGUARD) demo

bench: venv driver
	$(PY) benchmarks/exporter_scrape.py

clean:
	$(MAKE) -C simulator clean
	rm -rf $(VENV) demo-report .pytest_cache

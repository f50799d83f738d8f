# rlvr-stack: `make demo` and `make test` are all a newcomer needs.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install system-deps k8s-tools demo demo-train test test-fast lint bench serve clean fresh-machine

install: $(STAMP) | system-deps

# bubblewrap, the sandbox languages, python3-venv and a running Redis: installed as root, else the command to run
system-deps:
	@bash scripts/system-deps.sh

$(STAMP): requirements.lock tests/requirements-peers.txt pyproject.toml clients/pyproject.toml sandbox/pyproject.toml trainer/pyproject.toml | system-deps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps lm-eval==0.4.13
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e clients -e sandbox -e trainer -e .
	# the peers' own client code for tests/test_compat_*.py, without their dependencies, outside site-packages
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --upgrade --target $(VENV)/peers \
		-r tests/requirements-peers.txt
	@touch $(STAMP)
	@echo "installed: $(VENV)/bin/rlvr"

# helm and kubectl for the Helm chart's tests, pinned by version and sha256 (deploy/k8s-tools.sh)
k8s-tools: $(VENV)/bin/helm

$(VENV)/bin/helm: deploy/k8s-tools.sh | $(STAMP)
	bash deploy/k8s-tools.sh $(VENV)
	@touch $@

demo: install
	$(VENV)/bin/rlvr demo

# the miniature R1 recipe: a tiny model built and pre-trained on the CPU, then the five stages (~10 min on 2 cores)
demo-train: install
	$(VENV)/bin/rlvr train --config recipes/r1-mini.yaml --run-dir runs/r1-mini --resume

test: install k8s-tools
	$(PY) -m pytest -q

test-fast: install k8s-tools
	$(PY) -m pytest -q -m "not slow"

lint: install
	$(VENV)/bin/ruff check clients services sandbox trainer tests bench deploy
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy deploy/helm/keda_simulate.py deploy/compose_smoke.py

bench: install
	$(PY) bench/bench_score.py
	$(PY) bench/bench_math.py
	$(PY) bench/bench_code.py
	$(PY) bench/bench_language.py
	$(PY) bench/bench_ifeval.py
	$(PY) bench/bench_judge.py
	$(PY) bench/bench_faults.py

serve: install
	$(VENV)/bin/rlvr serve

# the two commands above on a fresh Debian (debootstrap, a container of its own), as root; FRESH_ARGS=--help for more
fresh-machine:
	bash scripts/fresh-machine.sh $(FRESH_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

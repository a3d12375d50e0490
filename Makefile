# One entry point. `make demo` and `make test` install what they need on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch pinned: an unpinned `torch` resolves to whatever CUDA build PyPI has. torchvision is needed by the
# Qwen-family processors (their video processor); this pair lies on the project's CI machines' disk and runs
# on CPU. CPU-only without Qwen processors: TORCH_SPEC=torch==2.13.0 (a CPU wheel).
# GPU users: make install TORCH_SPEC="torch torchvision --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
# What the test suite and the demo need.
EXTRAS ?= dev,eval,report,demo,models,train,ray,culture,rate
comma  := ,
STAMP  := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))
# collect's C extractor (mella.collect._native), compiled with lexbor's sources from the pinned selectolax
# sdist (tools/lexbor_source.py); rebuilt when its source changes.
NATIVE := src/mella/collect/.native-built
export MELLA_REQUIRE_NATIVE := 1

.PHONY: install browser demo test fuzz bench lint clean

install: $(STAMP) $(NATIVE) browser

# The browser tests (report, rating app) drive Debian's chromium (no browser download); the rating app's Thai and
# Korean pages need fonts-thai-tlwg and fonts-nanum. Installed here when we are root.
browser:
	@{ command -v chromium && { ! command -v dpkg || dpkg -s fonts-nanum fonts-thai-tlwg; }; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-nanum \
	      fonts-thai-tlwg >/dev/null; \
	  else echo "note: install Debian's chromium, fonts-nanum and fonts-thai-tlwg to run the browser tests" \
	    "(skipped without chromium)"; fi; }

$(STAMP): pyproject.toml setup.py tools/lexbor_source.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python tools/lexbor_source.py
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-*
	@touch $@ $(NATIVE)

$(NATIVE): $(wildcard src/mella/collect/*.c src/mella/collect/*.h) $(STAMP)
	$(BIN)/python setup.py --quiet build_ext --inplace
	@touch $@

demo: install
	$(BIN)/python -m mella.demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The adversarial suite at length (options, pipeline files, parquet inputs, hostile names, --overwrite layouts);
# `make test` runs the same property tests with a few dozen cases each.
FUZZ_EXAMPLES ?= 5000
fuzz: install
	MELLA_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider -m fuzz tests/reliability $(PYTEST_ARGS)

bench: install
	@set -e; for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b; done

lint: install
	$(BIN)/ruff check src tests bench

clean:
	rm -rf runs .pytest_cache .ruff_cache

# Everything a fresh machine needs: `make demo` (set up + the side-by-side comparison on
# bundled data) and `make test` (set up + the default test run). See README "Quick start".
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed
OUT     ?= hiermix-report
PYTEST_ARGS ?=

.PHONY: setup demo test test-slow test-casestudies lint docs bench clean

$(STAMP): pyproject.toml
	@PYBOOT=$$(scripts/find-python) && echo "using $$PYBOOT" && \
	  { [ -x $(PY) ] || $$PYBOOT -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/hiermix compare "Reaction ~ Days + (Days | Subject)" \
	  --data hiermix/datasets/sleepstudy.csv --out $(OUT) --overwrite

# pytest exits 5 when it collects nothing: that is not a failure of the code.
test: $(STAMP)
	@$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

# Every case study end to end with few draws (HIERMIX_CASESTUDY_DRAWS, default 250).
test-casestudies: $(STAMP)
	$(PY) -m pytest -q -m casestudy tests/test_case_studies.py $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check hiermix tests benchmarks
	$(VENV)/bin/mypy hiermix

# The site, strict: its hooks (docs/hooks/) copy MathJax from the docs extra into the site,
# write the CLI reference from the parser, and fail the build on a literal Sphinx role or an
# asset loaded from another host.
docs: $(STAMP)
	$(PY) -m pip install --quiet -e ".[docs]"
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[bench]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(OUT) site

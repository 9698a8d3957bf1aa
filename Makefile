# Two commands for a newcomer: `make demo` and `make test`. Both install into ./.venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test serve bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/yingji demo

# One run covers both databases: tests that start the bot run as [sqlite] and [postgresql]. The PostgreSQL
# half needs YINGJI_TEST_POSTGRES_URL (.ci/run starts a throwaway server and sets it); without it, it is
# skipped and the run says so at the start and at the end.
# Before the tests, the rules: ruff (style and common bugs), lint-imports (.importlinter: yingji > commands > bot,
# and the product never imports tests or bench), mypy (mypy.ini: bot, commands and yingji type-check clean).
test: install
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/mypy
	$(BIN)/python -m pytest

serve: install
	$(BIN)/yingji serve

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache

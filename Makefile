# Two commands do all the set-up: `make run` and `make test` (see README).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint format bench venv clean screenshots

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

## Start the app, its worker and the local Hint sandbox; prints the URL to open.
run: $(STAMP)
	@$(BIN)/python scripts/dev.py

## Run the whole suite (unit, end-to-end over HTTP, and browser tests when Chromium is present).
test: $(STAMP)
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

## PNGs of every page at 1024 and 393 px wide into screenshots/ (git-ignored), for review.
screenshots: $(STAMP)
	@rm -rf screenshots
	@SCREENSHOTS_DIR=screenshots $(BIN)/python -m pytest tests/hintpartner/test_axe_browser.py
	@ls screenshots/*.png | wc -l | xargs printf "%s screenshots in screenshots/\n"

lint: $(STAMP)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports --no-cache

format: $(STAMP)
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) db.sqlite3* sandbox.sqlite3* staticfiles

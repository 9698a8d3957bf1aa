"""Packaging: every file the program reads at run time is inside a package the wheel ships.

`make test` runs on an editable install, which finds a file in the checkout even when the wheel leaves it out, so
a non-editable install (`pip install .`, a container) would fail where the tests pass. These checks are quick and
build nothing: the shipped playbooks, statement templates and migrations are found through the import system, and
pyproject's packages and package-data globs, applied as setuptools applies them, cover every file in the packages.
(.ci/run also builds the wheel, installs it into a fresh virtualenv and runs `yingji demo` outside the checkout.)
"""

from __future__ import annotations

import importlib
import tomllib
from fnmatch import fnmatchcase
from importlib.resources import files
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from bot import db, playbooks
from bot.statements import render

ROOT = Path(__file__).resolve().parent.parent
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]


def _package_dir(name: str) -> Path:
    """Where the import system finds a package: a regular one, with an __init__.py (a namespace one is not shipped)."""
    module = importlib.import_module(name)
    assert module.__file__ is not None, f"{name} is a namespace package (no __init__.py): the wheel leaves it out"
    return Path(module.__file__).resolve().parent


def _packages() -> list[str]:
    """The regular packages (with an __init__.py) of pyproject's packages.find, matched as setuptools matches them.

    Stricter than setuptools, which also finds namespace directories: here a module outside a regular package
    (bot/migrations) counts as shipped only through a package-data glob, which pyproject gives it.
    """
    found = SETUPTOOLS["packages"]["find"]
    names = []
    for top in ROOT.iterdir():
        if top.name.startswith(".") or not (top / "__init__.py").is_file():
            continue
        for init in [top / "__init__.py", *top.rglob("*/__init__.py")]:
            parts = init.parent.relative_to(ROOT).parts
            if not all((ROOT.joinpath(*parts[:i]) / "__init__.py").is_file() for i in range(1, len(parts))):
                continue  # below a directory that is no package
            name = ".".join(parts)
            if any(fnmatchcase(name, p) for p in found["include"]) and not any(
                    fnmatchcase(name, p) for p in found.get("exclude", ())):
                names.append(name)
    return sorted(names)


def _shipped() -> set[Path]:
    """Every file the wheel holds: the modules of its packages and the files their package-data globs match."""
    packages = _packages()
    shipped = {p.resolve() for name in packages for p in (ROOT / name.replace(".", "/")).glob("*.py")}
    for name, globs in SETUPTOOLS.get("package-data", {}).items():
        assert name in packages, f"package-data names {name!r}, which is not a package the wheel holds"
        base = ROOT / name.replace(".", "/")
        shipped |= {p.resolve() for pattern in globs for p in base.glob(pattern) if p.is_file()}
    return shipped


def _under(path: Path, directory: Path) -> bool:
    return path.resolve().is_relative_to(directory)


def test_playbooks_is_a_shipped_package() -> None:
    assert "playbooks" in _packages()
    assert _package_dir("playbooks") == ROOT / "playbooks"  # the top-level folder the design card asks for


def test_shipped_playbooks_and_templates_are_found_through_the_package() -> None:
    package = _package_dir("playbooks")
    assert playbooks.SHIPPED_DIR.resolve() == package == Path(str(files("playbooks"))).resolve()
    assert render.SHIPPED_DIR.resolve() == package / "templates"
    assert sorted(playbooks.SHIPPED_DIR.glob("*.yaml")), "no shipped playbooks found"
    assert sorted(render.SHIPPED_DIR.glob("*.j2")), "no shipped statement templates found"


def test_migrations_are_found_through_the_bot_package() -> None:
    bot_dir = _package_dir("bot")
    assert db.MIGRATIONS_DIR.resolve() == bot_dir / "migrations"
    scripts = ScriptDirectory.from_config(db.alembic_config("sqlite:///:memory:"))
    assert _under(Path(scripts.dir), bot_dir)
    revisions = list(scripts.walk_revisions())
    assert revisions, "no migrations found"
    shipped = _shipped()
    needed = [Path(scripts.dir) / "env.py", Path(scripts.dir) / "script.py.mako"] + [Path(r.path) for r in revisions]
    missing = [str(p.relative_to(ROOT)) for p in needed if p.resolve() not in shipped]
    assert not missing, f"migration files the wheel leaves out: {missing}"


def test_every_file_in_the_packages_is_shipped() -> None:
    """A data file added to a package (a playbook, a template, a migration, a font) without a package-data glob fails."""
    shipped = _shipped()
    missing = []
    for top in sorted({name.split(".")[0] for name in _packages()}):
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo") \
                    or path.name.startswith("."):  # an editor's or a tool's leftovers
                continue
            if path.resolve() not in shipped:
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"files in the packages that the wheel leaves out (add them to package-data): {missing}"


def test_run_time_files_are_inside_shipped_packages() -> None:
    """Each directory the program reads its own files from lies inside a package the wheel holds."""
    package_dirs = [_package_dir(name) for name in _packages()]
    for directory in (playbooks.SHIPPED_DIR, render.SHIPPED_DIR, db.MIGRATIONS_DIR):
        assert any(_under(directory, d) for d in package_dirs), f"{directory} is outside every shipped package"


@pytest.mark.xfail(strict=True, reason="bot/sandbox/scopes.py reads slack-manifest.yml from the checkout's root; "
                   "an installed sandbox falls back to every scope it knows. Remove this mark once it is package data.")
def test_the_sandbox_reads_the_slack_manifest_from_a_package() -> None:
    from bot.sandbox import scopes

    package_dirs = [_package_dir(name) for name in _packages()]
    assert any(_under(scopes.MANIFEST, d) for d in package_dirs)

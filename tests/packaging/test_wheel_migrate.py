"""A wheel installed outside the repository carries what it needs: ``cbr-orchestrator migrate`` run from it,
in another directory, creates every table that the migrations of ``sql/`` create when applied in place.

To stay fast, the fresh virtual environment gets no pip and no dependencies of its own: the wheel is
installed into it by this interpreter's pip (``--python``), and a ``.pth`` file lends it this environment's
site-packages for the dependencies. The ``.pth`` files inside a directory that a ``.pth`` file adds are not
read, so the editable install of the repository stays out of sight (which the test checks).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import asyncpg
import pytest
from pg_databases import database, unique_name

from orchestrator.store import run_migrations

REPO = Path(__file__).resolve().parents[2]
BUILT_FROM = ("pyproject.toml", "setup.py", "README.md", "orchestrator", "cbr_emulator", "sql")
QUERIES = "orchestrator/store/queries"
LEFT_OUT = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist")


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("CBR_ORCH_", "PYTHON"))}
    environment.update(env or {})
    done = subprocess.run(args, cwd=cwd, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the sources, so that no ``build/`` folder of the repository (stale files
    included) goes into it."""
    source, dist = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in BUILT_FROM:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=LEFT_OUT)
        else:
            shutil.copy2(REPO / name, source / name)
    run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dist, source, cwd=source)
    (built,) = dist.glob("*.whl")
    return built


def fresh_environment(tmp_path: Path, wheel: Path) -> Path:
    """A virtual environment holding the wheel, with this one's site-packages for the dependencies;
    returns its ``bin`` folder."""
    run(sys.executable, "-m", "venv", "--without-pip", tmp_path / "venv", cwd=tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python)
    run(*pip, "install", "-q", "--no-deps", "--no-index", wheel, cwd=tmp_path)
    purelib = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path)
    Path(purelib.strip(), "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python.parent


def wheel_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


async def tables(dsn: str) -> set[str]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    finally:
        await conn.close()
    return {row["tablename"] for row in rows}


def test_the_wheel_carries_its_data_files(wheel: Path) -> None:
    files = wheel_files(wheel)
    migrations = {f"orchestrator/migrations/{p.name}" for p in (REPO / "sql").glob("*.sql")}
    queries = {f"orchestrator/store/queries/{p.name}" for p in (REPO / QUERIES).glob("*.sql")}
    assert len(migrations) > 1 and len(queries) > 1
    data = {
        "orchestrator/py.typed",
        "orchestrator/cbr/operations.json",
        "cbr_emulator/py.typed",
        "cbr_emulator/data/cbr-error-codes.json",
    }
    assert migrations | queries | data <= files
    assert {f for f in files if f.startswith("orchestrator/migrations/") and f.endswith(".sql")} == migrations


async def test_migrate_from_an_installed_wheel_creates_every_table(tmp_path: Path, wheel: Path) -> None:
    bin_dir = await asyncio.to_thread(fresh_environment, tmp_path, wheel)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(bin_dir / "python", "-c", "import orchestrator; print(orchestrator.__file__)", cwd=elsewhere)
    assert Path(where.strip()).is_relative_to(tmp_path / "venv"), where
    async with database(unique_name("wheel")) as from_wheel, database(unique_name("inplace")) as in_place:
        env = {"CBR_ORCH_DATABASE_URL": from_wheel}
        out = await asyncio.to_thread(run, bin_dir / "cbr-orchestrator", "migrate", cwd=elsewhere, env=env)
        assert "applied migrations" in out, out
        await run_migrations(in_place, REPO / "sql")
        expected = await tables(in_place)
        assert "workflows" in expected
        assert await tables(from_wheel) == expected

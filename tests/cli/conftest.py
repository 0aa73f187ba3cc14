"""A fresh, migrated database per test for the command line and its views."""

from __future__ import annotations

from pg_databases import database_fixtures

template_db, dsn, store = database_fixtures("cli")

"""Alembic migrations of the cloud database (a package so that installs ship them)."""

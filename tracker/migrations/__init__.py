"""Alembic migrations, shipped inside the package so `tracker db upgrade` works anywhere."""

"""Alembic configuration built in code (no alembic.ini needed at run time)."""

from pathlib import Path

from alembic.config import Config
from sqlalchemy.engine import Connection


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    """A Config pointing at this package's migrations, bound to a connection or a URL."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config

"""The channel directory as this process is configured (the sandbox simulator's host added)."""

from functools import lru_cache
from urllib.parse import urlsplit

from platform_adapters.directory import Directory, load_directory
from tracker.settings import get_settings


@lru_cache(maxsize=1)
def directory() -> Directory:
    """The directory for the current settings."""
    sandbox_host = urlsplit(get_settings().sandbox_base_url).hostname
    return load_directory({sandbox_host: "sandbox"} if sandbox_host else {})

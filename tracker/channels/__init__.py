"""Channels: the directory of where reports go, and the credentials each channel uses."""

from functools import lru_cache
from urllib.parse import urlsplit

from platform_adapters.directory import Directory, load_directory
from tracker.settings import get_settings


@lru_cache(maxsize=1)
def directory() -> Directory:
    """The directory for the current settings (the sandbox simulator's host when it is on)."""
    settings = get_settings()
    if not settings.sandbox_enabled:
        return load_directory()
    sandbox_host = urlsplit(settings.sandbox_base_url).hostname
    return load_directory({sandbox_host: "sandbox"} if sandbox_host else {}, sandbox_enabled=True)

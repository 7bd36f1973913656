"""The channel directory: which platform a host belongs to, and which channel serves a rung."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

#: Platform of any host the directory does not know.
UNKNOWN_PLATFORM = "web"


@dataclass(frozen=True, slots=True)
class ChannelRoute:
    """Where a filing at one rung goes: the adapter and its channel parameters."""

    adapter: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PlatformEntry:
    slug: str
    name: str
    domains: tuple[str, ...]
    channels: Mapping[str, ChannelRoute]
    source: str


class Directory:
    """Read-only view of ``directory.toml`` plus hosts configured at run time."""

    def __init__(self, document: Mapping[str, Any], extra_hosts: Mapping[str, str]) -> None:
        self.platforms: dict[str, PlatformEntry] = {}
        self._platform_by_domain: dict[str, str] = {}
        for slug, entry in document.get("platforms", {}).items():
            channels = {target: _route(spec) for target, spec in entry.get("channels", {}).items()}
            self.platforms[slug] = PlatformEntry(
                slug=slug,
                name=entry["name"],
                domains=tuple(entry.get("domains", ())),
                channels=channels,
                source=entry.get("source", ""),
            )
            for domain in entry.get("domains", ()):
                self._platform_by_domain[domain] = slug
        self._platform_by_domain.update(extra_hosts)
        self._intermediaries = {
            target: _route(spec) for target, spec in document.get("intermediaries", {}).items()
        }

    def platform_for_host(self, host: str) -> str:
        """The platform slug of a host (subdomains included), or ``web`` when unknown."""
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            candidate = ".".join(labels[start:])
            if candidate in self._platform_by_domain:
                return self._platform_by_domain[candidate]
        return UNKNOWN_PLATFORM

    def route(self, platform: str, target: str) -> ChannelRoute:
        """The channel for a rung target of a platform; a manual packet when none is known."""
        entry = self.platforms.get(platform)
        if entry is not None and target in entry.channels:
            return entry.channels[target]
        if target in self._intermediaries:
            return self._intermediaries[target]
        return ChannelRoute(
            adapter="manual",
            params={
                "note": f"No channel is recorded for {target} of {platform}; find it and "
                "record it in the channel directory."
            },
        )


def _route(spec: Mapping[str, Any]) -> ChannelRoute:
    params = {key: value for key, value in spec.items() if key not in ("adapter", "checked")}
    return ChannelRoute(adapter=spec["adapter"], params=params)


@lru_cache(maxsize=1)
def _document() -> Mapping[str, Any]:
    text = resources.files("platform_adapters").joinpath("directory.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_directory(extra_hosts: Mapping[str, str] | None = None) -> Directory:
    """The directory, with run-time hosts (such as the sandbox simulator's) added."""
    return Directory(_document(), dict(extra_hosts or {}))

"""The channel directory: which platform a host belongs to, and where each rung is filed."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

#: Platform of any host the directory does not know.
UNKNOWN_PLATFORM = "web"
#: Keys of a channel entry that describe it rather than parameterise its adapter.
_DESCRIPTIVE_KEYS = frozenset({"adapter", "target", "kind", "checked"})


@dataclass(frozen=True, slots=True)
class ChannelRoute:
    """Where a filing at one rung goes: the adapter, its parameters, and why (the source)."""

    adapter: str
    kind: str = "webform"
    params: Mapping[str, Any] = field(default_factory=dict)
    via: str = "platform"  # "platform", "intermediary" or "fallback"


@dataclass(frozen=True, slots=True)
class PlatformEntry:
    slug: str
    name: str
    operator: str
    domains: tuple[str, ...]
    url_patterns: tuple[str, ...]
    channels: tuple[tuple[str, ChannelRoute], ...]  # (rung target, route), escalation order
    grievance_officer: Mapping[str, Any] | None
    source: str
    checked: date | None
    confidence: str
    #: Domains whose subdomains are customers' sites (``pages.dev``): ``www.`` there is a site.
    tenant_domains: tuple[str, ...] = ()


class Directory:
    """Read-only view of ``directory.toml`` plus hosts configured at run time.

    Platforms marked ``sandbox_only`` (the local simulator) exist only with ``sandbox_enabled``:
    otherwise no host is detected as theirs, nothing routes to them and no listing shows them.
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        extra_hosts: Mapping[str, str],
        *,
        sandbox_enabled: bool = False,
    ) -> None:
        self.document = document
        self.platforms: dict[str, PlatformEntry] = {}
        self._platform_by_domain: dict[str, str] = {}
        for slug, entry in document.get("platforms", {}).items():
            if entry.get("sandbox_only", False) and not sandbox_enabled:
                continue
            self.platforms[slug] = PlatformEntry(
                slug=slug,
                name=entry["name"],
                operator=entry.get("operator", ""),
                domains=tuple(entry.get("domains", ())),
                url_patterns=tuple(entry.get("url_patterns", ())),
                channels=tuple(
                    (channel["target"], _route(channel, "platform"))
                    for channel in entry.get("channels", ())
                ),
                grievance_officer=entry.get("grievance_officer"),
                source=entry.get("source", ""),
                checked=entry.get("checked"),
                confidence=entry.get("confidence", "confirmed"),
                tenant_domains=tuple(entry.get("tenant_domains", ())),
            )
            for domain in entry.get("domains", ()):
                self._platform_by_domain[domain] = slug
        self._platform_by_domain.update(
            (host, slug) for host, slug in extra_hosts.items() if slug in self.platforms
        )
        self.intermediaries = {
            target: _route(spec, "intermediary")
            for target, spec in document.get("intermediaries", {}).items()
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
        """The channel for a rung target: the platform's own, an intermediary's, or a packet."""
        entry = self.platforms.get(platform)
        if entry is not None:
            for channel_target, route in entry.channels:
                if channel_target == target:
                    return route
        if target in self.intermediaries:
            return self.intermediaries[target]
        return ChannelRoute(
            adapter="manual",
            kind="webform",
            params={
                "note": f"No channel is recorded for {target} of {platform}; find it and "
                "record it in the channel directory."
            },
            via="fallback",
        )


def _route(spec: Mapping[str, Any], via: str) -> ChannelRoute:
    params = {key: value for key, value in spec.items() if key not in _DESCRIPTIVE_KEYS}
    return ChannelRoute(
        adapter=spec["adapter"], kind=spec.get("kind", "webform"), params=params, via=via
    )


@lru_cache(maxsize=1)
def _document() -> Mapping[str, Any]:
    text = resources.files("platform_adapters").joinpath("directory.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_directory(
    extra_hosts: Mapping[str, str] | None = None, *, sandbox_enabled: bool = False
) -> Directory:
    """The directory, with run-time hosts (such as the sandbox simulator's) added."""
    return Directory(_document(), dict(extra_hosts or {}), sandbox_enabled=sandbox_enabled)


@lru_cache(maxsize=1)
def www_folding_hosts() -> frozenset[str]:
    """Every platform domain of the directory on which ``www.<domain>`` is the same site."""
    directory = Directory(_document(), {})
    return frozenset(
        domain
        for entry in directory.platforms.values()
        for domain in entry.domains
        if domain not in entry.tenant_domains
    )

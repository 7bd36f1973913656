"""The adapters by slug: the built-in ones plus plugins registered through entry points.

A third party adds an adapter without touching this repository by declaring, in its own
package, an entry point in the group ``takedown_tracker.adapters`` that names an ``Adapter``
subclass. A plugin that fails to import, is not an ``Adapter`` or reuses a slug stops start-up
with ``PluginError``: a channel never disappears silently.

``ADAPTERS`` knows every slug, so rows that name one always resolve to a class. Which adapters are
*enabled* depends on settings: the sandbox adapter only when ``sandbox_enabled`` is on (the demo
and the tests). A disabled adapter is absent from ``enabled_adapters`` and cannot be built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from platform_adapters.aws_abuse import AwsAbuseAdapter
from platform_adapters.base import Adapter, AdapterConfig, MissingCredentialsError
from platform_adapters.cloudflare import CloudflareAdapter
from platform_adapters.email import EmailAdapter
from platform_adapters.manual import ManualAdapter
from platform_adapters.rdap_email import RdapEmailAdapter
from platform_adapters.reddit import RedditAdapter
from platform_adapters.sandbox import SandboxAdapter
from platform_adapters.telegram import TelegramAdapter
from platform_adapters.webforms.aylo import AyloWebFormAdapter
from platform_adapters.webforms.bing import BingWebFormAdapter
from platform_adapters.webforms.google_search import GoogleSearchWebFormAdapter
from platform_adapters.webforms.meta import MetaWebFormAdapter
from platform_adapters.webforms.snapchat import SnapchatWebFormAdapter
from platform_adapters.webforms.tiktok import TikTokWebFormAdapter
from platform_adapters.webforms.x import XWebFormAdapter
from platform_adapters.webforms.youtube import YouTubeWebFormAdapter
from platform_adapters.whatsapp import WhatsAppGrievanceAdapter

ENTRY_POINT_GROUP = "takedown_tracker.adapters"

#: Built into this package. Slugs are stored in filing rows: never rename one.
BUILT_IN: tuple[type[Adapter], ...] = (
    SandboxAdapter,
    EmailAdapter,
    ManualAdapter,
    # Channel adapters: RDAP fallback, e-mail channels, web-form packets.
    RdapEmailAdapter,
    TelegramAdapter,
    WhatsAppGrievanceAdapter,
    MetaWebFormAdapter,
    GoogleSearchWebFormAdapter,
    YouTubeWebFormAdapter,
    XWebFormAdapter,
    TikTokWebFormAdapter,
    SnapchatWebFormAdapter,
    AyloWebFormAdapter,
    BingWebFormAdapter,
    # Platform APIs: CDN and host abuse desks, Reddit's admin reports.
    CloudflareAdapter,
    AwsAbuseAdapter,
    RedditAdapter,
)


#: Adapters that exist only where the sandbox is enabled (``settings.sandbox_enabled``).
SANDBOX_ONLY: frozenset[str] = frozenset({SandboxAdapter.slug})


class PluginError(RuntimeError):
    """A registered adapter plugin cannot be used."""


class UnknownAdapter(LookupError):
    """No adapter is registered under this slug."""

    def __init__(self, slug: str) -> None:
        known = ", ".join(sorted(ADAPTERS))
        super().__init__(f"no adapter with slug {slug!r} (known: {known})")
        self.slug = slug


def load_adapters(
    built_in: Iterable[type[Adapter]], plugins: Iterable[EntryPoint]
) -> dict[str, type[Adapter]]:
    """The slug map of built-in adapters and plugin entry points; PluginError on any fault."""
    adapters: dict[str, type[Adapter]] = {}
    for adapter in built_in:
        adapters[adapter.slug] = adapter
    for entry_point in plugins:
        try:
            loaded = entry_point.load()
        except Exception as error:
            raise PluginError(
                f"adapter plugin {entry_point.name!r} ({entry_point.value}) failed to load: "
                f"{type(error).__name__}: {error}"
            ) from error
        if not (isinstance(loaded, type) and issubclass(loaded, Adapter)):
            raise PluginError(f"adapter plugin {entry_point.name!r} is not an Adapter subclass")
        slug = getattr(loaded, "slug", None)
        if not isinstance(slug, str) or not slug:
            raise PluginError(f"adapter plugin {entry_point.name!r} has no slug")
        if slug in adapters:
            raise PluginError(f"adapter plugin {entry_point.name!r} reuses the slug {slug!r}")
        adapters[slug] = loaded
    return adapters


ADAPTERS: dict[str, type[Adapter]] = load_adapters(BUILT_IN, entry_points(group=ENTRY_POINT_GROUP))


def adapter_class(slug: str) -> type[Adapter]:
    """The adapter class registered under ``slug``."""
    try:
        return ADAPTERS[slug]
    except KeyError:
        raise UnknownAdapter(slug) from None


def is_enabled(slug: str, settings: Any) -> bool:
    """Whether adapter ``slug`` may be used under ``settings`` (the sandbox only when enabled)."""
    return slug not in SANDBOX_ONLY or bool(getattr(settings, "sandbox_enabled", False))


def enabled_adapters(settings: Any) -> dict[str, type[Adapter]]:
    """The adapters that may be used under ``settings``, by slug."""
    return {slug: adapter for slug, adapter in ADAPTERS.items() if is_enabled(slug, settings)}


def build_config(
    slug: str, settings: Any, stored: Mapping[str, Any] | None = None
) -> AdapterConfig:
    """The typed config for adapter ``slug`` from settings and its stored credentials."""
    adapter = adapter_class(slug)
    if not is_enabled(slug, settings):
        # Missing credentials in the taxonomy: nothing is sent, the channel is disabled with an
        # alert, and storing credentials for it is refused with 422.
        raise MissingCredentialsError(
            f"the {slug} adapter is disabled; it exists only with TRACKER_SANDBOX_ENABLED=true"
        )
    return adapter.config_from(settings, stored or {})


def build_adapter(slug: str, settings: Any, stored: Mapping[str, Any] | None = None) -> Adapter:
    """A fresh adapter for ``slug``; never cached, so a credentials change applies at once."""
    return adapter_class(slug)(build_config(slug, settings, stored))

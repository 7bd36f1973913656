"""The known adapters by slug, and building a configured adapter from the tracker's settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from platform_adapters.base import Adapter, AdapterConfig
from platform_adapters.email import EmailAdapter, EmailConfig
from platform_adapters.manual import ManualAdapter, ManualConfig
from platform_adapters.sandbox import SandboxAdapter, SandboxConfig

if TYPE_CHECKING:
    from tracker.settings import Settings

# The simulator's documented public default, not a secret.
DEFAULT_SANDBOX_TOKEN = "sandbox-token"  # noqa: S105

# Slugs are stored in filing rows: never rename one.
ADAPTERS: dict[str, type[Adapter]] = {
    adapter.slug: adapter for adapter in (SandboxAdapter, EmailAdapter, ManualAdapter)
}


class UnknownAdapter(LookupError):
    """No adapter is registered under this slug."""

    def __init__(self, slug: str) -> None:
        known = ", ".join(sorted(ADAPTERS))
        super().__init__(f"no adapter with slug {slug!r} (known: {known})")
        self.slug = slug


def adapter_class(slug: str) -> type[Adapter]:
    """The adapter class registered under ``slug``."""
    try:
        return ADAPTERS[slug]
    except KeyError:
        raise UnknownAdapter(slug) from None


def build_config(slug: str, settings: Settings) -> AdapterConfig:
    """The typed config for adapter ``slug``, read from the tracker's settings."""
    adapter = adapter_class(slug)
    if adapter is SandboxAdapter:
        token = getattr(settings, "sandbox_api_token", None)
        if isinstance(token, str):
            token = SecretStr(token)
        return SandboxConfig(
            base_url=settings.sandbox_base_url,
            api_token=token or SecretStr(DEFAULT_SANDBOX_TOKEN),
            timeout_seconds=settings.outbound_timeout_seconds,
        )
    if adapter is EmailAdapter:
        return EmailConfig(
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
            timeout_seconds=settings.smtp_timeout_seconds,
            from_address=settings.organisation_email,
        )
    if adapter is ManualAdapter:
        return ManualConfig()
    # A registered adapter without a branch above is a programming error, not user input.
    raise NotImplementedError(f"no settings mapping for adapter {slug!r}")


def build_adapter(slug: str, settings: Settings) -> Adapter:
    """A fresh adapter for ``slug``, configured from the tracker's settings."""
    return adapter_class(slug)(build_config(slug, settings))

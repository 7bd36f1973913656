"""Reddit: report a post or comment to Reddit's admins through ``POST /api/report`` (OAuth).

Docs read 2026-11-23: https://www.reddit.com/dev/api#POST_api_report, https://github.com/
reddit-archive/reddit/wiki/OAuth2 and https://github.com/reddit-archive/reddit/wiki/API (rules).
Documented: a token from ``POST https://www.reddit.com/api/v1/access_token`` with HTTP Basic
``client_id:client_secret`` and ``grant_type=password`` (script apps; a report needs a user, so
app-only client credentials are not enough) answering ``{"access_token", "token_type": "bearer",
...}`` - and HTTP 200 with ``{"error": "invalid_grant"}`` for a wrong password; API calls go to
``https://oauth.reddit.com`` with ``Authorization: bearer <token>`` and a descriptive User-Agent
``<platform>:<app id>:<version> (by /u/<username>)`` (generic agents are throttled);
``/api/report`` takes form fields ``api_type=json``, ``thing_id`` (fullname: ``t3_`` post,
``t1_`` comment), ``reason``, ``site_reason``, ``other_reason`` (each <= 100 characters) and
answers ``{"json": {"errors": [[code, message, field], ...]}}``.

Assumed: admin (site-wide) reports go as ``reason=site_reason_selected`` with ``site_reason``
naming the policy, as Reddit's own web client sends them; the policy label is Reddit's report
menu entry "Non-consensual intimate media" (configurable).

No reference comes back and Reddit has no idempotency key: the receipt's reference is
``reddit:<fullname>:<idempotency_key>``, ``poll`` answers UNKNOWN (status comes from re-checks)
and a repeated call files again. One call per filing is guaranteed by the tracker, whose
filing row moves to ``filed`` by compare-and-set before a retry could run.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
from pydantic import Field, SecretStr

from platform_adapters.base import (
    Adapter,
    AdapterConfig,
    ChannelKind,
    FetchedPage,
    FilingReceipt,
    FilingRequest,
    InvalidCredentialsError,
    MissingCredentialsError,
    PermanentError,
    TransientError,
    Verdict,
)
from platform_adapters.http_transport import (
    ERROR_DETAIL_LIMIT,
    json_body,
    retry_after_seconds,
    send_request,
)

VERSION = "1.0"
BASE36_ID = re.compile(r"^[0-9a-z]{1,13}$")
FULLNAME = re.compile(r"^t[13]_[0-9a-z]{1,13}$")
TITLE_PATTERN = re.compile(r"<title[^>]*>(?P<title>.*?)</title>", re.IGNORECASE | re.DOTALL)
REMOVED_STRINGS = (
    "sorry, this post has been removed",
    "sorry, this post was deleted",
    "there doesn't seem to be anything here",
)
AGE_GATE_STRINGS = ("you must be 18+", "you must be at least eighteen", "are you over 18")
PRIVATE_STRINGS = ("private community", "this community is private")
# Strong strings count in the title, or anywhere on a short page (DOMAIN.md section 5).
SHORT_PAGE_CHARACTERS = 16_000


class RedditConfig(AdapterConfig):
    """A Reddit script app and the account it reports as."""

    token_url: str = "https://www.reddit.com/api/v1/access_token"  # noqa: S105 - a URL
    api_base: str = "https://oauth.reddit.com"
    client_id: str = Field(min_length=1)
    client_secret: SecretStr
    username: str = Field(min_length=1)
    password: SecretStr
    # Unset: ``server:takedown-tracker:<version> (by /u/<username>)``, as Reddit asks.
    user_agent: str | None = None
    site_reason: str = Field(default="Non-consensual intimate media", max_length=100)
    timeout_seconds: float = Field(default=10, gt=0)


def is_reddit_host(host: str) -> bool:
    """Whether ``host`` is reddit.com (any subdomain: www, old, new, m) or redd.it."""
    host = host.lower().rstrip(".")
    return host in ("reddit.com", "redd.it") or host.endswith(".reddit.com")


def fullname_from_url(url: str) -> str:
    """The fullname (``t3_<id>`` post, ``t1_<id>`` comment) a Reddit URL points at."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    if not is_reddit_host(host):
        raise PermanentError("not a Reddit URL")
    segments = [segment for segment in parts.path.split("/") if segment]
    if host == "redd.it" and len(segments) == 1 and BASE36_ID.match(segments[0].lower()):
        return f"t3_{segments[0].lower()}"
    lowered = [segment.lower() for segment in segments]
    if "comments" in lowered:
        index = lowered.index("comments")
        after = lowered[index + 1 :]
        if after and BASE36_ID.match(after[0]):
            # /comments/<post>/<slug>/<comment>/ or the newer /comments/<post>/comment/<comment>/
            if len(after) >= 3 and BASE36_ID.match(after[2]):
                return f"t1_{after[2]}"
            return f"t3_{after[0]}"
    if len(lowered) == 2 and lowered[0] == "gallery" and BASE36_ID.match(lowered[1]):
        return f"t3_{lowered[1]}"
    if len(lowered) >= 3 and lowered[-2] == "s":
        raise PermanentError("Reddit share link: open it once and file the URL it leads to")
    raise PermanentError("no post or comment id in this Reddit URL")


class RedditAdapter(Adapter):
    """Reports posts and comments to Reddit's admins; status comes from re-checks."""

    slug: ClassVar[str] = "reddit"
    channel_kind: ClassVar[ChannelKind] = ChannelKind.API
    config_model: ClassVar[type[AdapterConfig]] = RedditConfig
    can_poll: ClassVar[bool] = False

    config: RedditConfig

    @classmethod
    def config_from(cls, settings: Any, stored: Mapping[str, Any]) -> AdapterConfig:
        """Stored app and account credentials (only in the encrypted store)."""
        values: dict[str, Any] = {"timeout_seconds": settings.outbound_timeout_seconds}
        values.update(stored)
        required = ("client_id", "client_secret", "username", "password")
        missing = [name for name in required if not values.get(name)]
        if missing:
            raise MissingCredentialsError(f"reddit needs {', '.join(missing)}")
        return RedditConfig.model_validate(values)

    @property
    def user_agent(self) -> str:
        """The User-Agent Reddit's API rules ask for."""
        default = f"server:takedown-tracker:{VERSION} (by /u/{self.config.username})"
        return self.config.user_agent or default

    def file(self, request: FilingRequest) -> FilingReceipt:
        """Report the post or comment to Reddit's admins under the NCII policy."""
        fullname = fullname_from_url(request.url)
        token = self._access_token()
        form = {
            "api_type": "json",
            "thing_id": fullname,
            "reason": "site_reason_selected",
            "site_reason": self.config.site_reason,
        }
        headers = {"Authorization": f"bearer {token}", "User-Agent": self.user_agent}
        response = send_request(
            "POST",
            f"{self.config.api_base.rstrip('/')}/api/report",
            platform="reddit",
            timeout_seconds=self.config.timeout_seconds,
            headers=headers,
            data=form,
        )
        if response.status_code != 200:
            raise _error_for(response)
        body = json_body(response, platform="reddit")
        errors = body.get("json", {}).get("errors") if isinstance(body, dict) else None
        if errors:
            raise PermanentError(f"reddit refused the report: {_describe(errors)}", http_status=200)
        return FilingReceipt(
            channel_kind=ChannelKind.API,
            external_ref=f"reddit:{fullname}:{request.idempotency_key}",
            submitted_at=datetime.now(UTC),
            http_status=200,
        )

    def classify(self, page: FetchedPage) -> Verdict | None:
        """Reddit's removal pages, private communities and age gates; None off Reddit."""
        final = urlsplit(page.final_url or page.url)
        if not is_reddit_host(final.hostname or ""):
            return None
        body = page.body_prefix.lower().replace("\u2019", "'")
        match = TITLE_PATTERN.search(page.body_prefix)
        title = " ".join(html.unescape(match.group("title")).split()).lower() if match else ""
        searchable = body if len(page.body_prefix) <= SHORT_PAGE_CHARACTERS else title
        if page.status_code == 403 and any(text in body for text in PRIVATE_STRINGS):
            return Verdict.PRIVATE
        if final.path.startswith(("/over18", "/quarantine")) or any(
            text in searchable for text in AGE_GATE_STRINGS
        ):
            return Verdict.LOGIN_REQUIRED
        if title.startswith(("[removed", "[deleted")) or any(
            text in searchable.replace("\u2019", "'") for text in REMOVED_STRINGS
        ):
            return Verdict.REMOVED
        return None

    def _access_token(self) -> str:
        """A fresh bearer token (fetched per use: adapters keep no state between calls)."""
        response = send_request(
            "POST",
            self.config.token_url,
            platform="reddit",
            timeout_seconds=self.config.timeout_seconds,
            headers={"User-Agent": self.user_agent},
            data={
                "grant_type": "password",
                "username": self.config.username,
                "password": self.config.password.get_secret_value(),
            },
            auth=(self.config.client_id, self.config.client_secret.get_secret_value()),
        )
        if response.status_code != 200:
            raise _error_for(response)
        body = json_body(response, platform="reddit")
        if isinstance(body, dict) and body.get("error"):
            # A wrong username or password comes back as 200 with an OAuth error.
            raise InvalidCredentialsError(
                f"reddit refused the login: {body['error']}", http_status=200
            )
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise TransientError("reddit answered without an access token", http_status=200)
        return token


def _describe(errors: object) -> str:
    if not isinstance(errors, list):
        return str(errors)[:ERROR_DETAIL_LIMIT]
    parts = [
        ": ".join(str(part) for part in error[:2]) if isinstance(error, list) else str(error)
        for error in errors
    ]
    return "; ".join(parts)[:ERROR_DETAIL_LIMIT]


def _error_for(response: httpx.Response) -> Exception:
    status = response.status_code
    detail = response.reason_phrase or "no detail"
    try:
        body = response.json()
        if isinstance(body, dict):
            detail = str(body.get("message") or body.get("error") or detail)
    except ValueError:
        pass
    if status == 429 or status >= 500:
        # Reddit states its window in X-Ratelimit-Reset (seconds) when Retry-After is absent.
        retry_after = retry_after_seconds(
            response.headers.get("Retry-After") or response.headers.get("X-Ratelimit-Reset")
        )
        return TransientError(
            f"reddit answered {status}: {detail}", http_status=status, retry_after=retry_after
        )
    if status in (401, 403):
        return InvalidCredentialsError(
            f"reddit refused access ({status}): {detail}", http_status=status
        )
    return PermanentError(f"reddit answered {status}: {detail}", http_status=status)

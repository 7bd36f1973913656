"""Admins' settings: channel credentials, the organisation's webhook, the policies in force.

Credentials go through ``tracker.channels.service`` exactly as ``PUT /channel-credentials``:
validated as the adapter's pydantic config, stored encrypted, read back masked. A secret is
never sent back in a page: its input is a password field left empty, and empty keeps what is
stored. The webhook goes through the API's own model and ``webhooks.set_webhook`` (the same
address rules); a secret generated for it is shown once, on the answer to the POST.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Path, Request, Response
from pydantic import SecretStr, ValidationError

from platform_adapters.base import Adapter, AdapterConfig
from platform_adapters.registry import enabled_adapters
from tracker.api.deps import SessionDep
from tracker.channels.service import (
    delete_credentials,
    masked_config,
    save_credentials,
    stored_values,
)
from tracker.console.app import redirect
from tracker.console.context import AdminConsoleDep, Console, check_csrf
from tracker.console.i18n import N_, translations
from tracker.console.render import render
from tracker.db import utcnow
from tracker.errors import Invalid, NotFound
from tracker.notifications import webhooks
from tracker.notifications.views import WebhookSettings
from tracker.policies.service import as_policy, list_policies
from tracker.settings import get_settings

router = APIRouter()
CsrfChecked = Depends(check_csrf)
Slug = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,64}$")]

#: A refused config value, by pydantic's error type (the service prefixes "channel.").
VALUE_PROBLEMS = {
    "missing": N_("%(field)s is needed."),
    "string_too_short": N_("%(field)s is too short."),
    "string_too_long": N_("%(field)s is too long."),
    "string_pattern_mismatch": N_("%(field)s is not in the expected form."),
    "int_parsing": N_("%(field)s must be a whole number."),
    "int_from_float": N_("%(field)s must be a whole number."),
    "float_parsing": N_("%(field)s must be a number."),
    "greater_than": N_("%(field)s is too small."),
    "greater_than_equal": N_("%(field)s is too small."),
    "less_than": N_("%(field)s is too large."),
    "less_than_equal": N_("%(field)s is too large."),
    "bool_parsing": N_("%(field)s must be yes or no."),
}
WEBHOOK_PROBLEMS = {
    "url": N_("Give a full address that begins with https:// (or http://)."),
    "secret": N_("A signing secret has 32 to 200 printable characters, without spaces."),
    "webhook.destination_refused": N_(
        "Refused: this address is not a public one. Private, loopback, internal and "
        "metadata addresses are refused."
    ),
}
RUNG_TARGETS = {
    "platform": N_("The platform"),
    "grievance_officer": N_("The platform's grievance officer"),
    "host": N_("The hosting provider"),
    "cdn": N_("The CDN"),
    "registrar": N_("The domain registrar"),
    "search": N_("Search engines"),
    "regulator": N_("The regulator"),
}
DONE = {
    "saved": N_("The credentials are saved."),
    "deleted": N_("The stored credentials are deleted."),
    "webhook": N_("The webhook is saved."),
    "webhook-off": N_("The webhook is off."),
}


@dataclass(frozen=True, slots=True)
class ConfigField:
    """One field of an adapter's config as a form shows it."""

    name: str
    kind: str  # "secret", "bool", "int", "float" or "text"
    is_required: bool

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


def _field_kind(annotation: Any) -> str:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        options = [item for item in typing.get_args(annotation) if item is not type(None)]
        annotation = options[0] if len(options) == 1 else str
    if annotation is SecretStr:
        return "secret"
    if annotation is bool:
        return "bool"
    return {int: "int", float: "float"}.get(annotation, "text")


def config_fields(model: type[AdapterConfig]) -> list[ConfigField]:
    """The fields of an adapter's config model, in declaration order."""
    return [
        ConfigField(name=name, kind=_field_kind(info.annotation), is_required=info.is_required())
        for name, info in model.model_fields.items()
    ]


def _typed(kind: str, raw: str) -> Any:
    """A form value in its field's type when it reads as one; pydantic judges the rest."""
    if kind == "bool":
        return {"true": True, "false": False}.get(raw, raw)
    if kind == "int" and re.fullmatch(r"-?\d{1,18}", raw):
        return int(raw)
    if kind == "float" and re.fullmatch(r"-?\d{1,18}(\.\d{1,18})?", raw):
        return float(raw)
    return raw


def _as_text(value: Any) -> str:
    """A stored value as its form field shows it."""
    if value is None:
        return ""
    return str(value).lower() if isinstance(value, bool) else str(value)


def form_values(
    fields: list[ConfigField], form: dict[str, str], stored: dict[str, Any]
) -> dict[str, Any]:
    """The values to store: what the form gives; an empty secret keeps the stored one."""
    values: dict[str, Any] = {}
    for field in fields:
        raw = form.get(field.name, "")
        if not raw.strip():
            if field.kind == "secret" and field.name in stored:
                values[field.name] = stored[field.name]
            continue
        values[field.name] = raw if field.kind == "secret" else _typed(field.kind, raw.strip())
    return values


async def posted_form(request: Request) -> dict[str, str]:
    """The posted form's text fields (the credentials form's fields depend on the adapter)."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _gettext(console: Console) -> Any:
    return translations(console.language).gettext


def _adapter(slug: str) -> type[Adapter]:
    adapter = enabled_adapters(get_settings()).get(slug)
    if adapter is None:
        raise NotFound.one(("path", "adapter"), "no such adapter", "channel.unknown_adapter")
    return adapter


def _stored(session: SessionDep, console: Console, slug: str) -> dict[str, Any]:
    return stored_values(
        session=session, organisation_id=console.principal.organisation_id, adapter=slug
    )


def _channel_row(session: SessionDep, console: Console, slug: str) -> dict[str, Any]:
    adapter = _adapter(slug)
    stored = _stored(session, console, slug)
    return {
        "slug": slug,
        "channel_kind": adapter.channel_kind,
        "fields": config_fields(adapter.config_model),
        "stored": sorted(stored),  # the names only: values never reach a template
        "config": masked_config(settings=get_settings(), adapter=slug, values=stored),
    }


def _policies(session: SessionDep) -> list[dict[str, Any]]:
    today = utcnow().date()
    in_force: set[str] = set()
    rows = []
    for row in sorted(
        list_policies(session=session),
        key=lambda row: (row.jurisdiction, row.effective_from, row.version),
        reverse=True,
    ):
        current = row.jurisdiction not in in_force and row.effective_from <= today
        if current:
            in_force.add(row.jurisdiction)
        rows.append({"row": row, "policy": as_policy(row), "in_force": current})
    return sorted(rows, key=lambda item: item["row"].jurisdiction)


def _overview(
    request: Request,
    session: SessionDep,
    console: Console,
    *,
    done: str | None = None,
    webhook_form: dict[str, str] | None = None,
    webhook_errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    organisation_id = console.principal.organisation_id
    webhook = webhooks.get_webhook(session=session, organisation_id=organisation_id)
    return render(
        request,
        "settings/index.html",
        {
            "channels": [
                _channel_row(session, console, slug)
                for slug in sorted(enabled_adapters(get_settings()))
            ],
            "webhook": webhook,
            "webhook_form": webhook_form or {"url": webhook.url or ""},
            "webhook_errors": webhook_errors or {},
            "policies": _policies(session),
            "rung_targets": {code: _gettext(console)(text) for code, text in RUNG_TARGETS.items()},
            "done": _gettext(console)(DONE[done]) if done in DONE else None,
        },
        console=console,
        status_code=status_code,
    )


@router.get("/settings")
def settings_page(
    request: Request, session: SessionDep, console: AdminConsoleDep, done: str | None = None
) -> Response:
    """Channel credentials (masked), the webhook, and the policies in force."""
    return _overview(request, session, console, done=done)


def _channel_page(
    request: Request,
    session: SessionDep,
    console: Console,
    slug: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    channel = _channel_row(session, console, slug)
    if form is None:  # what is stored, never a secret
        secrets = {field.name for field in channel["fields"] if field.kind == "secret"}
        form = {
            name: _as_text(value)
            for name, value in _stored(session, console, slug).items()
            if name not in secrets
        }
    return render(
        request,
        "settings/channel.html",
        {
            "channel": channel,
            "form": form,
            "errors": errors or {},
            "done": _gettext(console)(DONE[done]) if done in DONE else None,
        },
        console=console,
        status_code=status_code,
    )


@router.get("/settings/channels/{adapter}")
def channel_page(
    adapter: Slug,
    request: Request,
    session: SessionDep,
    console: AdminConsoleDep,
    done: str | None = None,
) -> Response:
    """One adapter's credentials: the effective config (masked) and the form to change it."""
    return _channel_page(request, session, console, adapter, done=done)


def _value_errors(console: Console, error: Invalid, fields: list[str]) -> dict[str, str]:
    gettext = _gettext(console)
    errors: dict[str, str] = {}
    for problem in error.problems:
        field = str(problem.loc[2]) if len(problem.loc) > 2 else ""
        if field not in fields:
            errors.setdefault("_form", gettext(N_("These credentials are refused here.")))
            continue
        kind = problem.type.removeprefix("channel.")
        text = VALUE_PROBLEMS.get(kind, N_("%(field)s: this value is not accepted."))
        errors.setdefault(field, gettext(text) % {"field": field.replace("_", " ")})
    return errors


@router.post("/settings/channels/{adapter}", dependencies=[CsrfChecked])
def save_channel(
    adapter: Slug,
    request: Request,
    session: SessionDep,
    console: AdminConsoleDep,
    form: Annotated[dict[str, str], Depends(posted_form)],
) -> Response:
    """Validate and store an adapter's credentials (encrypted); 400 names a refused field."""
    channel = _channel_row(session, console, adapter)
    fields: list[ConfigField] = channel["fields"]
    values = form_values(fields, form, _stored(session, console, adapter))
    try:
        save_credentials(
            session=session,
            settings=get_settings(),
            organisation_id=console.principal.organisation_id,
            adapter=adapter,
            values=values,
            actor=console.principal.actor,
        )
    except Invalid as error:
        session.rollback()
        secrets = {field.name for field in fields if field.kind == "secret"}
        shown = {
            field.name: form.get(field.name, "") for field in fields if field.name not in secrets
        }
        errors = _value_errors(console, error, [field.name for field in fields])
        return _channel_page(
            request, session, console, adapter, form=shown, errors=errors, status_code=400
        )
    session.commit()
    return redirect(f"/settings/channels/{adapter}?done=saved", request)


@router.post("/settings/channels/{adapter}/delete", dependencies=[CsrfChecked])
def delete_channel(
    adapter: Slug, request: Request, session: SessionDep, console: AdminConsoleDep
) -> Response:
    """Forget an adapter's stored credentials (settings, if any, apply again)."""
    _adapter(adapter)
    delete_credentials(
        session=session,
        organisation_id=console.principal.organisation_id,
        adapter=adapter,
        actor=console.principal.actor,
    )
    session.commit()
    return redirect("/settings?done=deleted#channels", request)


@router.post("/settings/webhook", dependencies=[CsrfChecked])
def set_webhook(
    request: Request,
    session: SessionDep,
    console: AdminConsoleDep,
    url: Annotated[str, Form(max_length=4096)] = "",
    secret: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Set the webhook with the API's rules; a secret generated now is shown this once."""
    gettext = _gettext(console)

    def refused(problems: dict[str, str]) -> Response:  # the URL stays, never the secret
        errors = {field: gettext(text) for field, text in problems.items()}
        return _overview(
            request,
            session,
            console,
            webhook_form={"url": url},
            webhook_errors=errors,
            status_code=400,
        )

    if not url.strip():
        return refused({"url": WEBHOOK_PROBLEMS["url"]})
    try:  # the API's own model: an http(s) URL, a secret of 32 to 200 printable characters
        data = WebhookSettings.model_validate({"url": url.strip(), "secret": secret or None})
    except ValidationError as error:
        fields = {str(problem["loc"][0]) for problem in error.errors()}
        return refused(
            {field: WEBHOOK_PROBLEMS[field] for field in ("url", "secret") if field in fields}
        )
    try:
        state, generated = webhooks.set_webhook(
            session=session,
            organisation_id=console.principal.organisation_id,
            url=str(data.url),
            secret=data.secret,
            actor=console.principal.actor,
            allowlist=get_settings().outbound_allowlist,
        )
    except Invalid as error:  # an address that can never be public
        session.rollback()
        code = error.problems[0].type if error.problems else ""
        return refused({"url": WEBHOOK_PROBLEMS.get(code, WEBHOOK_PROBLEMS["url"])})
    session.commit()
    if generated is None:
        return redirect("/settings?done=webhook#webhook", request)
    return render(
        request,
        "settings/webhook_secret.html",
        {"webhook": state, "secret": generated},
        console=console,
    )


@router.post("/settings/webhook/off", dependencies=[CsrfChecked])
def webhook_off(request: Request, session: SessionDep, console: AdminConsoleDep) -> Response:
    """Turn the webhook off (its URL and secret are forgotten)."""
    webhooks.set_webhook(
        session=session,
        organisation_id=console.principal.organisation_id,
        url=None,
        secret=None,
        actor=console.principal.actor,
        allowlist=get_settings().outbound_allowlist,
    )
    session.commit()
    return redirect("/settings?done=webhook-off#webhook", request)

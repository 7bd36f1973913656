"""One router per page or area of the console."""

from importlib import import_module

from fastapi import APIRouter

#: Page modules in the order their routes are matched (each defines ``router``).
PAGES = (
    "sign_in",
    "account",
    "queue",
    "cases",
    "intake",
    "reports",
    "packets",
    "alerts",
    "notifications",
    "users",
    "settings",
    "evidence",
    "hash_bank",
    "hash_bank_forms",
    "audit",
    "dashboard",
    "exports",
    "status_links",
    "withdrawal",
)


def routers() -> list[APIRouter]:
    """Every console router."""
    return [import_module(f"tracker.console.pages.{name}").router for name in PAGES]

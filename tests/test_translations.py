"""The console's catalogs: extracted as babel.cfg says, complete, and a language is files only.

When these fail after a page changed its messages, run ``scripts/translations`` (it rewrites
``messages.pot``, updates every catalog and says how many messages are left) and translate
what it reports.
"""

from __future__ import annotations

import configparser
import io
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import check_and_call_extract_file, extract
from babel.messages.frontend import parse_keywords, parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from tracker.console import i18n
from tracker.console.render import TEMPLATES, _newstyle, environment
from tracker.console.words import Words

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "tracker" / "console"
TEMPLATE_FILE = i18n.TRANSLATIONS / "messages.pot"
DEVANAGARI = re.compile(r"[\u0900-\u097F]")
# A %-format directive: %(name)s, %d, %.1f, and the escaped %%.
DIRECTIVE = re.compile(r"%(?:\(\w+\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]")

MessageId = str | tuple[str, ...]


def mapping() -> tuple[list[tuple[str, Any]], dict[str, dict[str, Any]]]:
    """The extraction methods and options of babel.cfg."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        return parse_mapping_cfg(handle, filename="babel.cfg")


def keywords() -> dict[str, Any]:
    """The keywords babel.cfg names (one list for every section, as scripts/translations reads it).

    Passed explicitly: older Babel releases do not apply a section's ``keywords`` themselves.
    """
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "babel.cfg", encoding="utf-8")
    lists = {config[section]["keywords"] for section in config.sections()}
    assert len(lists) == 1, "babel.cfg: every section lists the same keywords"
    return parse_keywords(lists.pop().split())


def extracted_from(path: Path) -> set[MessageId]:
    """The msgids babel.cfg extracts from one file (plural messages as (singular, plural))."""
    method_map, options_map = mapping()
    found: set[MessageId] = set()
    # Only babel.cfg's keywords, as with `pybabel extract --no-default-keywords`.
    for _, _, message, _, _ in check_and_call_extract_file(
        str(path),
        method_map,
        options_map,
        callback=None,
        keywords=keywords(),
        comment_tags=(),
        strip_comment_tags=False,
        dirpath=str(ROOT),
    ):
        found.add(message if isinstance(message, str) else tuple(message))
    return found


@pytest.fixture(scope="module")
def extracted() -> set[MessageId]:
    """Every msgid in the console's code and templates, extracted in-process."""
    found: set[MessageId] = set()
    for path in sorted(CONSOLE.rglob("*")):
        if path.is_file() and path.suffix in {".py", ".html"}:
            found |= extracted_from(path)
    return found


def catalog_ids(path: Path) -> set[MessageId]:
    with path.open("rb") as handle:
        catalog = read_po(handle)
    return {message.id for message in catalog if message.id}


def shipped_catalogs() -> list[Path]:
    return sorted(i18n.TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))


def directives(text: str) -> set[str]:
    return set(DIRECTIVE.findall(text))


def test_babel_cfg_extracts_from_the_python_code_and_the_templates(
    extracted: set[MessageId],
) -> None:
    assert "Sign in" in extracted  # sign_in.html
    assert "Logged, not filed yet" in extracted  # words.py, marked with N_
    assert "%(days)d d %(hours)d h" in extracted  # words.py, through gettext


def test_the_committed_template_is_up_to_date(extracted: set[MessageId]) -> None:
    committed = catalog_ids(TEMPLATE_FILE)

    missing, stale = extracted - committed, committed - extracted
    assert not missing and not stale, (
        f"messages.pot is out of date ({len(missing)} new, {len(stale)} gone): "
        f"run scripts/translations. New: {sorted(map(str, missing))[:10]}"
    )


def test_template_messages_are_the_ones_the_pages_look_up() -> None:
    # The console's own environment (trimmed trans blocks, trim/lstrip blocks) parses each
    # template exactly as it does before rendering it: babel.cfg must agree, whitespace included.
    functions = tuple(keywords())
    for path in sorted(TEMPLATES.rglob("*.html")):
        looked_up: set[MessageId] = set()
        for _, function, message in environment.extract_translations(
            path.read_text(encoding="utf-8"), gettext_functions=functions
        ):
            strings = message if isinstance(message, tuple) else (message,)
            wanted = strings[:2] if function == "ngettext" else strings[:1]
            if all(isinstance(text, str) for text in wanted):
                looked_up.add(wanted if function == "ngettext" else wanted[0])
        assert extracted_from(path) == looked_up, path.relative_to(ROOT)


def test_trans_blocks_are_extracted_trimmed_like_the_console_renders_them() -> None:
    # Line breaks and the indentation around them become one space; other spaces stay.
    source = (
        "{% trans count=n, name=who %}\n    One case for   {{ name }}\n"
        "  {% pluralize %}\n  {{ count }} cases\n    for {{ name }}\n{% endtrans %}\n"
        "<p>\n  {% trans %}\n    Two lines,\n    one message.\n  {% endtrans %}\n</p>\n"
    )
    _, options_map = mapping()
    [jinja_options] = [
        options for pattern, options in options_map.items() if pattern.endswith(".html")
    ]
    by_babel = {
        message if isinstance(message, str) else tuple(message)
        for _, message, _, _ in extract(
            "jinja2",
            io.BytesIO(source.encode()),
            keywords=keywords(),
            options=jinja_options,
        )
    }
    at_runtime = {
        message if isinstance(message, str) else tuple(message[:2])
        for _, _, message in environment.extract_translations(source)
    }

    expected = {
        ("One case for   %(name)s", "%(count)s cases for %(name)s"),
        "Two lines, one message.",
    }
    assert by_babel == expected
    assert at_runtime == expected


@pytest.mark.parametrize("path", shipped_catalogs(), ids=lambda path: path.parent.parent.name)
def test_every_catalog_translates_every_message(path: Path, extracted: set[MessageId]) -> None:
    code = path.parent.parent.name
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=code)
    problems = []
    for message_id in sorted(extracted, key=str):
        singular = message_id if isinstance(message_id, str) else message_id[0]
        message = catalog.get(singular)
        strings = message.string if message is not None else ""
        forms = list(strings) if isinstance(strings, tuple) else [strings]
        if message is None or message.fuzzy or not all(forms):
            problems.append(f"untranslated: {singular!r}")
            continue
        if isinstance(message_id, str):
            if directives(forms[0]) != directives(message_id):
                problems.append(f"placeholders differ: {singular!r}")
        else:
            english = directives(message_id[0]) | directives(message_id[1])
            if len(forms) != catalog.num_plurals or not all(
                directives(form) <= english for form in forms
            ):
                problems.append(f"plural forms or placeholders differ: {singular!r}")
            elif not directives(message_id[1]) <= directives(forms[-1]):
                problems.append(f"placeholders differ: {singular!r}")
    assert not problems, (
        f"{code}: {len(problems)} of {len(extracted)} messages need work "
        f"(run scripts/translations, then translate {path.relative_to(ROOT)}): {problems[:15]}"
    )


def test_hindi_catalog_header() -> None:
    with (i18n.TRANSLATIONS / "hi" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle)

    assert str(catalog.locale) == "hi"
    assert catalog.plural_forms == "nplurals=2; plural=(n > 1);"


def test_the_console_offers_every_catalog_folder() -> None:
    folders = {path.name for path in i18n.TRANSLATIONS.iterdir() if path.is_dir()}

    # No half-made language: every folder holds its catalog.
    assert {path.parent.parent.name for path in shipped_catalogs()} == folders
    assert i18n.languages() == ("en", *sorted(folders - {"en"}))
    assert "hi" in i18n.languages()
    assert i18n.best_language("hi-IN,hi;q=0.9,en;q=0.8") == "hi"


def render_page(template: str, language: str, **context: Any) -> str:
    """One page as render() builds it, without a request (the sign-in pages need none)."""
    translate = i18n.translations(language)
    values: dict[str, Any] = {
        "request": None,
        "console": None,
        "csrf_token": "token",
        "language": language,
        "languages": [(code, i18n.language_name(code)) for code in i18n.languages()],
        "words": Words(translate),
        **_newstyle(translate),
    }
    return environment.get_template(template).render(**values, **context)


def test_a_page_renders_in_hindi() -> None:
    page = render_page("sign_in.html", "hi", error="wrong", next_path="/")

    assert '<html lang="hi">' in page
    assert "<title>साइन इन करें · टेकडाउन ट्रैकर</title>" in page
    assert "साइन-इन नाम या पासवर्ड सही नहीं है।" in page
    assert "लीक हुए पेज यहाँ कभी नहीं दिखाए जाते" in page
    for english in ("Sign in", "Sign-in name", "Takedown tracker", "Forgot your password"):
        assert english not in page
    assert len(DEVANAGARI.findall(page)) > 100


def test_hindi_placeholders_are_filled_and_escaped() -> None:
    translate = i18n.translations("hi")
    page = environment.from_string(
        '{{ _("due in %(time)s", time=when) }} | {{ _("overdue by %(time)s", time="<b>") }}'
    ).render(when="2 घंटे", **_newstyle(translate))
    words = Words(translate)
    now = datetime(2025, 1, 1, 12, 0)

    assert page == "2 घंटे बाकी | &lt;b&gt; की देरी"
    assert words.countdown(now - timedelta(hours=2, minutes=5), now) == "2 घंटे 5 मिनट की देरी"
    assert words.countdown(now + timedelta(days=1, hours=3), now) == "1 दिन 3 घंटे बाकी"
    assert words.state("paused") == "घड़ी रुकी है"


@pytest.fixture
def translations_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty translations folder in place of the shipped one (caches cleared around it)."""
    monkeypatch.setattr(i18n, "TRANSLATIONS", tmp_path)
    i18n.languages.cache_clear()
    i18n.translations.cache_clear()
    yield tmp_path
    i18n.languages.cache_clear()
    i18n.translations.cache_clear()


def test_a_new_language_is_a_catalog_file_only(translations_folder: Path) -> None:
    catalog = Catalog(locale="ta")
    catalog.add("Sign in", "உள்நுழைக")
    folder = translations_folder / "ta" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with (folder / "messages.po").open("wb") as handle:
        write_po(handle, catalog)

    assert i18n.languages() == ("en", "ta")
    assert i18n.best_language("ta-IN,en;q=0.5") == "ta"
    page = render_page("sign_in.html", "ta", error=None, next_path="/")
    assert '<html lang="ta">' in page
    assert "<h1>உள்நுழைக</h1>" in page
    assert "Sign-in name" in page  # not translated yet: English, never a blank

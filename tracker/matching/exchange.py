"""Bank files in the forms hash-sharing programmes read, so platforms can block re-uploads.

- ``te``: python-threatexchange's signal file (its LocalFileSignalExchangeAPI; HMA imports the
  same signals): one ``<signal_type> <signal>`` per line, signal types named as there (``pdq``,
  ``vpdq``, ``video_md5``, ``photo_md5``) plus ``sha256``.
- ``csv``: ``signal_type,signal`` with a header row; a vPDQ signal is quoted (it holds commas).

An export carries hashes and their types only: never labels, case numbers or media. An import
reads hashes only; blank lines and ``#`` comments are skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from enum import StrEnum

from tracker.errors import Invalid
from tracker.matching.bank import MAX_SIGNALS_AT_ONCE, NewSignal
from tracker.matching.models import BankEntry


class BankFormat(StrEnum):
    TE = "te"
    CSV = "csv"


MEDIA_TYPES = {
    BankFormat.TE: "text/plain; charset=utf-8",
    BankFormat.CSV: "text/csv; charset=utf-8",
}
CSV_HEADER = ("signal_type", "signal")


def export_bank(entries: Sequence[BankEntry], form: BankFormat) -> str:
    rows = [(entry.signal_type, entry.value) for entry in entries]
    if form is BankFormat.TE:
        return "".join(f"{kind} {value}\n" for kind, value in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def parse_bank(text: str, form: BankFormat, field: str = "content") -> list[NewSignal]:
    """The signals of a bank file (validated later, by the bank); Invalid names the line."""
    signals: list[NewSignal] = []
    if form is BankFormat.TE:
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, value = line.partition(" ")
            if not value.strip():
                raise Invalid.one(
                    ("body", field),
                    f'line {number}: expected "<signal_type> <signal>"',
                    "bank.import_line",
                )
            signals.append(NewSignal(kind, value.strip()))
            _bounded(signals, field)
        return signals
    reader = csv.reader(io.StringIO(text))
    for number, row in enumerate(reader, start=1):
        if not row or not "".join(row).strip() or row[0].strip().startswith("#"):
            continue
        if number == 1 and tuple(cell.strip().lower() for cell in row[:2]) == CSV_HEADER:
            continue
        if len(row) != 2:
            raise Invalid.one(
                ("body", field),
                f"line {number}: expected two columns, signal_type and signal",
                "bank.import_line",
            )
        signals.append(NewSignal(row[0], row[1]))
        _bounded(signals, field)
    return signals


def _bounded(signals: list[NewSignal], field: str) -> None:
    if len(signals) > MAX_SIGNALS_AT_ONCE:
        raise Invalid.one(
            ("body", field), f"at most {MAX_SIGNALS_AT_ONCE} hashes at once", "bank.too_many"
        )

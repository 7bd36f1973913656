"""Celery tasks: thin wrappers that take ids and call the job functions."""

from workers import jobs
from workers.celery_app import app


@app.task(name="tracker.file_filing")
def file_filing(filing_id: int) -> str:
    """Submit one filing."""
    return jobs.file_filing(filing_id)


@app.task(name="tracker.poll_filing")
def poll_filing(filing_id: int) -> str:
    """Poll the platform for one filing's status."""
    return jobs.poll_filing(filing_id)


@app.task(name="tracker.recheck_batch")
def recheck_batch(report_ids: list[int]) -> int:
    """Re-check a batch of reports."""
    return jobs.recheck_batch(report_ids)


@app.task(name="tracker.escalate_report")
def escalate_report(report_id: int) -> bool:
    """Escalate one overdue report if it is still not removed."""
    return jobs.escalate_report(report_id)


@app.task(name="tracker.deliver_notification")
def deliver_notification(delivery_id: int) -> str:
    """Send one notification delivery."""
    return jobs.deliver_notification(delivery_id)


@app.task(name="tracker.send_withdrawal")
def send_withdrawal(filing_id: int) -> str:
    """Tell one channel that a report is withdrawn."""
    return jobs.send_withdrawal(filing_id)

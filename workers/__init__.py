"""Background work: filing, polling, re-checking and escalating, on Celery or in-process."""

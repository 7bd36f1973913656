"""The victim's status link: a revocable link and PIN that show a case's progress, no more."""

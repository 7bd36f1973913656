"""The caseworker console: server-rendered pages over the same services as the API.

``app.py`` installs it into the FastAPI app; ``pages/`` holds one small router per page or
area; ``templates/``, ``static/`` and ``translations/`` ship in the package, so the console
works offline and adds a language with one translation file.
"""

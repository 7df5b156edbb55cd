"""The dashboard: a page a developer keeps open beside the client they are writing.

It shows jobs, accounts and their ledgers, the request journal, the rules and
the clock, and steers them, from plain HTML, CSS and JavaScript shipped in
``static/`` (no build step, nothing fetched from elsewhere). The page reads and
changes state only through the control API (:mod:`mock_api.routes.control`), so
it shows nothing that API does not and obeys its protection;
:mod:`mock_api.dashboard.routes` serves the files.
"""

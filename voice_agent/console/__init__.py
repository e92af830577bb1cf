"""The QA console: a web page (``/console``) over call records and recordings."""

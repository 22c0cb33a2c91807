"""gunicorn's settings module (`gunicorn -c python:backend.gunicorn_conf`, as the Procfile runs it).

Only logging: with LOG_FORMAT=json gunicorn's own lines (start-up, workers, timeouts) and its access log
are JSON objects like the application's (backend/logs.py), so a log pipeline gets one format from the web
processes. gunicorn reads this before Django starts, so LOG_FORMAT must be in the environment there (a
`.env` file is read by Django only). The plain default leaves gunicorn's own formats as they are.
"""

import os

if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    _json_stream = {"class": "logging.StreamHandler", "formatter": "json"}
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "backend.logs.JsonFormatter"}},
        "handlers": {
            "console": {**_json_stream, "stream": "ext://sys.stdout"},
            "error_console": {**_json_stream, "stream": "ext://sys.stderr"},
        },
        "root": {"level": "INFO", "handlers": ["error_console"]},
        "loggers": {
            # Not propagated: in a worker, Django's logging config gives the root logger a handler too.
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"], "propagate": False},
        },
    }

"""``stylefusion app``: a local page to mix styles with sliders, paint where each style goes and
download the full-size result.

- ``uploads``: multipart bodies read as they arrive, with a size limit;
- ``session``: the uploaded photos and style images, kept in a temporary folder the app owns;
- ``rendering``: page settings → style weights and ``StylizeOptions``, then a PNG;
- ``server``: the Starlette routes and ``serve`` (uvicorn);
- ``static/``: the page itself (plain HTML, CSS and JavaScript; no build step, works offline).

The web libraries come from the ``app`` extra; this module does not import them, so the CLI
can say how to install them instead of failing with a traceback.
"""

from __future__ import annotations

import importlib

from ..errors import ConfigError

INSTALL_HINT = 'pip install "tf_stylefusion[app]"'
# Import name → distribution name, for the message.
WEB_MODULES = {"starlette": "starlette", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}


def require_web_libraries() -> None:
    """Raise ConfigError (one sentence naming the ``app`` extra) if a web library is missing."""
    for module, dist in WEB_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError(f"stylefusion app needs the web libraries of the 'app' extra ({dist} is not "
                              f"installed): {INSTALL_HINT}") from None

"""Admin: the composition root — the web app (``admin.app.create_app``), the CLI
(``admin.cli``) and the workers (``admin.runtime``) — the only package that imports all others.

Only the settings are imported here, so that the CLI starts without loading the web stack.
"""

from admin.settings import Settings

__all__ = ["Settings"]

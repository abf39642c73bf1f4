"""``python -m lightsep``: the ``lightsep`` command, for environments whose scripts folder is
not on PATH (and for scripts that run the command with the Python they run under)."""

from .cli import run

run()

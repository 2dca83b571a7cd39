"""``python -m fidela`` is the ``fidela`` command."""

from __future__ import annotations

from fidela.cli.main import run

run()

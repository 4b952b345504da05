"""``python -m sparkify.cli``: the ``sparkify`` command."""

from sparkify.cli import main

main()

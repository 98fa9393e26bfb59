"""``python -m calsyncd`` runs the command line."""

from calsyncd.cli import main

raise SystemExit(main())

"""``python -m ociforge``."""

from .cli import main

raise SystemExit(main())

"""Names of the environment variables avemotion reads (here so the command line can name them
without importing the modules that use them)."""

from __future__ import annotations

#: The feature cache folder (see :mod:`avemotion.cache`); ``avemotion --cache-dir`` sets it.
CACHE_DIR_VAR = "AVEMOTION_CACHE_DIR"

"""The package version (read by bundles, checkpoints and ``avemotion --version``)."""

__version__ = "0.1.0"

"""Lantern core: settings, the OpenSearch client factory, the record model and the CLI."""

__version__ = "0.1.0"

"""Saved queries, alert queries in the percolator, and notifications.

Used by the portal (saved-query pages, the notifications page) and by the indexer (each
acknowledged batch is percolated at ingest). Never imports ``portal`` or ``indexer``.
"""

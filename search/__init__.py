"""Unified search: the query parser, pure query builders and the one secured executor.

* :mod:`search.parser` turns what a user typed into a small typed tree; it never
  raises on user input (malformed input degrades to a plain search with a notice).
* :mod:`search.builders` turns typed requests into OpenSearch request bodies; pure
  functions, unit-tested by comparing dicts.
* :mod:`search.gateway` is the only code that sends a query to the records index,
  and it always wraps it with :func:`search.access.secure`.
"""

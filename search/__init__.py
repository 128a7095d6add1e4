"""The query language and the one door to the records index.

* :mod:`search.parser` turns what a user typed into a small typed tree; it never
  raises on user input (malformed input degrades to a plain search with a notice).
* :mod:`search.builders` turns typed requests into OpenSearch request bodies; pure
  functions, unit-tested by comparing dicts.
* :mod:`search.urlstate` is a search page's state to and from its URL (and its query).
* :mod:`search.access` is the record-level access policy (a query filter and ``can_read``).
* :mod:`search.gateway` (:class:`~search.gateway.SecuredRecords`) is the only code that
  reads the records index; it always adds the access filter and turns engine errors into
  domain errors.
"""

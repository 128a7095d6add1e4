"""Index definitions. One module per index; field names come from ``mappings.fields``."""

"""Feed ingestion: validation, enrichment (entities, name keys) and bulk loading."""

"""Synthetic demo data (Faker en_GB; a dev extra, not a runtime dependency of the product)."""

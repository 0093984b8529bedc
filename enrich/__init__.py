"""Enrichment: which brands a mention is about, whether it is owned, its language, sentiment and reach."""

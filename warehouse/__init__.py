"""The DuckDB warehouse: schema, loads, and what analysts and the social-care team read."""

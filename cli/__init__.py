"""The `overheard` command: run a cycle through Airflow, check a config, print summaries."""

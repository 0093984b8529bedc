"""Collectors: fetch and parse public sources into mentions. They know nothing of Airflow."""

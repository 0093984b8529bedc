"""The Airflow assets Overheard's DAGs share: the warehouse, updated at the end of every collection run."""

from airflow.sdk import Asset

WAREHOUSE = Asset(name="overheard_warehouse", uri="overheard://warehouse")

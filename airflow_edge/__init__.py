"""The code outside `dags/` that needs Airflow at run time: looking up Airflow connections, and the
assets the DAGs share.

Only the DAGs and the parts that run inside Airflow tasks (alert and report delivery) import it; the
ground layer, `config`, the collectors and enrichment never do.
"""

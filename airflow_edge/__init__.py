"""The code outside `dags/` that needs Airflow at run time: looking up Airflow connections.

Only the parts that run inside Airflow tasks (alert and report delivery) import it; the ground layer,
`config`, the collectors and enrichment never do.
"""

"""The DAG that runs each collection lane (config.model.LANES), and the id its runs have in the warehouse.

What `overheard run --lane` runs, and the ids the DAG factory gives its DAGs (dags/social_listening.py).
"""

LANE_DAGS = {"full": "social_listening", "care": "care_fast_lane"}


def warehouse_run_id(lane: str, airflow_run_id: str) -> str:
    """The id a lane's run has in the warehouse (runs, mentions' last_run_id, triaged_runs) and in staging.

    Airflow's run ids are unique within a DAG only: both lanes' runs scheduled at 15:00 are
    `scheduled__<that hour>`. The hourly lane's runs keep Airflow's id; the others' start with their DAG's.
    """
    return airflow_run_id if lane == "full" else f"{LANE_DAGS[lane]}__{airflow_run_id}"

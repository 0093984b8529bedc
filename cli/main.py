"""`overheard`: run a collection cycle through Airflow, check a config, print a run summary.

    overheard run --config config/example.yaml [--lane full|care]
    overheard check-config config/example.yaml
    overheard summary --config config/example.yaml [--run-id RUN_ID]
    overheard preview --config config/example.yaml (--query QUERY | --brand NAME) [--limit N]
    overheard triage list|claim|note|respond|close|reopen|reassign|history ... --config C (cli/care.py)
    overheard staffing --config C [--week 2026-W49]
    overheard erase-author --config C --platform x --handle alice --as dpo
    overheard desk --config C [--host 127.0.0.1] [--port 8770]   (cli/desk.py)
    overheard desk set-password NAME --config C
    overheard export --config C --to DIR [--since DATE] [--until DATE]
    overheard report --config C [--week 2026-W45] [--pdf] [--email]
    overheard airflow-init
    overheard airflow standalone
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from airflow_edge.lanes import LANE_DAGS, warehouse_run_id
from cli.airflow_env import DagRunRecord, airflow_command, airflow_environment, dag_run_command, initialise_airflow
from cli.care import add_care_commands, run_care_command
from cli.desk import add_desk_commands, run_desk_command
from cli.sentiment import add_sentiment_commands, run_sentiment_command
from cli.sql import add_sql_command, run_sql_command
from cli.themes import add_themes_command, run_themes_command
from cli.warehouse_access import NoWarehouseYet, open_for_reading
from config import Config, ConfigError, load_config
from config.model import LANES

# The first line of an exception a task raised, in Airflow's log.
_EXCEPTION_LINE = re.compile(r"^(?:(?:\w+\.)+[A-Z]\w*|\w*(?:Exception|Error)): ")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `overheard` command; returns the exit status.

    A reader that goes away (`overheard staffing ... | head`) ends the command quietly, as Python's
    documentation advises for SIGPIPE: stdout is pointed at /dev/null so that the final flush fails no more.
    """
    try:
        status = _command(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return status


def _command(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="overheard", description="Overheard social listening.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run one collection cycle through Airflow (airflow dags test)")
    run.add_argument("--config", required=True, type=Path, help="the config file")
    run.add_argument("--lane", choices=LANES, default="full",
                     help="full: every source but the care fast lane's, then stories and themes (social_listening); "
                          "care: the playbook's fast_lane sources, then care (care_fast_lane)")
    check = commands.add_parser("check-config", help="validate a config file and say what is wrong")
    check.add_argument("config", type=Path)
    summary = commands.add_parser("summary", help="print the summary of a run (default: the latest)")
    summary.add_argument("--config", required=True, type=Path)
    summary.add_argument("--run-id")
    preview = commands.add_parser("preview", help="try a brand query on the mentions in the warehouse")
    preview.add_argument("--config", required=True, type=Path)
    which = preview.add_mutually_exclusive_group(required=True)
    which.add_argument("--query", help="a query to try (see docs/query-language.md)")
    which.add_argument("--brand", help="the configured query of this brand or competitor")
    preview.add_argument("--limit", type=int, default=10, help="matching mentions to show (default 10)")
    export = commands.add_parser("export", help="write the mentions as Parquet files for other tools")
    export.add_argument("--config", required=True, type=Path)
    export.add_argument("--to", required=True, type=Path, help="folder for mentions.parquet and mention_brands.parquet")
    export.add_argument("--since", type=_instant, help="first day or instant included (ISO 8601; dates are UTC)")
    export.add_argument("--until", type=_instant, help="first day or instant excluded")
    report = commands.add_parser("report", help="render the weekly mention report of any past ISO week")
    report.add_argument("--config", required=True, type=Path)
    report.add_argument("--week", help="ISO week, e.g. 2026-W45, in the config's timezone (default: the last complete one)")
    report.add_argument("--pdf", action="store_true", help="also print a PDF (needs chromium)")
    report.add_argument("--email", action="store_true", help="also email it as the config's report.email says")
    add_care_commands(commands)
    add_desk_commands(commands)
    add_sentiment_commands(commands)
    add_sql_command(commands)
    add_themes_command(commands)
    commands.add_parser("airflow-init", help="create .airflow/ (metadata database, JWT secret)")
    passthrough = commands.add_parser("airflow", help="run an airflow command in Overheard's Airflow environment")
    passthrough.add_argument("arguments", nargs=argparse.REMAINDER)
    arguments = parser.parse_args(argv)

    if arguments.command == "airflow-init":
        print(f"Airflow home: {initialise_airflow()}")
        return 0
    if arguments.command == "airflow":
        return subprocess.run(airflow_command(*arguments.arguments), env=airflow_environment(), check=False).returncode
    try:
        config_path = arguments.config
        config = load_config(config_path)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    if arguments.command == "check-config":
        print(f"{config_path}: valid ({len(config.all_brands)} brands, {len(config.sources)} sources)")
        return 0
    if arguments.command == "desk":
        return run_desk_command(config, arguments)
    if arguments.command == "sentiment":
        return run_sentiment_command(config, arguments)
    if arguments.command == "sql":
        return run_sql_command(config, arguments)
    if arguments.command == "themes":
        return run_themes_command(config, arguments)
    from warehouse.summary import run_summary

    if arguments.command == "summary":
        print(run_summary(config.warehouse.path, arguments.run_id, alert_channels=_alert_channels(config)))
        return 0
    if arguments.command == "preview":
        return _preview(config, arguments)
    try:
        if arguments.command == "export":
            return _export(config, arguments)
        if arguments.command == "report":
            return _report(config, arguments)
        if arguments.command in ("triage", "staffing", "erase-author"):
            return run_care_command(config, arguments)
    except NoWarehouseYet as missing:
        print(missing, file=sys.stderr)
        return 1
    try:
        config.lane_sources(arguments.lane)
    except ValueError as error:
        print(f"{config_path}: {error}", file=sys.stderr)
        return 2
    return run_cycle(config_path.resolve(), config.warehouse.path, lane=arguments.lane)


def run_cycle(config_path: Path, warehouse_path: str, logical_date: str | None = None, lane: str = "full") -> int:
    """Run a collection lane's DAG once through Airflow for a config (social_listening, or the care fast lane's
    care_fast_lane), then print its summary.

    Airflow's output goes to a log file of this run only (AIRFLOW_HOME/logs/overheard-run/), so runs
    started at the same time each report their own. The summary is printed whenever the load recorded
    the run, failed runs included; when the run failed, the tasks' errors follow on stderr. Ctrl-C
    stops the run, marks it failed in Airflow and says so in one line.

    Args:
        config_path: the config file.
        warehouse_path: its warehouse (for the summary).
        logical_date: the run's logical date (ISO 8601); None runs as of now.
        lane: the collection lane (config.model.LANES).

    Returns:
        0 when the DAG run succeeded, 1 when it failed (a run in which every source failed or was
        skipped fails), 130 when it was interrupted.
    """
    from warehouse.summary import run_summary

    dag_id = LANE_DAGS[lane]
    environment = airflow_environment({**os.environ, "OVERHEARD_CONFIG": str(config_path)})
    started = datetime.now(UTC)
    files = Path(environment["AIRFLOW_HOME"]) / "logs" / "overheard-run" / f"{started:%Y%m%dT%H%M%S}-{os.getpid()}"
    files.parent.mkdir(parents=True, exist_ok=True)
    log_path, record_path = files.with_suffix(".log"), files.with_suffix(".json")
    print(f"Running the {dag_id} DAG through Airflow for {config_path} (Airflow log: {log_path}) ...", flush=True)
    command = dag_run_command("run", dag_id, logical_date or started.isoformat(), str(record_path))
    with log_path.open("w", encoding="utf-8") as log:
        # In a session of its own, the run does not see Ctrl-C (a task it reached would be failed and
        # retried); this process does, and stops the run.
        process = subprocess.Popen(command, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            process.wait()
        except KeyboardInterrupt:
            return _stop_interrupted_run(process, dag_id, record_path, log_path, environment)
    record = DagRunRecord.read(record_path)
    if record is not None and record.tasks.get("load") == "success":
        print(run_summary(warehouse_path, warehouse_run_id(lane, record.run_id),
                          alert_channels=_alert_channels(load_config(config_path))))
    if record is None or record.state != "success":
        log_text = log_path.read_text(encoding="utf-8", errors="replace")
        print("\n".join(_task_errors(log_text) or log_text.splitlines()[-40:]), file=sys.stderr)
        state = record.state if record is not None and record.state else "without finishing"
        run = f" ({record.run_id})" if record is not None else ""
        print(f"\nThe {dag_id} run ended {state}{run}; the full Airflow log is {log_path}", file=sys.stderr)
        return 1
    return 0


def _stop_interrupted_run(process: subprocess.Popen[bytes], dag_id: str, record_path: Path, log_path: Path,
                          environment: dict[str, str]) -> int:
    """End an interrupted run's process, mark the run failed in Airflow, say so in one line; returns 130."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
    try:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        record = DagRunRecord.read(record_path)
        if record is None:
            print(f"Interrupted before the {dag_id} run started.", file=sys.stderr)
            return 130
        with log_path.open("a", encoding="utf-8") as log:
            marked = subprocess.run(dag_run_command("fail", dag_id, record.run_id), env=environment, stdout=log,
                                    stderr=subprocess.STDOUT, check=False)
        outcome = "marked failed in Airflow" if marked.returncode == 0 else "could not be marked failed (see the log)"
        print(f"Interrupted: the {dag_id} run {record.run_id} is stopped and {outcome}; Airflow log: {log_path}",
              file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)


def _preview(config: Config, arguments: argparse.Namespace) -> int:
    from cli.preview import preview_query
    from query.boolean import QueryError

    query = arguments.query
    if arguments.brand:
        brand = next((b for b in config.all_brands if b.name.lower() == arguments.brand.lower()), None)
        if brand is None:
            names = ", ".join(b.name for b in config.all_brands)
            print(f"no brand or competitor named {arguments.brand!r}; configured: {names}", file=sys.stderr)
            return 2
        query = brand.query or " OR ".join(f'"{term}"' for term in brand.terms)
    try:
        print(preview_query(config.warehouse.path, query, arguments.limit))
    except QueryError as error:
        print(error, file=sys.stderr)
        return 2
    return 0


def _export(config: Config, arguments: argparse.Namespace) -> int:
    from warehouse.export import export_parquet

    with open_for_reading(config) as connection:
        written = export_parquet(connection, arguments.to, arguments.since, arguments.until)
    print(f"Wrote {written.rows} mentions to {written.mentions} and their brands to {written.mention_brands}")
    return 0


def _report(config: Config, arguments: argparse.Namespace) -> int:
    from reports.exceptions import ReportError
    from reports.publishing import last_complete_week, publish_weekly_report

    if arguments.email and config.report.email is None:
        print("--email: the config has no report.email (connection, to); see docs/configuration.md", file=sys.stderr)
        return 2
    if arguments.pdf:
        config = config.model_copy(update={"report": config.report.model_copy(update={"pdf": True})})
    with open_for_reading(config) as connection:
        week = arguments.week or last_complete_week(connection, config)
        if week is None:
            print("No complete week has been loaded yet; give --week", file=sys.stderr)
            return 1
        try:
            files = publish_weekly_report(connection, config, week, email=arguments.email)
        except (ValueError, ReportError) as error:
            print(error, file=sys.stderr)
            return 2
    print("\n".join([f"Report {files.week}: {files.html}", f"Mentions CSV: {files.csv}",
                     *([f"PDF: {files.pdf}"] if files.pdf else []), *files.summary]))
    return 0


def _alert_channels(config: Config) -> list[str]:
    return config.playbook.alerts.channels if config.playbook else []


def _instant(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 date or time, e.g. 2026-11-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _task_errors(log_text: str) -> list[str]:
    """The exceptions tasks raised, with their indented continuation lines, from an Airflow log."""
    errors: list[str] = []
    lines = log_text.splitlines()
    for index, line in enumerate(lines):
        if _EXCEPTION_LINE.match(line):
            errors.append(line)
            errors.extend(following for following in _continuation(lines[index + 1 :]))
    return errors


def _continuation(lines: list[str]) -> list[str]:
    taken = []
    for line in lines:
        if not line.startswith("  ") or line.lstrip().startswith(("File ", "raise ", "^")):
            break
        taken.append(line)
    return taken


if __name__ == "__main__":
    sys.exit(main())

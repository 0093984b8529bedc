"""`overheard sentiment correct` and `overheard sentiment accuracy`: people's corrections, and the model against them.

    overheard sentiment correct x:2117 positive --config C --as ana [--brand Tidewell]
    overheard sentiment correct '#12' negative --config C --as ana    # the desk's item number
    overheard sentiment correct --count-pending --config C            # count analysts' SQL corrections now
    overheard sentiment accuracy --config C [--since 2026-11-01]

`correct` writes like `overheard triage` does: it waits for the warehouse's write lock, records the
correction with care.sentiment_corrections (checked, audited, the day's aggregates recomputed in the same
transaction) and publishes the analysts' snapshot. `accuracy` reads the snapshot and prints the model's
precision and recall per label against the corrections (warehouse.sentiment_accuracy), with 95% Wilson
intervals and the number of labels, overall, per brand and per language.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from cli.warehouse_access import NoWarehouseYet, open_for_reading, open_for_writing
from config import Config

if TYPE_CHECKING:
    from warehouse.sentiment_accuracy import GroupAccuracy, Proportion

_ITEM_NUMBER = re.compile(r"^#?(\d{1,12})$")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `overheard sentiment <name>` (correct or accuracy)."""
    if name == "correct":
        parser.add_argument("key", nargs="?", help="the mention's key (x:2117), or its desk item number (#12)")
        parser.add_argument("label", nargs="?", choices=("negative", "neutral", "positive"), help="the right label")
        parser.add_argument("--as", dest="actor", help="who corrects it: a name on the playbook's roster")
        parser.add_argument("--brand", help="correct only this brand or competitor of the mention (default: the whole mention)")
        parser.add_argument(
            "--count-pending", action="store_true",
            help="recompute the aggregates for corrections inserted by SQL (the next load does it anyway)",
        )
    else:
        parser.add_argument("--since", type=date.fromisoformat, help="only corrections made on or after this day (UTC)")


def run(name: str, config: Config, arguments: argparse.Namespace) -> int:
    """Run `overheard sentiment <name>`; returns the exit status."""
    from care.desk import TriageError
    from warehouse.connection import WarehouseLocked

    try:
        if name == "correct":
            return _correct(config, arguments)
        return _accuracy(config, arguments)
    except TriageError as error:
        print(error, file=sys.stderr)
        return 2
    except (WarehouseLocked, NoWarehouseYet) as error:
        print(error, file=sys.stderr)
        return 1


def _correct(config: Config, arguments: argparse.Namespace) -> int:
    from care.desk import TriageError
    from care.sentiment_corrections import correct_sentiment, count_pending_corrections
    from warehouse.snapshot import publish_snapshot

    if arguments.count_pending:
        with open_for_writing(config) as connection:
            waiting = count_pending_corrections(connection)
            publish_snapshot(connection, config.warehouse.path, "sentiment:count-pending")
        print(f"{waiting} correction{'s' if waiting != 1 else ''} made by SQL counted in the daily aggregates")
        return 0
    if not arguments.key or not arguments.label:
        raise TriageError("sentiment correct needs the mention's key and the right label: KEY negative|neutral|positive")
    if not arguments.actor:
        raise TriageError("sentiment correct needs --as NAME: who corrects it")
    key = _mention_key(config, arguments.key)
    with open_for_writing(config) as connection:
        correction = correct_sentiment(connection, key, arguments.label, arguments.actor, config.playbook,
                                       datetime.now(UTC), via="cli", brand=arguments.brand)
        publish_snapshot(connection, config.warehouse.path, f"sentiment:{arguments.actor}")
    print(f"{key}{f' ({correction.brand})' if correction.brand else ''}: {correction.label}, "
          f"was {correction.model_label or 'unscored'} by {correction.model or 'the model'}")
    return 0


def _mention_key(config: Config, key: str) -> str:
    """The mention key a desk item number (#12 or 12) stands for; any other key as it is."""
    from care.desk import TriageError
    from desk.state import DeskState, desk_state_path

    number = _ITEM_NUMBER.match(key)
    if number is None:
        return key
    path = desk_state_path(config.warehouse.path)
    found = DeskState(path).mention_key_of(int(number.group(1))) if path.exists() else None
    if found is None:
        raise TriageError(f"no desk item #{number.group(1)}: give the mention's key (e.g. x:2117) or a number the desk shows")
    return found


def _accuracy(config: Config, arguments: argparse.Namespace) -> int:
    from warehouse.sentiment_accuracy import ACCURACY_VERSION, sentiment_accuracy

    since = datetime.combine(arguments.since, datetime.min.time(), tzinfo=UTC) if arguments.since else None
    with open_for_reading(config) as connection:
        groups = sentiment_accuracy(connection, since)
    period = f" since {arguments.since}" if arguments.since else ""
    if not groups:
        print(f"No corrections{period} yet: correct sentiment on the desk or with `overheard sentiment correct`.")
        return 0
    print(f"The sentiment model against people's corrections{period} ({ACCURACY_VERSION}; 95% Wilson intervals)")
    for group in groups:
        print()
        print(_heading(group))
        print(f"  {'label':<9} {'precision':>9} {'95% CI':>13} {'of':>5}   {'recall':>6} {'95% CI':>13} {'of':>5}")
        for label in group.labels:
            print(f"  {label.label:<9} {_share(label.precision):>9} {_interval(label.precision):>13} "
                  f"{label.precision.total:>5}   {_share(label.recall):>6} {_interval(label.recall):>13} "
                  f"{label.recall.total:>5}")
    return 0


def _heading(group: GroupAccuracy) -> str:
    name = {"overall": "Overall", "brand": f"Brand {group.name}", "lang": f"Language {group.name}"}[group.group]
    agreement = group.agreement
    return (f"{name}: {agreement.total} labels, agreement {_share(agreement)} {_interval(agreement)}"
            f"; {group.unscored} unscored corrections apart")


def _share(proportion: Proportion) -> str:
    value = proportion.value
    return "-" if value is None else f"{value:.0%}"


def _interval(proportion: Proportion) -> str:
    interval = proportion.interval
    return "-" if interval is None else f"[{interval[0]:.0%}, {interval[1]:.0%}]"

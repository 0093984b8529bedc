"""The care step after each load: categorise new mentions, score, route and open triage items,
re-score open items as engagement grows, and raise escalation, breach and spike alerts.

Everything runs in one transaction on the warehouse, and running it again for the same run changes
nothing: categories, items, observations, spikes and alerts are all keyed. Alert delivery (network)
happens after the commit, in `care.alerts.deliver_pending`.

A mention is triaged when it is earned (not owned, not deleted), first seen in this run or in a run
no care step has triaged yet (see below), and matches a playbook category: the category's query on
its title and text, its `about` (brand, competitor or any) on the roles of the brands it mentions,
and its `sentiment` list when given. It gets every category it matches in `mention_categories`, and
one triage item for the first of them in playbook order (list the most severe first), for the first
brand that category applies to.

Catching up: a run whose load committed but whose care step failed or never ran (a task that died,
a DAG run marked failed) is not lost. Each care step records the runs it triaged in `triaged_runs`,
and also triages the earned mentions first seen in the last `CATCH_UP` (3 days, a weekend's outage)
by runs missing there. Their items open at the mention's first sighting, so their service-level
clocks and breach alerts are as if the step had run on time. Older mentions are not triaged (an
answer would come days late); neither is a warehouse's history when a playbook is first added, past
its last 3 days.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import duckdb

from care.alerts import Alert, record_alerts
from care.audit_trail import SYSTEM_ACTOR, record_action
from care.priority import PRIORITY_MODEL, interactions, priority_parts
from care.routing import RoutedMention, fair_agent, route
from care.spikes import SpikeSettings, find_spikes
from config.model import Config
from config.playbook import CategoryConfig, Playbook
from core.transactions import transaction
from query.boolean import MatchableRecord, Query, parse_query

# How far back a care step triages the mentions of runs no care step has triaged (module docstring).
CATCH_UP = timedelta(days=3)


@dataclass
class CareOutcome:
    """What one care step did."""

    categorised: int = 0
    opened: int = 0
    escalated: int = 0
    rescored: int = 0
    breaches: int = 0
    spikes: int = 0
    alerts: list[Alert] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The counts, and the keys of the new alerts."""
        return {
            "categorised": self.categorised, "opened": self.opened, "escalated": self.escalated,
            "rescored": self.rescored, "breaches": self.breaches, "spikes": self.spikes,
            "alerts": [alert.alert_key for alert in self.alerts],
        }


class CareStep:
    """Runs the playbook on the mentions of one run (and of recent runs no care step triaged).

    Args:
        connection: the open warehouse, outside a transaction.
        config: the config; `config.playbook` must be set.
        run_id: the run just loaded.
        now: the end of the run's data interval: the step's clock.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, config: Config, run_id: str, now: datetime):
        if config.playbook is None:
            raise ValueError("the config has no playbook: add one (docs/social-care.md) to triage mentions")
        self.connection = connection
        self.config = config
        self.playbook: Playbook = config.playbook
        self.run_id = run_id
        self.now = now

    def run(self) -> CareOutcome:
        """Observe, categorise, open, re-score, and find breaches and spikes, in one transaction."""
        outcome = CareOutcome()
        with transaction(self.connection):
            self._observe_engagement()
            untriaged = self._untriaged()
            outcome.categorised, opened = self._categorise_and_open(untriaged)
            outcome.opened = len(opened)
            rescored_escalations = self._rescore_open_items()
            outcome.rescored = len(rescored_escalations)
            escalated = [key for key, item in opened.items() if item["escalated"]] + rescored_escalations
            outcome.escalated = len(escalated)
            alerts = [self._escalation_alert(key) for key in escalated]
            breaches = self._breach_alerts()
            outcome.breaches = len(breaches)
            spike_alerts = self._spike_alerts()
            outcome.spikes = len(spike_alerts)
            wanted = set(self.playbook.alerts.kinds)
            outcome.alerts = record_alerts(
                self.connection, [a for a in [*alerts, *breaches, *spike_alerts] if a.kind in wanted], self.now
            )
            self.connection.execute(
                "INSERT INTO triaged_runs SELECT unnest($runs::VARCHAR[]), $now ON CONFLICT DO NOTHING",
                {"runs": sorted({self.run_id, *(row["first_run_id"] for _, row in untriaged)}), "now": self.now},
            )
        return outcome

    # --- engagement ------------------------------------------------------------------------------

    def _observe_engagement(self) -> None:
        rows = self.connection.execute(
            "SELECT mention_key, last_seen_at, engagement FROM mentions WHERE last_run_id = ? AND NOT is_deleted",
            [self.run_id],
        ).fetchall()
        if rows:
            self.connection.execute(
                """
                INSERT INTO engagement_observations
                SELECT unnest($keys::VARCHAR[]), unnest($at::TIMESTAMPTZ[]), unnest($engagement::BIGINT[])
                ON CONFLICT DO NOTHING
                """,
                {"keys": [r[0] for r in rows], "at": [r[1] for r in rows],
                 "engagement": [interactions(json.loads(r[2]) if r[2] else None) for r in rows]},
            )

    def _velocity(self, keys: list[str]) -> dict[str, float]:
        """Interactions gained per hour between each mention's last two observations."""
        rows = self.connection.execute(
            """
            WITH ranked AS (
                SELECT mention_key, observed_at, engagement,
                       row_number() OVER (PARTITION BY mention_key ORDER BY observed_at DESC) AS n
                FROM engagement_observations WHERE mention_key IN (SELECT unnest(?::VARCHAR[]))
            )
            SELECT latest.mention_key,
                   (latest.engagement - previous.engagement)
                   / greatest(epoch(latest.observed_at) - epoch(previous.observed_at), 1) * 3600
            FROM ranked AS latest JOIN ranked AS previous
              ON latest.mention_key = previous.mention_key AND latest.n = 1 AND previous.n = 2
            """,
            [keys],
        ).fetchall()
        return {key: max(0.0, rate) for key, rate in rows}

    # --- categories and items -------------------------------------------------------------------

    @cached_property
    def _queries(self) -> dict[str, Query]:
        return {category.name: parse_query(category.query) for category in self.playbook.categories}

    def _untriaged(self) -> list[tuple[MatchableRecord, dict[str, Any]]]:
        """The earned mentions of this run, and of the runs of the last `CATCH_UP` no care step triaged."""
        rows = self.connection.execute(
            """
            SELECT m.mention_key, m.platform, m.source, m.native_id, m.url, m.title, m.text, m.author_handle,
                   m.published_at, m.lang, m.sentiment_label, m.sentiment_score, m.reach_estimate,
                   m.author_followers, m.first_seen_at, m.first_run_id, m.rating,
                   list(struct_pack(
                       brand := b.brand, role := b.role,
                       -- the brand's own label, as earned_brand_mentions_between's (migration 013)
                       sentiment_label := coalesce(for_brand.label, for_mention.label, b.sentiment_label, m.sentiment_label)
                   ) ORDER BY b.role, b.brand) AS brands
            FROM earned_mentions AS m JOIN mention_brands AS b USING (mention_key)
            LEFT JOIN latest_sentiment_corrections AS for_brand
                ON for_brand.mention_key = m.mention_key AND for_brand.brand = b.brand
            LEFT JOIN latest_sentiment_corrections AS for_mention
                ON for_mention.mention_key = m.mention_key AND for_mention.brand IS NULL
            WHERE m.first_run_id = $run_id
               OR (m.first_seen_at > $since AND m.first_seen_at <= $now
                   AND m.first_run_id NOT IN (SELECT run_id FROM triaged_runs))
            GROUP BY ALL ORDER BY m.mention_key
            """,
            {"run_id": self.run_id, "since": self.now - CATCH_UP, "now": self.now},
        ).fetchall()
        columns = ["key", "platform", "source", "native_id", "url", "title", "text", "author_handle", "published_at",
                   "lang", "sentiment_label", "sentiment_score", "reach_estimate", "author_followers",
                   "first_seen_at", "first_run_id", "rating", "brands"]
        untriaged = []
        for values in rows:
            row = dict(zip(columns, values, strict=True))
            mention = MatchableRecord(row["text"], row["title"], row["url"], row["author_handle"], row["platform"])
            untriaged.append((mention, row))
        return untriaged

    def _categories_of(self, mention: MatchableRecord, row: dict[str, Any]) -> list[tuple[CategoryConfig, str]]:
        """The categories the mention matches, in playbook order, each with the brand it is for.

        A category's `sentiment` list is checked against the mention's label, but for `about: competitor`
        against the competitor's own ("switched from Tidewell to Brightwave, love it" is negative for
        Tidewell): the category is for the first competitor whose label is in the list. Its `ratings` list
        holds only reviews whose stars it lists (an App Store review's `rating`).
        """
        found = []
        for category in self.playbook.categories:
            if category.ratings and row["rating"] not in category.ratings:
                continue
            if category.sentiment and category.about != "competitor" and row["sentiment_label"] not in category.sentiment:
                continue
            brand = next(
                (b["brand"] for b in row["brands"] if category.about in ("any", b["role"])
                 and (category.about != "competitor" or not category.sentiment
                      or b["sentiment_label"] in category.sentiment)),
                None,
            )
            if brand is not None and self._queries[category.name].matches(mention, row["lang"]):
                found.append((category, brand))
        return found

    def _categorise_and_open(
        self, untriaged: list[tuple[MatchableRecord, dict[str, Any]]]
    ) -> tuple[int, dict[str, dict[str, Any]]]:
        matched = [(mention, row, categories) for mention, row in untriaged
                   if (categories := self._categories_of(mention, row))]
        if not matched:
            return 0, {}
        self.connection.execute(
            "INSERT INTO mention_categories SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]) ON CONFLICT DO NOTHING",
            [[row["key"] for _, row, cats in matched for _ in cats],
             [category.name for _, _, cats in matched for category, _ in cats]],
        )
        already = {key for (key,) in self.connection.execute(
            "SELECT mention_key FROM triage_items WHERE mention_key IN (SELECT unnest(?::VARCHAR[]))",
            [[row["key"] for _, row, _ in matched]],
        ).fetchall()}
        velocity = self._velocity([row["key"] for _, row, _ in matched])
        items = []
        for mention, row, categories in matched:
            if row["key"] in already:
                continue
            category, brand = categories[0]
            parts = priority_parts(row["sentiment_score"], row["reach_estimate"], velocity.get(row["key"]),
                                   category.severity, row["author_followers"])
            priority = parts.score(self.playbook.priority_weights)
            escalated = category.escalate or priority >= self.playbook.escalation_threshold
            routed = route(RoutedMention(mention, brand, category, row["lang"], priority, escalated), self.playbook)
            items.append({
                "mention_key": row["key"], "brand": brand, "category": category.name, "queue": routed.queue,
                "routed_by": routed.routed_by, "priority": priority, "escalated": escalated,
                "skills": list(routed.skills), "opened_at": row["first_seen_at"], "sla_minutes": category.sla_minutes,
                "parts": asdict(parts),
            })
        self._assign_and_insert(sorted(items, key=lambda item: (-item["priority"], item["mention_key"])))
        return len(matched), {item["mention_key"]: item for item in items}

    def _assign_and_insert(self, items: list[dict[str, Any]]) -> None:
        open_items = Counter(dict(self.connection.execute(
            "SELECT assignee, count(*) FROM triage_items WHERE status IN ('open', 'claimed') AND assignee IS NOT NULL "
            "GROUP BY assignee"
        ).fetchall()))
        last_acted = dict(self.connection.execute(
            "SELECT actor, epoch(max(acted_at)) FROM triage_actions WHERE actor <> ? GROUP BY actor", [SYSTEM_ACTOR]
        ).fetchall())
        calendars = {queue.name: self.playbook.business_calendar(queue.name) for queue in self.playbook.queues}
        for item in items:
            queue = self.playbook.queue(item["queue"])
            due_at = calendars[queue.name].due_at(item["opened_at"], item["sla_minutes"])
            assignee = fair_agent(queue, item["skills"], open_items, last_acted) if queue.agents else None
            if assignee:
                open_items[assignee] += 1
            self.connection.execute(
                """
                INSERT INTO triage_items (mention_key, brand, category, queue, routed_by, priority, priority_model,
                    escalated, status, assignee, required_skills, opened_at, sla_minutes, due_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?)
                """,
                [item["mention_key"], item["brand"], item["category"], item["queue"], item["routed_by"],
                 item["priority"], PRIORITY_MODEL, item["escalated"], assignee, item["skills"], item["opened_at"],
                 item["sla_minutes"], due_at, self.now],
            )
            actions = [("routed", {"queue": item["queue"], "routed_by": item["routed_by"], "category": item["category"],
                                   "priority": item["priority"], "priority_parts": item["parts"], "due_at": due_at})]
            if item["escalated"]:
                actions.append(("escalated", {"priority": item["priority"]}))
            if assignee:
                actions.append(("assigned", {"to": assignee, "rule": "fewest open items, then longest idle"}))
            for action, detail in actions:
                record_action(self.connection, item["mention_key"], action, SYSTEM_ACTOR, self.now, detail)

    def _rescore_open_items(self) -> list[str]:
        """Re-score the open items seen again in this run; returns the keys that became escalated."""
        rows = self.connection.execute(
            """
            SELECT t.mention_key, t.category, t.escalated, m.sentiment_score, m.reach_estimate, m.author_followers
            FROM triage_items AS t JOIN mentions AS m USING (mention_key)
            WHERE t.status IN ('open', 'claimed') AND m.last_run_id = ? AND m.first_run_id <> ?
            """,
            [self.run_id, self.run_id],
        ).fetchall()
        if not rows:
            return []
        severity = {category.name: category.severity for category in self.playbook.categories}
        velocity = self._velocity([row[0] for row in rows])
        newly_escalated = []
        for key, category, escalated, sentiment, reach, followers in rows:
            parts = priority_parts(sentiment, reach, velocity.get(key), severity.get(category, 0.5), followers)
            priority = parts.score(self.playbook.priority_weights)
            escalate = not escalated and priority >= self.playbook.escalation_threshold
            self.connection.execute(
                "UPDATE triage_items SET priority = ?, escalated = escalated OR ?, updated_at = ? "
                "WHERE mention_key = ? AND priority IS DISTINCT FROM ?",
                [priority, escalate, self.now, key, priority],
            )
            if escalate:
                newly_escalated.append(key)
                record_action(self.connection, key, "escalated", SYSTEM_ACTOR, self.now,
                              {"priority": priority, "priority_parts": asdict(parts)})
        return newly_escalated

    # --- alerts ---------------------------------------------------------------------------------

    def _escalation_alert(self, key: str) -> Alert:
        [(brand, category, queue, priority, due_at, url, author, text)] = self.connection.execute(
            """
            SELECT t.brand, t.category, t.queue, t.priority, t.due_at, m.url, m.author_handle, m.text
            FROM triage_items AS t JOIN mentions AS m USING (mention_key) WHERE mention_key = ?
            """,
            [key],
        ).fetchall()
        return Alert(
            alert_key=f"escalation:{key}", kind="escalation",
            subject=f"Escalated {category} about {brand} (priority {priority:.2f})",
            body=f"{author or 'An author'} wrote: {' '.join(text.split())[:400]}",
            link=url,
            fields={"Queue": queue, "Category": category, "Priority": f"{priority:.2f}",
                    "First response due": f"{due_at:%Y-%m-%d %H:%M %Z}"},
        )

    def _breach_alerts(self) -> list[Alert]:
        rows = self.connection.execute(
            """
            SELECT t.mention_key, t.brand, t.category, t.queue, t.assignee, t.due_at, m.url
            FROM triage_items AS t JOIN mentions AS m USING (mention_key)
            WHERE t.first_response_at IS NULL AND t.status IN ('open', 'claimed') AND t.due_at <= ?
            ORDER BY t.due_at
            """,
            [self.now],
        ).fetchall()
        return [
            Alert(
                alert_key=f"breach:{key}", kind="breach",
                subject=f"SLA breached: {category} about {brand} in {queue} had no response by "
                        f"{due_at:%Y-%m-%d %H:%M %Z}",
                body=f"A {category} mention about {brand} is past its first-response time and still unanswered.",
                link=url,
                fields={"Queue": queue, "Assignee": assignee or "unassigned", "Was due": f"{due_at:%Y-%m-%d %H:%M %Z}"},
            )
            for key, brand, category, queue, assignee, due_at, url in rows
        ]

    def _spike_alerts(self) -> list[Alert]:
        settings = self.playbook.spikes
        found = find_spikes(
            self.connection, until=self.now, timezone=self.config.timezone, by_category=settings.by_category,
            settings=SpikeSettings(**settings.model_dump(exclude={"by_category"})),
        )
        alerts = []
        for spike, explanation in found:
            self.connection.execute(
                """
                INSERT INTO spikes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (brand, category, hour_start) DO UPDATE SET peak_hour = excluded.peak_hour,
                    mentions = excluded.mentions, explanation = excluded.explanation
                """,
                [spike.brand, spike.category or "", spike.hour_start, spike.peak_hour, spike.peak_mentions,
                 spike.baseline, spike.score, spike.spike_model, explanation.as_json(), self.now],
            )
            scope = f"{spike.brand} ({spike.category})" if spike.category else spike.brand
            terms = ", ".join(term.term for term in explanation.terms) or "none stand out"
            alerts.append(Alert(
                alert_key=f"spike:{spike.brand}:{spike.category or 'all'}:{spike.hour_start:%Y-%m-%dT%H:%MZ}",
                kind="spike",
                subject=f"Volume spike: {scope}, {spike.mentions} mentions at {spike.hour_start:%Y-%m-%d %H:%M} UTC "
                        f"(expected {spike.baseline:.1f})",
                body=f"Top terms: {terms}.\n" + "\n".join(
                    f"- {example.author}: {' '.join(example.text.split())[:200]}"
                    for example in explanation.examples
                ),
                link=explanation.examples[0].url if explanation.examples else None,
                fields={"Top authors": ", ".join(a.name for a in explanation.authors),
                        "Top sources": ", ".join(s.name for s in explanation.sources)},
            ))
        return alerts


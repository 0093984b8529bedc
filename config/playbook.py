"""The social-care playbook in the config: categories, queues, routing, calendars, priority, spikes, alerts.

Every model forbids unknown keys. Queries are checked when the config loads, and so are the names
one part gives another (a category's queue, a queue's calendar, a rule's categories).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from core.business_calendar import ALWAYS_OPEN, BusinessCalendar
from query.boolean import QueryError, parse_query


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_query(value: str) -> str:
    try:
        parse_query(value)
    except QueryError as error:
        raise PydanticCustomError("query", "{error}", {"error": str(error)}) from None
    return value


Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)]
Query = Annotated[str, AfterValidator(_check_query)]


class CategoryConfig(_Strict):
    """A kind of mention the care team handles, e.g. complaint or purchase intent."""

    name: Name
    query: Query
    about: Literal["brand", "competitor", "any"] = "brand"
    sentiment: list[Literal["negative", "neutral", "positive"]] = []
    ratings: list[Literal[1, 2, 3, 4, 5]] = []
    queue: str | None = None
    severity: float = Field(default=0.5, ge=0, le=1)
    sla_minutes: int = Field(default=240, ge=1)
    response_template: str | None = None
    escalate: bool = False


class AgentConfig(_Strict):
    """An agent on a queue's roster."""

    name: str = Field(min_length=1, max_length=64)
    skills: list[str] = []


class QueueConfig(_Strict):
    """A team's queue: its business calendar, roster and staffing assumptions."""

    name: Name
    calendar: str | None = None
    agents: list[AgentConfig] = []
    handle_minutes: float = Field(default=6.0, gt=0)
    service_level_target: float = Field(default=0.8, gt=0, lt=1)


class CalendarConfig(_Strict):
    """Business hours: the service-level clock runs only while open."""

    timezone: str
    hours: str | dict[str, list[str] | str | None] = "24/7"
    holidays: list[str | date] = []

    @model_validator(mode="after")
    def _calendar_builds(self) -> CalendarConfig:
        self.calendar()
        return self

    def calendar(self) -> BusinessCalendar:
        """The business calendar these settings describe."""
        try:
            return BusinessCalendar.from_settings(timezone=self.timezone, hours=self.hours, holidays=self.holidays)
        except ValueError as error:
            raise PydanticCustomError("calendar", "{error}", {"error": str(error)}) from None


class RoutingRule(_Strict):
    """One ACD-style rule: every condition given must hold; the first rule that holds routes the item."""

    queue: str
    categories: list[str] = []
    brands: list[str] = []
    languages: list[str] = []
    platforms: list[str] = []
    min_priority: float | None = Field(default=None, ge=0, le=1)
    escalated: bool | None = None
    query: Query | None = None
    skills: list[str] = []


class PriorityWeights(_Strict):
    """Weights of the priority score's parts (priority-v1); they must sum to 1."""

    negativity: float = Field(default=0.25, ge=0, le=1)
    reach: float = Field(default=0.20, ge=0, le=1)
    velocity: float = Field(default=0.15, ge=0, le=1)
    severity: float = Field(default=0.30, ge=0, le=1)
    influence: float = Field(default=0.10, ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> PriorityWeights:
        total = self.negativity + self.reach + self.velocity + self.severity + self.influence
        if abs(total - 1) > 1e-6:
            raise PydanticCustomError("weights", "the weights must sum to 1, not {total}", {"total": f"{total:.3f}"})
        return self


class SpikeConfig(_Strict):
    """How volume spikes are found (see `care.spikes`)."""

    baseline_weeks: int = Field(default=4, ge=1, le=52)
    min_volume: int = Field(default=10, ge=1)
    min_ratio: float = Field(default=2.0, ge=1)
    alpha: float = Field(default=0.0001, gt=0, lt=1)
    cooldown_hours: int = Field(default=6, ge=1)
    by_category: bool = True


class EmailSettings(_Strict):
    """Email to a list through an Airflow SMTP connection (alerts, and the weekly report)."""

    connection: str = "smtp_default"
    to: list[str] = Field(min_length=1)
    from_address: str | None = None


class WebhookAlerts(_Strict):
    """Alerts to a Slack-compatible incoming webhook held in an Airflow connection."""

    connection: str = "alerts_webhook"


class AlertSettings(_Strict):
    """Where spike, breach and escalation alerts go (none: they are only recorded in `alerts`)."""

    email: EmailSettings | None = None
    webhook: WebhookAlerts | None = None
    kinds: list[Literal["spike", "breach", "escalation"]] = ["spike", "breach", "escalation"]

    @property
    def channels(self) -> list[str]:
        """The channels alerts are sent through (`email`, `webhook`); none: alerts are only recorded."""
        return [channel for channel in ("email", "webhook") if getattr(self, channel) is not None]


class HandoffRule(_Strict):
    """Items each run hands to the helpdesk by itself: every condition given must hold."""

    categories: list[str] = []
    brands: list[str] = []
    platforms: list[str] = []
    queues: list[str] = []
    min_priority: float | None = Field(default=None, ge=0, le=1)
    escalated: bool | None = None


class ZendeskSettings(_Strict):
    """Hand-offs to Zendesk (connection: host, login = agent email, password = API token)."""

    kind: Literal["zendesk"]
    connection: str = "zendesk_default"
    requester_from_author: bool = False
    tags: list[str] = ["overheard"]


class HelpdeskWebhookSettings(_Strict):
    """Hand-offs to a signed webhook (connection: host = URL, password = signing secret)."""

    kind: Literal["webhook"]
    connection: str = "helpdesk_webhook"
    callback_url: str | None = None


class ReplySettings(_Strict):
    """The write connection of each platform (default `<platform>_reply`) and one send's time budget."""

    connections: dict[Literal["x", "reddit", "bluesky", "mastodon"], str] = {}
    send_seconds: float = Field(default=30.0, gt=0, le=300)


class FastLane(_Strict):
    """The care fast lane: sources the care team needs fast, collected every `every_minutes` by the
    care_fast_lane DAG (collect, enrich, load, care) and left out of the hourly social_listening DAG, so
    each source's cursor has one writer. The names must be configured sources (checked by `Config`)."""

    sources: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)
    every_minutes: int = Field(default=5, ge=1, le=59)

    @model_validator(mode="after")
    def _each_source_once(self) -> FastLane:
        repeated = sorted({name for name in self.sources if self.sources.count(name) > 1})
        if repeated:
            raise PydanticCustomError("duplicate", "sources: {names} named twice; name each source once",
                                      {"names": ", ".join(repeated)})
        return self


class Playbook(_Strict):
    """The social-care team's rules."""

    categories: list[CategoryConfig] = Field(min_length=1)
    queues: list[QueueConfig] = Field(min_length=1)
    default_queue: str
    leads: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    admins: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    routing: list[RoutingRule] = []
    calendars: dict[str, CalendarConfig] = {}
    escalation_threshold: float = Field(default=0.7, ge=0, le=1)
    priority_weights: PriorityWeights = PriorityWeights()
    spikes: SpikeConfig = SpikeConfig()
    alerts: AlertSettings = AlertSettings()
    helpdesk: Annotated[ZendeskSettings | HelpdeskWebhookSettings, Field(discriminator="kind")] | None = None
    handoff: list[HandoffRule] = []
    replies: ReplySettings = ReplySettings()
    fast_lane: FastLane | None = None

    @model_validator(mode="after")
    def _names_refer_to_something(self) -> Playbook:
        queues = [queue.name for queue in self.queues]
        categories = [category.name for category in self.categories]
        for what, names in (("queues", queues), ("categories", categories)):
            if len(set(names)) != len(names):
                raise PydanticCustomError("duplicate", "{what}: a name is used twice", {"what": what})
        references = [("default_queue", self.default_queue, queues)]
        references += [(f"categories[{n}].queue", c.queue, queues) for n, c in enumerate(self.categories) if c.queue]
        references += [(f"routing[{n}].queue", rule.queue, queues) for n, rule in enumerate(self.routing)]
        references += [
            (f"routing[{n}].categories", name, categories) for n, rule in enumerate(self.routing) for name in rule.categories
        ]
        references += [(f"queues[{n}].calendar", q.calendar, list(self.calendars)) for n, q in enumerate(self.queues) if q.calendar]
        references += [(f"handoff[{n}].queues", name, queues) for n, r in enumerate(self.handoff) for name in r.queues]
        references += [
            (f"handoff[{n}].categories", name, categories) for n, r in enumerate(self.handoff) for name in r.categories
        ]
        if self.handoff and self.helpdesk is None:
            raise PydanticCustomError(
                "handoff", "hand-off rules need a helpdesk: set playbook.helpdesk (kind: zendesk or webhook)",
                {"key_path": "handoff"},
            )
        for where, name, known in references:
            if name not in known:
                raise PydanticCustomError(
                    "unknown_name", "'{name}' is not defined; defined: {known}",
                    {"key_path": where, "name": name, "known": ", ".join(known) or "none"},
                )
        return self

    @property
    def roster(self) -> list[str]:
        """Everyone who may act on triage items: the leads, then each queue's agents, each name once."""
        return list(dict.fromkeys([*self.leads, *(agent.name for queue in self.queues for agent in queue.agents)]))

    def queue(self, name: str) -> QueueConfig:
        """The queue called `name`."""
        return next(queue for queue in self.queues if queue.name == name)

    def business_calendar(self, queue: str) -> BusinessCalendar:
        """The business calendar of the queue called `queue` (always open when it names none)."""
        calendar = self.queue(queue).calendar
        return self.calendars[calendar].calendar() if calendar else ALWAYS_OPEN

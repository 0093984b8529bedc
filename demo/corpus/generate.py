"""Generate the demo's month: five ISO weeks (2026-W40 to 2026-W44) of posts about the demo brands.

The hand-written samples beside this script (news/, homefixers/, streamsetup/, x/, reddit/,
public_apis/) cover the last days of October; this script writes the four weeks before them and more
of the last one, so that `make demo` reports on a real month: week-over-week changes, recurring themes
and one that emerges in the last week. It writes, in each platform's own format:

- `month/x.json`: X API v2 posts and their authors (`{"users": [...], "tweets": [...]}`), only from
  the last 6 days, since X recent search reaches 7 days back from the demo's run;
- `month/reddit.json`: Reddit posts and comments (the `t3` / `t1` data objects of a listing);
- `month/public_apis.json`: Hacker News (Algolia) hits, Mastodon statuses per instance, Google News
  articles and Bluesky `postView`s;
- `news/feeds/broadband-monitor.xml`: an RSS 2.0 feed of a trade publication;
- `month/app_store.json`: App Store reviews of the brands' apps, each app's newest first as entries of
  Apple's customer-reviews JSON feed (`demo.fake_apis.app_store` serves them).

The topics recur as a customer's month would: Brightwave's outage in Leeds every week, its 12%
mid-contract price rise from the week it was announced (growing), billing errors and Wi-Fi dropouts at
a steady trickle, and the Brightwave Nova router, launched in the last week (the emerging theme);
Skylark Fibre's missed installs and market-town roll-out; Tidewell's Wi-Fi 7 hub and its slow callbacks;
and posts that name no brand. The same seed gives the same files:

    python demo/corpus/generate.py          # rewrites the files above; commit them with this script
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from demo.fake_apis.app_store import review_entry

CORPUS = Path(__file__).resolve().parent
SEED = 2026
# Monday 2026-09-28 00:00 in Europe/London (BST) opens 2026-W40; the month ends with 2026-W44.
FIRST_WEEK = datetime(2026, 9, 27, 23, tzinfo=UTC)
WEEKS = ("2026-W40", "2026-W41", "2026-W42", "2026-W43", "2026-W44")
# X recent search reaches 7 days back from the demo's run (2026-11-02 12:05 UTC on the fake X's clock).
X_FROM = datetime(2026, 10, 27, 0, tzinfo=UTC)
X_UNTIL = datetime(2026, 11, 1, 22, tzinfo=UTC)

LEEDS = ["Headingley", "Chapel Allerton", "Roundhay", "Kirkstall", "Horsforth", "Armley", "Meanwood", "Hyde Park",
         "Beeston", "Moortown"]
POSTCODES = ["LS6", "LS7", "LS8", "LS5", "LS18", "LS12", "LS17", "LS4", "LS11"]
TIMES = ["since 7am", "since last night", "for the third evening running", "since about 6:40", "all morning",
         "on and off since lunch", "since before the school run"]
MARKET_TOWNS = ["Thirsk", "Ludlow", "Malton", "Hexham", "Bakewell", "Frome", "Kendal", "Louth", "Wetherby"]


@dataclass(frozen=True)
class Topic:
    """A recurring thing people say about a brand: how many posts a week, and how they say it.

    `social` lines are posts by customers; `news` lines are (headline, body) of articles, used on the news
    platforms (RSS, Google News, Hacker News). `{town}`, `{area}`, `{postcode}`, `{when}` and `{n}` are filled in.
    """

    name: str
    brand: str
    per_week: tuple[int, int, int, int, int]
    hashtag: str
    social: tuple[str, ...]
    news: tuple[tuple[str, str], ...] = ()


TOPICS = (
    Topic("leeds-outage", "Brightwave", (12, 12, 11, 13, 9), "#brightwavedown", (
        "Brightwave down again in {area} ({postcode}) {when}. Status page says everything is fine. It is not fine.",
        "Is anyone else's Brightwave broadband out in Leeds? {area} here, hub flashing red {when}",
        "Third Brightwave outage in Leeds this month. Working from home in {area} is a joke at this point",
        "Brightwave outage in {postcode} again. Engineers 'aware of the issue' {when}, no fix time given",
        "No internet {when} in {area}, Leeds. Brightwave chat just says there is a fault at the exchange #brightwavedown",
        "Leeds Brightwave customers: the outage in {area} is back. Tethering off my phone again",
        "Brightwave has been down in {area} {when}. Kids can't do homework, I can't work. Sort the Leeds outage out",
        "Another Brightwave outage in Leeds. {area} down {when}, engineers 'working on it'",
        "Brightwave outage, Leeds, {area}: down {when}. Same exchange fault as last week?",
    ), (
        ("Brightwave outage hits {area} in Leeds for the {nth} time this autumn",
         ("Brightwave Broadband customers in {area} and across {postcode} lost their connections {when}, the latest in a "
         "string of faults at the provider's Leeds exchange. Brightwave said engineers were on site and apologised.")),
    )),
    Topic("price-rise", "Brightwave", (0, 0, 6, 14, 10), "#brightwave", (
        "Brightwave putting my bill up 12% mid-contract. Nobody mentioned that when I signed up",
        "Just got the email: Brightwave price rise of 12% from January. That's another £{n} a month for the same speed",
        "12% price rise from Brightwave in the middle of my contract. Can I leave without paying the exit fee?",
        "Brightwave price rise letter arrived. 12% for a service that drops out every week. Thinking of switching",
        "So Brightwave Broadband raise prices 12% and the speed stays the same. Great value 🙃",
        "Anyone know if Brightwave's 12% price rise lets you cancel penalty-free? Mid-contract increase should",
    ), (
        ("Brightwave Broadband to raise prices by 12% mid-contract from January",
         ("Brightwave will raise monthly prices by 12% for existing customers from January, adding about £{n} a month "
         "to a typical bill. Consumer groups called the mid-contract price rise unfair.")),
        ("Brightwave price rise: what customers can do about the 12% increase",
         ("Customers facing Brightwave's 12% mid-contract price rise may be able to leave without penalty if their "
         "contract did not state the increase in pounds and pence, the regulator said.")),
    )),
    Topic("billing", "Brightwave", (6, 5, 6, 5, 3), "#brightwave", (
        "Brightwave have double billed me again this month. Second time since the summer. Refund please",
        "Anyone else been billed twice by Brightwave this month? £{n} taken two days apart",
        "Brightwave billing is a mess. Double billed this month and charged for a router I sent back",
        "Spent 50 minutes on hold to Brightwave about being double billed. Still not refunded",
        "Brightwave double billed me, took £{n} twice. Refund 'within 10 working days' apparently",
    )),
    Topic("hub-wifi", "Brightwave", (6, 6, 5, 6, 3), "#brightwave", (
        "My Brightwave hub keeps dropping the WiFi every evening. Wired is fine, wireless dies around 8pm",
        "Brightwave Hub 3 WiFi dropouts again. Anyone found a channel setting that stops it?",
        "How do I stop the Brightwave hub WiFi dropping out upstairs? Thinking of buying a mesh kit",
        "The Brightwave hub WiFi is so flaky. Laptop drops off every half hour, dropouts all evening",
        "Brightwave hub WiFi dropouts every evening. Factory reset the hub, still dropping",
    )),
    Topic("engineer-praise", "Brightwave", (5, 6, 5, 6, 2), "#brightwave", (
        "Shoutout to the Brightwave engineer who came out today, fixed the line in 20 minutes. Brilliant service",
        "Credit where it's due: Brightwave support sorted my connection in one call. Thanks!",
        "Brightwave engineer went above and beyond this morning, ran a new cable to the office. Great job",
        "Great service from the Brightwave engineer today, fixed the line and explained everything. Thanks!",
        "Thanks to the Brightwave engineer who fixed our line this morning. Brilliant, friendly service",
    )),
    Topic("nova-launch", "Brightwave", (0, 0, 0, 0, 14), "#brightwave", (
        "The new Brightwave Nova router is out: WiFi 7 and a mesh disc in the box. Is it worth the upgrade?",
        "Brightwave Nova arrived today. WiFi 7 router, much better range than the old one so far",
        "Does the Brightwave Nova router launch mean existing customers get a free upgrade from their current router?",
        "Set up the Brightwave Nova this evening. The app setup took five minutes, WiFi 7 speeds upstairs now",
        "Brightwave Nova router launch: £{n} for existing customers to upgrade? Hard pass",
        "First look at the Brightwave Nova: WiFi 7 router, 2.5G port, mesh ready. Nice upgrade",
    ), (
        ("Brightwave launches Nova router with WiFi 7 and mesh",
         ("Brightwave has launched the Nova, a WiFi 7 router with a 2.5 gigabit port and an optional mesh disc. New "
         "customers get it free; existing customers can upgrade for £{n}.")),
        ("Brightwave Nova router review: WiFi 7 for the masses",
         ("We tested Brightwave's new Nova router for a week. WiFi 7 range is a clear step up from its predecessor, though "
         "the app still hides advanced settings.")),
    )),
    Topic("missed-installs", "Skylark Fibre", (7, 6, 7, 7, 3), "#skylarkfibre", (
        "Skylark Fibre installer didn't turn up. Again. Took a day off work for nothing",
        "Second missed install appointment from Skylark Fibre. No call, no text, no engineer",
        "Skylark Fibre install delayed for the third time. Starting to regret switching",
        "Waiting in all day for the Skylark Fibre install and the install appointment just vanished from the app",
        "Skylark Fibre missed the install appointment again. Installer no-show, no call",
        "Another missed Skylark Fibre install appointment. Day off work wasted waiting for the installer",
    )),
    Topic("market-towns", "Skylark Fibre", (5, 5, 5, 5, 2), "#skylarkfibre", (
        "Skylark Fibre are finally digging in {town}. Full fibre by Christmas apparently",
        "Skylark Fibre vans all over {town} this week. Anyone signed up for the full fibre roll-out?",
        "Skylark Fibre full fibre roll-out reached {town}. Ordered today, install next month",
        "Full fibre in {town} at last: Skylark Fibre roll-out finished on our street",
    ), (
        ("Skylark Fibre extends full fibre roll-out to {town}",
         ("Skylark Fibre says 6,000 homes in {town} will be able to order full fibre by December as its market towns "
         "roll-out continues.")),
    )),
    Topic("wifi7-hub", "Tidewell", (6, 6, 7, 6, 3), "#tidewell", (
        "The Tidewell WiFi 7 hub is genuinely good. Coverage in the garden office for the first time",
        "Tidewell's WiFi 7 hub is nice but the app keeps logging me out",
        "Thinking of switching to Tidewell for the WiFi 7 hub. Anyone using it with a big house?",
        "Tidewell WiFi 7 hub arrived. WiFi 7 coverage upstairs is miles better than the old hub",
    ), (
        ("Tidewell WiFi 7 hub now standard on all full fibre plans",
         "Tidewell Telecom has made its WiFi 7 hub standard on every full fibre plan, replacing the older WiFi 6 model."),
        ("Tidewell WiFi 7 hub: {n},000 customers upgraded so far",
         ("Tidewell says {n},000 customers have moved to its WiFi 7 hub since launch, with complaints about WiFi "
         "coverage down by a third.")),
    )),
    Topic("callbacks", "Tidewell", (6, 6, 6, 7, 3), "#tidewell", (
        "Tidewell promised a callback 'within 24 hours'. That was Tuesday",
        "Still waiting on Tidewell to call back about my fault. Day {n} now",
        "Tidewell customer service: three callbacks booked, zero calls received",
        "Tidewell said they'd call back about the fault. No callback, day {n}. Customer service is a joke",
        "Waiting on a Tidewell callback since Monday. Customer service keeps promising a call back",
    )),
    Topic("no-brand", "", (3, 3, 3, 3, 2), "", (
        "Does anyone know a good mesh WiFi kit for a three storey house? Budget about £200",
        "Copper switch-off letter arrived today. Landline moves to digital in March",
        "Spent the weekend running ethernet through the loft. Worth every minute",
    )),
)

ORDINALS = ["second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
            "twelfth", "latest"]
FIRST_NAMES = ["Amira", "Ben", "Callum", "Dee", "Ellie", "Farid", "Grace", "Hamza", "Isla", "Jack", "Kiran", "Laura",
               "Mo", "Nadia", "Olly", "Precious", "Rhys", "Sana", "Tariq", "Una", "Vik", "Wendy", "Yusuf", "Zara"]
LAST_NAMES = ["Ahmed", "Brooks", "Clarke", "Doyle", "Evans", "Fraser", "Gill", "Hughes", "Iqbal", "Jones", "Khan",
              "Lowe", "Murray", "Nash", "Owen", "Patel", "Quinn", "Reid", "Shaw", "Turner", "Walsh", "Young"]
PUBLISHERS = [("Broadband Monitor", "broadbandmonitor.example"), ("The Telecom Desk", "telecomdesk.example"),
              ("Northern Post", "northernpost.example"), ("Home Tech Weekly", "hometechweekly.example")]


@dataclass
class Post:
    """One generated post, before it is written in a platform's format."""

    topic: Topic
    at: datetime
    text: str
    headline: str | None  # for the news platforms
    author: tuple[str, str]  # (display name, handle)
    platform: str
    lang: str = "en"


# Posts in other languages, at fixed moments: (topic, ISO time, language, author, text). They exercise the
# playbook's language routing (config/demo.yaml: Spanish to an agent who speaks it).
OTHER_LANGUAGES = (
    ("leeds-outage", "2026-10-14T19:12:40", "es", ("Lucía Ferrer", "luciaferrer"),
     "Tercera caída de Brightwave esta semana en Leeds. Sin internet desde ayer. Voy a cancelar el contrato."),
    ("price-rise", "2026-10-29T08:41:05", "es", ("Javier Ortega", "javiortega"),
     "Brightwave sube el precio un 12% a mitad de contrato. ¿Se puede cancelar sin penalización?"),
)


# Posts the care team must act on at once, at fixed moments: (topic, ISO time, author, text). The playbook's crisis
# category (config/demo.yaml: unsafe, "data breach", ...) escalates them to the lead.
SAFETY_POSTS = (
    ("hub-wifi", "2026-10-13T21:17:09", ("Grace Owen", "graceowen"),
     "My Brightwave hub is too hot to touch and smells of burning plastic. Unplugged it. Is this unsafe? #brightwave"),
    ("billing", "2026-10-20T10:03:51", ("Farid Khan", "faridkhan"),
     "Got a phishing email quoting my Brightwave account number and last bill. Has there been a data breach?"),
    ("hub-wifi", "2026-10-28T06:52:30", ("Una Reid", "una_reid"),
     "Brightwave engineer left a live cable hanging at the front door in Roundhay. Unsafe with kids around"),
)


def _slots(rng: random.Random, nth: int = 0) -> dict[str, str]:
    """What fills one post's blanks (a headline and its article share them)."""
    return {
        "area": rng.choice(LEEDS), "postcode": rng.choice(POSTCODES), "when": rng.choice(TIMES),
        "town": rng.choice(MARKET_TOWNS), "n": str(rng.choice([4, 5, 6, 7, 29, 49])),
        "nth": ORDINALS[min(nth, len(ORDINALS) - 1)],
    }


def _people(rng: random.Random, count: int) -> list[tuple[str, str]]:
    people: set[tuple[str, str]] = set()
    while len(people) < count:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        handle = rng.choice([f"{first}{last}", f"{first.lower()}_{last.lower()}", f"{first.lower()}{rng.randint(1, 99)}"])
        people.add((f"{first} {last}", handle.lower()))
    return sorted(people)


def posts(seed: int = SEED) -> list[Post]:
    """Every post of the month, in time order."""
    rng = random.Random(seed)
    people = _people(rng, 140)
    made: list[Post] = []
    articles: dict[str, int] = {}  # news articles so far, per topic (the outage's "third time")
    run_once: set[tuple[str, int]] = set()  # a story with a fixed headline runs once; one with blanks once a week
    for week in range(len(WEEKS)):
        headlines_used = set(run_once)
        start = FIRST_WEEK + timedelta(weeks=week)
        for topic in TOPICS:
            for _ in range(topic.per_week[week]):
                at = start + timedelta(days=rng.randrange(7), hours=rng.randint(8, 22), minutes=rng.randrange(60),
                                       seconds=rng.randrange(60))
                unused = [index for index in range(len(topic.news)) if (topic.name, index) not in headlines_used]
                if unused and rng.random() < 0.3:
                    index = rng.choice(unused)
                    headline, body = topic.news[index]
                    headlines_used.add((topic.name, index))
                    if "{" not in headline:
                        run_once.add((topic.name, index))
                    slots = _slots(rng, articles.get(topic.name, 0))
                    articles[topic.name] = articles.get(topic.name, 0) + 1
                    platform = rng.choice(["rss", "rss", "google_news", "hackernews"])
                    made.append(Post(topic, at, body.format(**slots), headline.format(**slots), rng.choice(people), platform))
                    continue
                if X_FROM <= at < X_UNTIL and rng.random() < 0.5:
                    platform = "x"
                else:
                    platform = rng.choice(["reddit", "reddit", "mastodon", "bluesky", "bluesky"])
                text = rng.choice(topic.social).format(**_slots(rng))
                if platform == "mastodon" and topic.hashtag and topic.hashtag not in text.lower():
                    text = f"{text} {topic.hashtag}"
                made.append(Post(topic, at, text, None, rng.choice(people), platform))
    topics = {topic.name: topic for topic in TOPICS}
    for topic_name, written_at, lang, author, text in OTHER_LANGUAGES:
        moment = datetime.fromisoformat(written_at).replace(tzinfo=UTC)
        made.append(Post(topics[topic_name], moment, text, None, author, "bluesky", lang))
    return sorted(made, key=lambda post: post.at)


def _iso(at: datetime, millis: bool = True) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S") + (".000Z" if millis else "Z")


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = digits[rest] + out
    return out


def _slug(text: str) -> str:
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return "-".join(words[:9])


def x_document(month: list[Post]) -> dict[str, list[dict[str, Any]]]:
    """The X posts, as recent search returns them (`data` and `includes.users`)."""
    users: dict[str, dict] = {}
    tweets = []
    for sequence, post in enumerate(post for post in month if post.platform == "x"):
        name, handle = post.author
        user_id = str(1500000000000000000 + sum(ord(c) * 7919 ** i for i, c in enumerate(handle)) % 10 ** 15)
        users[user_id] = {"id": user_id, "username": handle, "name": name, "verified": False, "verified_type": "none",
                          "public_metrics": {"followers_count": 40 + len(handle) * 97 % 3000, "following_count": 180,
                                             "tweet_count": 2400, "listed_count": 1}}
        millis = int(post.at.timestamp() * 1000)
        tweet_id = str(((millis - 1288834974657) << 22) | sequence)
        tweets.append({
            "id": tweet_id, "text": post.text.replace("&", "&amp;"), "author_id": user_id, "created_at": _iso(post.at),
            "lang": "en", "conversation_id": tweet_id, "edit_history_tweet_ids": [tweet_id],
            "public_metrics": {"retweet_count": sequence % 4, "reply_count": sequence % 3, "like_count": 3 + sequence % 17,
                               "quote_count": 0, "bookmark_count": 0, "impression_count": 150 + 37 * (sequence % 29)},
        })
    return {"users": sorted(users.values(), key=lambda user: user["id"]), "tweets": tweets}


def reddit_document(month: list[Post], seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """The Reddit posts (t3) and a reply or two under some of them (t1), as a listing's data objects."""
    rng = random.Random(seed + 1)
    posts_out, comments = [], []
    for sequence, post in enumerate(post for post in month if post.platform == "reddit"):
        subreddit = "HomeNetworking" if post.topic.name in ("hub-wifi", "nova-launch", "no-brand") else "UKBroadband"
        post_id = _base36(int("1n00000", 36) + int((post.at - FIRST_WEEK).total_seconds() // 60) * 10 + sequence % 10)
        title, _, rest = post.text.partition(". ")
        slug = "_".join(_slug(title).split("-"))[:50]
        permalink = f"/r/{subreddit}/comments/{post_id}/{slug}/"
        replies = rng.choice([0, 0, 1, 2])
        posts_out.append({
            "id": post_id, "name": f"t3_{post_id}", "subreddit": subreddit, "subreddit_name_prefixed": f"r/{subreddit}",
            "subreddit_type": "public", "subreddit_subscribers": 48210 if subreddit == "UKBroadband" else 731400,
            "title": title, "selftext": rest or "", "author": post.author[1], "created_utc": float(int(post.at.timestamp())),
            "permalink": permalink, "url": f"https://www.reddit.com{permalink}", "domain": f"self.{subreddit}",
            "is_self": True, "score": 3 + rng.randrange(90), "ups": 3 + rng.randrange(90), "upvote_ratio": 0.9,
            "num_comments": replies, "over_18": False, "link_flair_text": None, "removed_by_category": None,
            "stickied": False, "locked": False,
        })
        for reply in range(replies):
            comment_id = f"m{post_id}{reply}"
            at = post.at + timedelta(minutes=17 + 41 * reply)
            body = rng.choice([
                "Same here, {} is useless at the moment.".format(post.topic.brand or "mine"),
                "Complain in writing and ask for it to be logged as a formal complaint. Worked for me.",
                "Check the status page, there was a note about this earlier.",
                "Been like this for weeks round here. {} really need to sort it.".format(post.topic.brand or "They"),
            ])
            comments.append({
                "id": comment_id, "name": f"t1_{comment_id}", "link_id": f"t3_{post_id}", "parent_id": f"t3_{post_id}",
                "subreddit": subreddit, "subreddit_name_prefixed": f"r/{subreddit}", "subreddit_type": "public",
                "author": rng.choice(FIRST_NAMES).lower() + str(rng.randint(10, 99)), "body": body,
                "created_utc": float(int(at.timestamp())), "permalink": f"{permalink}{comment_id}/",
                "score": 1 + rng.randrange(20), "ups": 1 + rng.randrange(20), "is_submitter": False, "stickied": False,
                "collapsed": False,
            })
    return {"posts": posts_out, "comments": comments}


def _mastodon_html(text: str, instance: str) -> tuple[str, list[dict[str, str]]]:
    words, tags = [], []
    for word in text.split(" "):
        if word.startswith("#") and word[1:].isalnum():
            tag = word[1:].lower()
            tags.append({"name": tag, "url": f"https://{instance}/tags/{tag}"})
            word = f'<a href="https://{instance}/tags/{tag}" class="mention hashtag" rel="tag">#<span>{word[1:]}</span></a>'
        else:
            word = escape(word, quote=False)
        words.append(word)
    return "<p>" + " ".join(words) + "</p>", tags


def safety_posts() -> list[Post]:
    """The `SAFETY_POSTS`, on Bluesky."""
    topics = {topic.name: topic for topic in TOPICS}
    return [Post(topics[topic_name], datetime.fromisoformat(written_at).replace(tzinfo=UTC), text, None, author, "bluesky")
            for topic_name, written_at, author, text in SAFETY_POSTS]


def public_apis_document(month: list[Post], extra: Sequence[Post] = ()) -> dict[str, Any]:
    """Hacker News hits, Mastodon statuses per instance, Google News articles and Bluesky posts (`extra` last)."""
    hackernews, google_news, bluesky = [], [], []
    mastodon: dict[str, list[dict[str, Any]]] = {"mastodon.example": [], "toot.example": []}
    for sequence, post in enumerate([*month, *extra]):
        name, handle = post.author
        stamp = int(post.at.timestamp())
        if post.platform == "hackernews":
            item_id = 44000000 + (stamp - int(FIRST_WEEK.timestamp())) // 60
            publisher, domain = PUBLISHERS[sequence % len(PUBLISHERS)]
            hackernews.append({
                "objectID": str(item_id), "_tags": ["story", f"author_{handle}", f"story_{item_id}"],
                "created_at": _iso(post.at, millis=False), "created_at_i": stamp, "author": handle,
                "title": post.headline, "url": f"https://{domain}/{post.at:%Y/%m/%d}/{_slug(post.headline or '')}",
                "story_text": None, "points": 5 + sequence % 140, "num_comments": sequence % 30, "story_id": item_id,
                "parent_id": None,
            })
        elif post.platform == "google_news":
            publisher, domain = PUBLISHERS[sequence % len(PUBLISHERS)]
            google_news.append({
                "headline": post.headline, "publisher": publisher, "publisher_url": f"https://{domain}",
                "article_url": f"https://{domain}/{post.at:%Y/%m/%d}/{_slug(post.headline or '')}",
                "published": _iso(post.at, millis=False),
            })
        elif post.platform == "mastodon":
            instance = "mastodon.example" if sequence % 3 else "toot.example"
            status_id = str(113000000000000000 + (stamp - int(FIRST_WEEK.timestamp())) * 1000 + sequence % 1000)
            content, tags = _mastodon_html(post.text, instance)
            account_id = str(200000 + sum(map(ord, handle)))
            mastodon[instance].append({
                "id": status_id, "created_at": _iso(post.at), "in_reply_to_id": None, "language": "en",
                "visibility": "public", "spoiler_text": "", "uri": f"https://{instance}/users/{handle}/statuses/{status_id}",
                "url": f"https://{instance}/@{handle}/{status_id}", "replies_count": sequence % 3,
                "reblogs_count": sequence % 5, "favourites_count": sequence % 11, "content": content,
                "account": {"id": account_id, "username": handle, "acct": handle, "display_name": name,
                            "followers_count": 50 + sum(map(ord, handle)) % 900, "url": f"https://{instance}/@{handle}"},
                "tags": tags,
            })
        elif post.platform == "bluesky":
            did = "did:plc:" + (handle + "x" * 24)[:24]
            rkey = "3m" + _base36(stamp * 1000 + sequence % 1000)[-11:]
            bluesky.append({
                "uri": f"at://{did}/app.bsky.feed.post/{rkey}", "cid": f"bafyrei{rkey}{'a' * 40}"[:59],
                "author": {"did": did, "handle": f"{handle}.bsky.social", "displayName": name},
                "record": {"$type": "app.bsky.feed.post", "createdAt": _iso(post.at), "langs": [post.lang], "text": post.text},
                "indexedAt": _iso(post.at + timedelta(seconds=1)), "likeCount": sequence % 13,
                "replyCount": sequence % 3, "repostCount": sequence % 4, "quoteCount": 0,
            })
    return {"hackernews": hackernews, "mastodon": mastodon, "google_news": google_news, "bluesky": bluesky}


def broadband_monitor_feed(month: list[Post]) -> str:
    """The trade publication's RSS 2.0 feed: its articles of the month, newest first."""
    items = []
    for post in sorted((post for post in month if post.platform == "rss"), key=lambda post: post.at, reverse=True):
        slug = f"{post.at:%Y-%m-%d-%H%M}-{_slug(post.headline or '')}"
        items.append(
            "    <item>\n"
            f"      <title>{escape(post.headline or '')}</title>\n"
            f"      <link>{{{{news}}}}/broadband-monitor/{slug}.html</link>\n"
            f'      <guid isPermaLink="false">bbm-{slug}</guid>\n'
            f"      <pubDate>{format_datetime(post.at, usegmt=True)}</pubDate>\n"
            f"      <dc:creator>{escape(post.author[0])}</dc:creator>\n"
            f"      <description><![CDATA[<p>{post.text}</p>]]></description>\n"
            "    </item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">\n'
        "  <channel>\n"
        "    <title>Broadband Monitor</title>\n"
        "    <link>{{news}}/broadband-monitor/</link>\n"
        "    <description>Trade news on UK broadband providers, prices and outages.</description>\n"
        "    <language>en-gb</language>\n"
        "    <lastBuildDate>Mon, 02 Nov 2026 08:00:00 GMT</lastBuildDate>\n"
        + "\n".join(items) + "\n  </channel>\n</rss>\n"
    )


@dataclass(frozen=True)
class App:
    """A brand's app on the App Store, and what its reviewers say, each line with its stars."""

    app_id: str
    country: str
    brand: str
    name: str
    artist: str
    per_week: tuple[int, int, int, int, int]
    reviews: tuple[tuple[int, str, str], ...]  # (stars, title, text)
    launch_reviews: tuple[tuple[int, str, str], ...] = ()  # W44 only: the Nova router's setup in the app


APPS = (
    App("1548203317", "gb", "Brightwave", "Brightwave Home", "Brightwave Broadband Ltd", (6, 6, 8, 8, 5), (
        (1, "Useless during outages", "Status page says no problems while my area has been down all evening. Pointless."),
        (1, "Keeps logging me out", "Every time I open it I have to sign in again, and the code text takes ages."),
        (2, "Bill shows twice", "The billing tab shows the same charge twice this month and there is no way to query it."),
        (2, "Speed test is wrong", "The in-app speed test says 900Mb while my laptop gets 60. Not helpful."),
        (3, "Does the basics", "Fine for checking the bill. Would like to see outage times for my postcode."),
        (4, "Handy for the hub", "Restarting the hub from my phone is handy. Wi-Fi settings could be clearer."),
        (5, "Sorted my fault", "Reported a fault in the app and an engineer came the next morning. Great."),
        (5, "Clean and quick", "Much better than the old version. Bill, usage and support chat in one place."),
    ), (
        (5, "Nova setup in minutes", "Set up the new Nova router through the app in five minutes. Very smooth."),
        (2, "Nova not listed", "The app does not offer the Nova upgrade on my account even though I was told it would."),
        (4, "Nova pairing ok", "Paired the Nova mesh disc with the app first time. Needs a dark mode."),
    )),
    App("1623004517", "gb", "Tidewell", "Tidewell My Account", "Tidewell Telecom plc", (3, 3, 3, 4, 2), (
        (1, "Callback never comes", "Booked a callback in the app three times. Nobody called."),
        (2, "Logs me out", "The app keeps logging me out and forgets my fingerprint sign-in."),
        (4, "Wi-Fi 7 hub controls", "Good controls for the Wi-Fi 7 hub, guest network in two taps."),
        (5, "Easy to use", "Paying the bill and checking usage is easy."),
    )),
)


def app_store_document(seed: int = SEED) -> dict[str, Any]:
    """Each app's reviews over the month, newest first, as entries of Apple's customer-reviews JSON feed."""
    rng = random.Random(seed + 2)
    people = _people(rng, 60)
    apps = []
    for number, app in enumerate(APPS):
        reviews = []
        for week in range(len(WEEKS)):
            start = FIRST_WEEK + timedelta(weeks=week)
            lines = app.reviews + (app.launch_reviews if week == len(WEEKS) - 1 else ())
            for _ in range(app.per_week[week] + (len(app.launch_reviews) if week == len(WEEKS) - 1 else 0)):
                at = start + timedelta(days=rng.randrange(7), hours=rng.randint(7, 22), minutes=rng.randrange(60),
                                       seconds=rng.randrange(60))
                stars, title, text = rng.choice(lines)
                reviews.append((at, stars, title, text, rng.choice(people)[1]))
        reviews.sort(reverse=True)
        apps.append({
            "id": app.app_id, "country": app.country, "brand": app.brand, "name": app.name, "artist": app.artist,
            "reviews": [review_entry(10_000_000_000 + number * 1_000_000 + int(at.timestamp()) % 1_000_000, at, stars,
                                     title, text, app_id=app.app_id, country=app.country, author=author,
                                     version="6.4" if at >= FIRST_WEEK + timedelta(weeks=4) else "6.3")
                        for at, stars, title, text, author in reviews],
        })
    return {"apps": apps}


def main() -> None:
    """Write the month's files."""
    month = posts()
    (CORPUS / "month").mkdir(exist_ok=True)

    def dump(name: str, document: object) -> None:
        (CORPUS / "month" / name).write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    dump("x.json", x_document(month))
    dump("reddit.json", reddit_document(month))
    dump("public_apis.json", public_apis_document(month, safety_posts()))
    dump("app_store.json", app_store_document())
    (CORPUS / "news" / "feeds" / "broadband-monitor.xml").write_text(broadband_monitor_feed(month), encoding="utf-8")
    counts: dict[str, int] = {}
    for post in month:
        counts[post.platform] = counts.get(post.platform, 0) + 1
    print(f"{len(month)} posts: " + ", ".join(f"{platform} {count}" for platform, count in sorted(counts.items())))


if __name__ == "__main__":
    main()

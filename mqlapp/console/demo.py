"""Demo data for `make run`: users for the three roles, rules, a Japanese B2B company's leads
with a few months of activity and of sales work, made through the real services."""

import random
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from handoff.models import LeadLifecycle
from handoff.qualify import leads_qualify_pending
from handoff.services import (
    leads_reapproach_due,
    mql_qualify,
    policy_get,
    policy_update,
    queue_action,
)
from handoff.sla import mql_sla_sweep
from mqlapp.leads.errors import DomainError
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.ingest.services import events_ingest
from mqlapp.leads.models import Event, Lead, Source, User
from mqlapp.leads.roles import ensure_groups
from mqlapp.leads.selectors import events_vouched
from scoring.models import ScoringRule
from scoring.services import leads_score_pending, rule_create, score_path

DEMO_USERS = [
    ("admin", "mqlapp-admin", "admin"),
    ("marketer", "mqlapp-marketer", "marketer"),
    ("sato", "mqlapp-sales", "sales"),
    ("suzuki", "mqlapp-sales", "sales"),
]

DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "Web visit",
        "kind": "behavior",
        "event": "page",
        "points": 1,
        "max_times": 3,
        "window_days": 1,
        "half_life_days": 30,
    },
    {
        "name": "Pricing page",
        "kind": "behavior",
        "event": "page",
        "points": 10,
        "conditions": [{"field": "properties.path", "op": "startswith", "value": "/pricing"}],
        "max_times": 1,
        "window_days": 7,
    },
    {
        "name": "Newsletter opened",
        "kind": "behavior",
        "event": "Email Opened",
        "points": 2,
        "max_times": 10,
        "half_life_days": 30,
    },
    {
        "name": "Email link clicked",
        "kind": "behavior",
        "event": "Email Link Clicked",
        "points": 5,
        "half_life_days": 30,
    },
    {
        "name": "Whitepaper download",
        "kind": "behavior",
        "event": "Document Downloaded",
        "points": 20,
        "max_times": 3,
        "half_life_days": 45,
    },
    {
        "name": "Seminar attended",
        "kind": "behavior",
        "event": "Seminar Attended",
        "points": 30,
        "half_life_days": 90,
    },
    {"name": "Trade show visit", "kind": "behavior", "event": "Trade Show Visited", "points": 15},
    {"name": "Demo requested", "kind": "behavior", "event": "Demo Requested", "points": 50},
    {"name": "Unsubscribed", "kind": "behavior", "event": "Unsubscribed", "points": -30},
    {
        "name": "Download then silence",
        "kind": "inactivity",
        "after_event": "Document Downloaded",
        "watch_events": ["page", "Email Opened"],
        "inactive_days": 14,
        "points": -10,
    },
    {
        "name": "Manager or above",
        "kind": "fit",
        "points": 15,
        "conditions": [
            {
                "field": "title",
                "op": "in",
                "value": ["部長", "課長", "本部長", "取締役", "Manager", "Director"],
            }
        ],
    },
    {
        "name": "Company size 100+",
        "kind": "fit",
        "points": 10,
        "conditions": [{"field": "employees", "op": "gte", "value": 100}],
    },
]

FAMILY = ["佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤"]
GIVEN = ["太郎", "花子", "健", "美咲", "大輔", "陽子", "翔", "由美", "誠", "彩"]
COMPANIES = [
    ("株式会社サクラ製作所", "sakura-mfg.co.jp", 850, "製造"),
    ("みなと物流株式会社", "minato-logi.co.jp", 320, "物流"),
    ("株式会社ヒカリソフト", "hikari-soft.jp", 45, "IT"),
    ("北斗商事株式会社", "hokuto-shoji.co.jp", 1200, "商社"),
    ("あおば医療システム株式会社", "aoba-med.jp", 150, "医療"),
]
TITLES = ["部長", "課長", "主任", "担当", "本部長", "マネージャー"]
DEPARTMENTS = ["情報システム部", "営業企画部", "製造部", "経営企画室", "総務部"]
ACTIVITY = [
    ("page", None, {"path": "/", "url": "https://example.co.jp/"}),
    ("page", None, {"path": "/products", "url": "https://example.co.jp/products"}),
    ("page", None, {"path": "/pricing", "url": "https://example.co.jp/pricing"}),
    ("track", "Email Opened", {"campaign": "newsletter"}),
    ("track", "Email Link Clicked", {"campaign": "newsletter"}),
    ("track", "Document Downloaded", {"title": "DX推進ガイド", "category": "whitepaper"}),
    ("track", "Seminar Attended", {"name": "製造業DXセミナー"}),
    ("track", "Trade Show Visited", {"name": "Japan IT Week"}),
]


def demo_origin() -> str:
    """scheme://host:port of APP_BASE_URL (which follows PORT unless set)."""
    parts = urlsplit(settings.APP_BASE_URL)
    return f"{parts.scheme}://{parts.netloc}"


def demo_browser_source() -> Source:
    """The demo site's browser key; the site `make run` serves (APP_BASE_URL, which follows
    PORT) is among its allowed origins, also after a run on another port."""
    origin = demo_origin()
    source, _ = Source.objects.get_or_create(
        name="Corporate website",
        defaults={"allowed_origins": [origin], "kind": Source.Kind.BROWSER},
    )
    if origin not in source.allowed_origins:
        source.allowed_origins = [*source.allowed_origins, origin]
        source.save(update_fields=["allowed_origins"])
    return source


def demo_seed(*, leads: int = 40, seed: int = 7) -> dict[str, Any]:
    """Create the demo once; a second call changes nothing."""
    ensure_groups()
    created_users = []
    for username, password, role in DEMO_USERS:
        if not User.objects.filter(username=username).exists():
            user = User.objects.create_user(
                username=username, password=password, email=f"{username}@example.com"
            )
            user.groups.add(Group.objects.get(name=role))
            created_users.append(username)
    if not ScoringRule.objects.exists():
        for rule in DEMO_RULES:
            rule_create(data=rule)
    policy_get()
    policy_update(data={"mql_threshold": 100, "fast_track_events": ["Demo Requested"]})
    source = demo_browser_source()
    # A back end's key (server SDKs, curl): Segment's full semantics (docs/security.md).
    server, _ = Source.objects.get_or_create(
        name="CRM sync", defaults={"allowed_origins": [], "kind": Source.Kind.SERVER}
    )
    fresh = not Lead.objects.exists()
    if fresh:
        _demo_leads(source, count=leads, rng=random.Random(seed), now=timezone.now())
    if not Event.objects.filter(lead__isnull=True).exclude(anonymous_id="").exists():
        _demo_visitors(source, rng=random.Random(seed + 1))
    # Score and qualify now, in this process, so the first page already shows MQLs.
    while leads_score_pending(limit=500):
        pass
    if fresh:
        _demo_history(now=timezone.now())
        while leads_score_pending(limit=500):
            pass
    while leads_qualify_pending(limit=500):
        pass
    return {
        "users": DEMO_USERS,
        "created_users": created_users,
        "source": source,
        "server_source": server,
    }


DEMO_DAYS = 120
REASONS_REJECT = ("no_budget", "no_need", "competitor", "bad_timing", "bad_contact_data")
HOT = (
    ("track", "Document Downloaded", {"title": "DX推進ガイド", "category": "whitepaper"}),
    ("page", None, {"path": "/pricing", "url": "https://example.co.jp/pricing"}),
    ("track", "Seminar Attended", {"name": "製造業DXセミナー"}),
    ("track", "Email Link Clicked", {"campaign": "seminar-follow-up"}),
    ("track", "Document Downloaded", {"title": "導入事例集", "category": "case-study"}),
    ("track", "Trade Show Visited", {"name": "Japan IT Week"}),
)


def _demo_leads(source: Source, *, count: int, rng: random.Random, now: datetime) -> None:
    """A few months of activity: anonymous visits, a form fill that identifies, newsletters
    and visits since; every other lead or so has a burst of buying signals at some moment
    of the period (it crosses the MQL threshold then), a few ask for a demo or unsubscribe.
    All of it goes through ingestion, with the events' own past timestamps."""
    raws: list[dict[str, Any]] = []
    for i in range(count):
        # every (family, given) pair differs for the first 100 leads, and each tenth lead
        # (the ones heating up today) has another family and company
        turn = i // len(FAMILY)
        family = FAMILY[(i + turn) % len(FAMILY)]
        given = GIVEN[(i * 3) % len(GIVEN)]
        company, domain, employees, industry = COMPANIES[(i + 2 * turn) % len(COMPANIES)]
        anon = str(uuid.uuid4())
        email = f"user{i:03d}@{domain}"
        if i % 10 == 9:  # noqa: PLR2004 (a few arrive and heat up in the last day)
            first_seen = now - timedelta(hours=rng.randint(30, 60))
        else:
            first_seen = now - timedelta(days=rng.uniform(6, DEMO_DAYS), hours=rng.randint(0, 23))
        at = first_seen
        for _ in range(rng.randint(1, 4)):
            raws.append(_raw("page", None, ACTIVITY[rng.randint(0, 2)][2], anon, at))
            at += timedelta(hours=rng.randint(2, 30))
        raws.append(
            {
                "type": "identify",
                "anonymousId": anon,
                "userId": email,
                "traits": {
                    "email": email,
                    "lastName": family,
                    "firstName": given,
                    "company": company,
                    "title": rng.choice(TITLES),
                    "department": rng.choice(DEPARTMENTS),
                    "employees": employees,
                    "industry": industry,
                    "country": "JP",
                },
                "timestamp": at.isoformat(),
                "messageId": str(uuid.uuid4()),
            }
        )
        identified = at
        # background: a visit or a newsletter every few days until now
        while True:
            at += timedelta(hours=rng.randint(30, 200))
            if at >= now:
                break
            kind, name, props = ACTIVITY[rng.randint(0, 4)]
            raws.append(_raw(kind, name, props, anon, at))
        raws += _signals(i, anon, since=identified, now=now, rng=rng)
    received = timezone.now()
    messages = [message_parse(raw, index=i, received_at=received) for i, raw in enumerate(raws)]
    for start in range(0, len(messages), 500):
        events_ingest(messages[start : start + 500], source=source)
    # Ingestion dates a new lead by its arrival (now); these leads arrived over the months
    # their events span, so each is dated by its first event (the funnel's nurturing entry).
    first = Event.objects.filter(lead_id=OuterRef("pk")).order_by("timestamp").values("timestamp")
    Lead.objects.update(created_at=Coalesce(Subquery(first[:1]), F("created_at")))


def _signals(
    i: int, anon: str, *, since: datetime, now: datetime, rng: random.Random
) -> list[dict[str, Any]]:
    """The buying signals of the `i`th lead after it identified at `since`: a burst of them
    (every other lead or so, some within the last day), a demo request or an unsubscribe."""
    span = (now - since).total_seconds()
    burst: datetime | None = None
    if i % 10 == 9:  # noqa: PLR2004 (a few heat up in the last day)
        burst = now - timedelta(hours=rng.randint(3, 18))
    elif i % 5 in (0, 1, 3):
        burst = since + timedelta(seconds=span * rng.uniform(0.1, 0.8))
    raws = []
    if burst is not None:
        moment = burst
        for kind, name, props in HOT:
            raws.append(_raw(kind, name, props, anon, min(moment, now)))
            moment += timedelta(minutes=rng.randint(20, 600))
    middle = since + timedelta(seconds=span * rng.uniform(0.3, 0.9))
    if i % 13 == 5:  # noqa: PLR2004 (every 13th lead, offset: a few hand-raisers)
        raws.append(_raw("track", "Demo Requested", {}, anon, middle))
    if i % 11 == 3:  # noqa: PLR2004 (and a few unsubscribes)
        raws.append(_raw("track", "Unsubscribed", {}, anon, middle))
    return raws


# What sales did with each MQL, in turn: (action, hours after the previous step, reason).
# Hours past the SLA (24 h) on the first step make a breach.
SCENARIOS: tuple[tuple[tuple[str, float, str], ...], ...] = (
    (("accept", 3, ""), ("qualify", 24 * 4, ""), ("win", 24 * 18, "")),
    (("reject", 6, "no_budget"),),
    (("accept", 30, ""), ("qualify", 24 * 6, ""), ("lose", 24 * 21, "")),
    (("recycle", 20, "bad_timing"),),
    (("accept", 2, ""),),
    (("reject", 40, "no_need"),),
    (("accept", 5, ""), ("qualify", 24 * 3, "")),
    (("reject", 8, "competitor"),),
    (("accept", 50, ""), ("qualify", 24 * 7, ""), ("win", 24 * 25, "")),
    (("recycle", 12, "no_need"),),
    (("reject", 10, "no_budget"),),
    (("accept", 4, ""), ("qualify", 24 * 5, ""), ("win", 24 * 30, "")),
    (("reject", 3, "bad_contact_data"),),
    (),  # still waiting: overdue unless it qualified in the last day
)


def _demo_history(*, now: datetime) -> None:
    """Play back the months of sales work through the real services, in time order: each
    lead qualifies when its score (derived from its events: scoring's score_path) first
    reached the threshold, or at its first fast-track event; then the reps act on it, on
    time or late (the SLA sweep runs at each due time, as beat would have)."""
    policy = policy_get()
    reps = list(User.objects.filter(groups__name="sales").order_by("username"))
    plan: list[tuple[datetime, int, int, str, str]] = []  # (at, order, lead, action, reason)
    for lead_id in Lead.objects.order_by("pk").values_list("pk", flat=True):
        fast = (
            Event.objects.filter(lead_id=lead_id, name__in=policy.fast_track_events)
            .filter(events_vouched())  # as handoff's own fast track (docs/security.md)
            .order_by("timestamp")
            .values_list("timestamp", flat=True)
            .first()
        )
        crossed = next(
            (
                p
                for p in score_path(lead_id, now=now)
                if p.event and p.score >= policy.mql_threshold
            ),
            None,
        )
        moments = [m for m in (fast, crossed.at if crossed else None) if m is not None]
        if not moments:
            continue
        at = min(moments)
        reason = "fast_track" if fast is not None and at == fast else "threshold"
        plan.append((at, 0, lead_id, "qualify_mql", reason))
        plan.append(
            (at + timedelta(hours=float(policy.sla_hours), minutes=5), 1, lead_id, "sweep", "")
        )
    plan.sort()
    steps: list[tuple[datetime, int, int, str, str]] = []
    for n, (at, _o, lead_id, _a, _r) in enumerate(p for p in plan if p[3] == "qualify_mql"):
        moment = at
        for step, hours, reason in SCENARIOS[n % len(SCENARIOS)]:
            moment += timedelta(hours=hours)
            steps.append((moment, 2, lead_id, step, reason))
    for at, _order, lead_id, action, reason in sorted(plan + steps):
        if at > now:
            continue
        if action == "sweep":
            mql_sla_sweep(now=at)
        elif action == "qualify_mql":
            score = next(
                (p.score for p in reversed(score_path(lead_id, now=at)) if p.at <= at), Decimal(0)
            )
            mql_qualify(lead_id, score=score, reason=reason, now=at, policy=policy)
        else:
            owner = LeadLifecycle.objects.get(lead_id=lead_id).owner or reps[lead_id % len(reps)]
            data = {"reason": reason} if reason else {}
            if action == "recycle":  # bad timing: in a month from today; no need: a week on
                back = (
                    now + timedelta(days=30) if reason == "bad_timing" else at + timedelta(days=7)
                )
                data["reapproach_on"] = timezone.localtime(back).date().isoformat()
            try:
                queue_action(lead_id, action, user=owner, data=data, now=at)
            except DomainError:  # an earlier step did not happen (its moment is still ahead)
                continue
    leads_reapproach_due(now=now)
    mql_sla_sweep(now=now)


def _raw(
    kind: str, name: str | None, props: dict[str, Any], anon: str, at: datetime
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "type": kind,
        "anonymousId": anon,
        "properties": props,
        "timestamp": at.isoformat(),
        "messageId": str(uuid.uuid4()),
    }
    if name:
        raw["event"] = name
    return raw


VISITOR_PAGES = [
    ("/", "株式会社サンプル | 製造業のDXを支援"),
    ("/products", "製品一覧"),
    ("/pricing", "料金プラン"),
    ("/cases/sakura-mfg", "導入事例: 株式会社サクラ製作所"),
    ("/blog/dx-first-step", "DXの第一歩: 現場のデータをつなぐ"),
]


def _demo_visitors(source: Source, *, rng: random.Random, count: int = 8) -> None:
    """A few visitors who have not identified yet (the /visitors/ page): page views, some
    from a campaign, one who downloaded a document without filling in a form."""
    now = timezone.now()
    raws: list[dict[str, Any]] = []
    for i in range(count):
        anon = str(uuid.uuid4())
        at = now - timedelta(days=rng.randint(1, 20), hours=rng.randint(0, 23))
        for _ in range(rng.randint(1, 3 + i)):
            path, title = VISITOR_PAGES[rng.randint(0, len(VISITOR_PAGES) - 1)]
            raw = _raw("page", None, {"path": path, "title": title}, anon, at)
            raw["properties"]["url"] = f"https://example.co.jp{path}"
            if i % 3 == 0:
                raw["context"] = {
                    "campaign": {
                        "name": "spring_webinar",
                        "source": "newsletter",
                        "medium": "email",
                    }
                }
            raws.append(raw)
            at = min(now, at + timedelta(hours=rng.randint(1, 40)))
        if i % 4 == 1:
            props = {"title": "DX推進ガイド", "category": "whitepaper"}
            raws.append(_raw("track", "Document Downloaded", props, anon, at))
    received = timezone.now()
    messages = [message_parse(raw, index=i, received_at=received) for i, raw in enumerate(raws)]
    events_ingest(messages, source=source)

"""Demo data for `make run`: users for the three roles, rules, a Japanese B2B company's leads."""

import random
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.models import Group
from django.utils import timezone

from handoff.qualify import leads_qualify_pending
from handoff.services import policy_get, policy_update
from mqlapp.leads.ingest.messages import message_parse
from mqlapp.leads.ingest.services import events_ingest
from mqlapp.leads.models import Lead, Source, User
from mqlapp.leads.roles import ensure_groups
from scoring.models import ScoringRule
from scoring.services import leads_score_pending, rule_create

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
    if not Lead.objects.exists():
        _demo_leads(source, count=leads, rng=random.Random(seed))
    # Score and qualify now, in this process, so the first page already shows MQLs.
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


def _demo_leads(source: Source, *, count: int, rng: random.Random) -> None:
    now = timezone.now()
    raws: list[dict[str, Any]] = []
    for i in range(count):
        family, given = FAMILY[i % len(FAMILY)], GIVEN[(i * 3) % len(GIVEN)]
        company, domain, employees, industry = COMPANIES[i % len(COMPANIES)]
        anon = str(uuid.uuid4())
        email = f"user{i:03d}@{domain}"
        first_seen = now - timedelta(days=rng.randint(5, 35))
        # Anonymous visits first, then the form fill that identifies, then more activity.
        for _ in range(rng.randint(1, 4)):
            raws.append(_raw("page", None, ACTIVITY[rng.randint(0, 2)][2], anon, first_seen))
            first_seen += timedelta(hours=rng.randint(2, 30))
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
                "timestamp": first_seen.isoformat(),
                "messageId": str(uuid.uuid4()),
            }
        )
        at = first_seen
        for _ in range(rng.randint(0, 3 + i % 6)):
            at += timedelta(hours=rng.randint(6, 96))
            if at > now:
                break
            kind, name, props = ACTIVITY[rng.randint(0, len(ACTIVITY) - 1)]
            raws.append(_raw(kind, name, props, anon, at))
        if i % 13 == 5:  # noqa: PLR2004 (every 13th lead, offset: a few hand-raisers)
            raws.append(_raw("track", "Demo Requested", {}, anon, min(at, now)))
        if i % 11 == 3:  # noqa: PLR2004 (and a few unsubscribes)
            raws.append(_raw("track", "Unsubscribed", {}, anon, min(at, now)))
    received = timezone.now()
    messages = [message_parse(raw, index=i, received_at=received) for i, raw in enumerate(raws)]
    for start in range(0, len(messages), 500):
        events_ingest(messages[start : start + 500], source=source)


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

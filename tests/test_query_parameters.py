"""Every query parameter of the API refuses what it cannot read with 400 and a JSON error
naming it, never a 500 (issue 10): each is read by one of the shared readers of
mqlapp/leads/parsing.py (`whole_param`, `id_param`, `number_param`, `moment_param`)."""

from urllib.parse import quote

import pytest

from handoff.models import Webhook
from tests.conftest import client_for
from tests.factories import lead_make

pytestmark = pytest.mark.django_db

NOT_NUMBERS = ["NaN", "Infinity", "-Infinity", "inf", "1e309", "1e3", "abc", "0x10", "1_000"]
HUGE = "99999999999999999999"
NUL = "1\x00"
NOT_WHOLE = [*NOT_NUMBERS, HUGE, "-1", "0", "1.5", "２", "²", " ", NUL]
NOT_IDS = [*NOT_NUMBERS, HUGE, "-1", "0", "1.5", "٣", NUL]
NOT_MOMENTS = [
    "2025-02-30",
    "2025-02-30T00:00:00",
    "2025-13-01",
    "2025-02-30T00:00:00+09:00",
    "0001-01-01T00:00:00+09:00",
    "9999-12-31T23:59:59-05:00",
    "10000-01-01",
    "NaN",
    "Infinity",
    "yesterday",
    HUGE,
    NUL,
]
NOT_SCORES = [*NOT_NUMBERS, HUGE, "1e16", "-1e16", NUL]

# (path, parameter, values it must refuse)
CASES: list[tuple[str, str, list[str]]] = [
    *[
        (path, name, NOT_SCORES)
        for path in ("/api/leads/", "/api/leads/export.csv")
        for name in ("min_score", "max_score")
    ],
    *[(path, "owner", NOT_IDS) for path in ("/api/leads/", "/api/leads/export.csv")],
    # a source by id, or by name: what starts with a digit is an id
    *[
        (path, "source", ["0", "1.5", "1e309", HUGE, "٣", NUL])
        for path in ("/api/leads/", "/api/leads/export.csv")
    ],
    *[
        (path, name, ["x" * 201, "a\x00b"])
        for path in ("/api/leads/", "/api/leads/export.csv")
        for name in ("search", "source")
    ],
    ("/api/leads/", "page", NOT_WHOLE),
    ("/api/leads/", "page_size", [*NOT_WHOLE, "501"]),
    ("/api/leads/", "stage", ["abc", NUL]),
    ("/api/leads/", "ordering", ["abc", NUL]),
    ("/api/leads/{lead}/events/", "limit", [*NOT_WHOLE, "10001"]),
    ("/api/leads/{lead}/score/history/", "limit", [*NOT_WHOLE, "10001"]),
    ("/api/leads/{lead}/score/history/", "since", [*NOT_MOMENTS, "2025-06-01T00:00:00"]),
    ("/api/webhooks/{hook}/deliveries/", "limit", [*NOT_WHOLE, "1001"]),
    *[
        (path, name, NOT_MOMENTS)
        for path in ("/api/reports/funnel/", "/api/reports/rejections/")
        for name in ("from", "to")
    ],
    *[(path, "source", NOT_IDS) for path in ("/api/reports/funnel/", "/api/reports/rejections/")],
]


@pytest.fixture
def admin(make_user):
    return client_for(make_user("admin"))


@pytest.fixture
def ids(db):
    lead = lead_make(email="params@example.co.jp")
    hook = Webhook.objects.create(url="https://hooks.example.com/x", events=["lead.mql"])
    return {"lead": lead.pk, "hook": hook.pk}


def _refusal(response, name):
    """What is wrong with the answer to a value `name` cannot read ("" when nothing)."""
    if response.status_code != 400:
        return f"{response.status_code} {response.content[:200]!r}"
    body = response.json()
    named = body["error"].startswith(f"{name} must be ") or name in ("stage", "ordering")
    if body["code"] != "invalid" or not named or list(body["fields"]) != [name]:
        return f"400 but {body}"
    return ""


# One test per parameter, every value in it (a test per value would spend ~1 s on users).
@pytest.mark.parametrize(("path", "name", "values"), CASES)
def test_a_parameter_it_cannot_read_is_400_naming_it(admin, ids, path, name, values):
    url = path.format(**ids)
    wrong = {}
    for value in values:
        problem = _refusal(admin.get(f"{url}?{name}={quote(value)}"), name)
        if problem:
            wrong[value] = problem

    assert wrong == {}


GOOD = [
    ("/api/leads/", "min_score=-2.5&max_score=1000000000000000&owner=me&source=Website"),
    ("/api/leads/", "page=1&page_size=500&owner=none&source=1&search=%E5%B1%B1%E7%94%B0"),
    ("/api/leads/export.csv", "min_score=10&max_score=+20"),
    ("/api/leads/{lead}/events/", "limit=10000"),
    ("/api/leads/{lead}/score/history/", "limit=1&since=2025-06-01T00:00:00%2B09:00"),
    ("/api/webhooks/{hook}/deliveries/", "limit=1000"),
    ("/api/reports/funnel/", "from=2025-02-28&to=2025-03-01T00:00:00Z&source=1"),
    ("/api/reports/rejections/", "from=1970-01-01&to=9999-12-30"),
]


def test_parameters_in_range_are_read(admin, ids):
    for path, query in GOOD:
        response = admin.get(f"{path.format(**ids)}?{query}")
        assert response.status_code == 200, (path, query, response.content)


def test_an_empty_parameter_means_the_parameter_is_absent(admin, ids):
    # An HTML form sends its empty fields: an empty value is no value, as django-filter reads it.
    for path, name, _ in CASES:
        url = path.format(**ids)
        assert _body(admin.get(f"{url}?{name}=")) == _body(admin.get(url)), (path, name)


def _body(response):
    assert response.status_code == 200
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def test_a_page_past_the_last_is_404(admin, ids):
    assert admin.get("/api/leads/?page=2").status_code == 404

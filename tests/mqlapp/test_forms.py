"""Landing-page forms: the API for marketers, and POST /f/<slug>/ from anyone's web page."""

import pytest
from django.test import Client

from handoff.models import LeadView
from mqlapp.leads.models import Consent, Event, Form, Identity

pytestmark = pytest.mark.django_db

CONSENT = "個人情報の取り扱いに同意します。(v1)"


@pytest.fixture
def form(db):
    return Form.objects.create(
        name="ホワイトペーパー DL",
        slug="whitepaper",
        thank_you_url="https://www.example.co.jp/thanks",
        consent_text=CONSENT,
    )


def _fields(**overrides):
    fields = {
        "last_name": "山田",
        "first_name": "太郎",
        "company": "株式会社さくら製作所",
        "department": "情報システム部",
        "title": "部長",
        "email": "Taro.Yamada@Sakura-MFG.co.jp",
        "phone": "03-1234-5678",
        "employees": "1,200名",
        "country": "日本",
        "consent": "on",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def _post(slug, data, client=None, **extra):
    return (client or Client()).post(f"/f/{slug}/", data, REMOTE_ADDR="203.0.113.7", **extra)


# --- the API ---------------------------------------------------------------------------------


def test_marketer_creates_a_form(api):
    response = api("marketer").post(
        "/api/forms/",
        {
            "name": "Seminar",
            "slug": "seminar-2025",
            "thank_you_url": "https://www.example.co.jp/thanks",
            "consent_text": CONSENT,
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["post_url"] == "http://127.0.0.1:8000/f/seminar-2025/"
    assert (body["slug"], body["consent_version"], body["required_fields"]) == (
        "seminar-2025",
        1,
        ["email", "last_name", "first_name", "company"],
    )


def test_form_writes_are_for_marketers_and_admins_reads_for_all(api, form):
    sales = api("sales")
    assert sales.post("/api/forms/", {"name": "x"}, format="json").status_code == 403
    assert sales.patch(f"/api/forms/{form.pk}/", {"name": "x"}, format="json").status_code == 403
    assert [f["slug"] for f in sales.get("/api/forms/").json()] == ["whitepaper"]
    assert (
        api("admin").post("/api/forms/", {"name": "Admin form"}, format="json").status_code == 201
    )
    assert Client().get("/api/forms/").status_code == 401


def test_slug_must_be_unique(api, form):
    response = api("marketer").post(
        "/api/forms/", {"name": "Again", "slug": "whitepaper"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"slug": ["taken"]}


def test_changing_the_consent_wording_moves_its_version(api, form):
    client = api("marketer")
    same = client.patch(f"/api/forms/{form.pk}/", {"consent_text": CONSENT}, format="json")
    assert same.json()["consent_version"] == 1
    changed = client.patch(f"/api/forms/{form.pk}/", {"consent_text": "新しい文言"}, format="json")
    assert changed.json()["consent_version"] == 2


# --- the public post -------------------------------------------------------------------------


def test_form_post_with_japanese_text_makes_the_lead_and_redirects(
    batch, form, visit_rule, django_capture_on_commit_callbacks
):
    # given: the visitor looked at two pages before filling in the form
    batch(
        {"type": "page", "anonymousId": "visitor-1", "properties": {"path": "/"}},
        {"type": "page", "anonymousId": "visitor-1", "properties": {"path": "/dl"}},
    )
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            "whitepaper", {**_fields(), "mql_aid": "visitor-1"}, HTTP_USER_AGENT="UA/1"
        )
    # then
    assert response.status_code == 303
    assert response["Location"] == "https://www.example.co.jp/thanks"
    lead = LeadView.objects.get()
    assert (
        lead.email,
        lead.last_name,
        lead.first_name,
        lead.company,
        lead.department,
        lead.title,
        lead.phone,
        lead.employees,
        lead.country,
    ) == (
        "taro.yamada@sakura-mfg.co.jp",
        "山田",
        "太郎",
        "株式会社さくら製作所",
        "情報システム部",
        "部長",
        "03-1234-5678",
        1200,
        "日本",
    )
    submitted = lead.events.get(name="Form Submitted")
    assert submitted.properties == {
        "form": "whitepaper",
        "form_id": form.pk,
        "form_name": "ホワイトペーパー DL",
    }
    assert submitted.context["ip"] == "203.0.113.7"
    assert lead.events.filter(type="page").count() == 2
    assert lead.score == 10  # the two page views before the form, scored
    assert Identity.objects.get(kind="anonymous", value="visitor-1").lead == lead
    consent = Consent.objects.get()
    assert (consent.lead, consent.form, consent.text, consent.version, consent.ip) == (
        lead,
        form,
        CONSENT,
        1,
        "203.0.113.7",
    )
    assert consent.user_agent == "UA/1"
    assert consent.given_at == submitted.timestamp


def test_the_japanese_labels_are_accepted_as_field_names(form):
    data = {
        "姓": "佐藤",
        "名": "花子",
        "会社名": "株式会社テスト",
        "メールアドレス": "hanako@example.jp",
        "同意": "on",
    }
    assert _post("whitepaper", data).status_code == 303
    assert LeadView.objects.values_list("last_name", "first_name", "company").get() == (
        "佐藤",
        "花子",
        "株式会社テスト",
    )


def test_visitor_id_comes_from_the_cookie_on_the_apps_own_domain(form):
    client = Client()
    client.cookies["mql_aid"] = "cookie-visitor"
    assert _post("whitepaper", _fields(), client=client).status_code == 303
    assert Identity.objects.get(kind="anonymous").value == "cookie-visitor"


def test_invalid_input_re_renders_the_form_with_errors_and_stores_nothing(form):
    response = _post(
        "whitepaper",
        _fields(email="taro@", phone="12-34", company="", consent=None, employees="many"),
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert "Enter a valid email address." in page
    assert "Enter a phone number of 8 to 15 digits" in page
    assert "This field is required." in page
    assert "Please agree to continue." in page
    assert 'value="山田"' in page  # what the person typed is kept
    assert (LeadView.objects.count(), Event.objects.count(), Consent.objects.count()) == (0, 0, 0)


def test_invalid_input_answers_json_when_asked(form):
    response = _post("whitepaper", _fields(email="nope"), HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert response.json() == {
        "error": "Please correct the marked fields.",
        "code": "invalid",
        "fields": {"email": "Enter a valid email address."},
    }
    assert LeadView.objects.count() == 0


def test_the_honeypot_pretends_success_and_stores_nothing(form):
    response = _post("whitepaper", {**_fields(), "mql_hp": "http://spam.example"})
    assert response.status_code == 303
    assert (LeadView.objects.count(), Event.objects.count()) == (0, 0)


def test_rate_limit_refuses_a_flood_from_one_address(form, settings):
    settings.FORM_RATE_LIMIT = 2
    for n in range(2):
        assert _post("whitepaper", _fields(email=f"p{n}@example.com")).status_code == 303
    refused = _post("whitepaper", _fields(email="p3@example.com"), HTTP_ACCEPT="application/json")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert sorted(LeadView.objects.values_list("email", flat=True)) == [
        "p0@example.com",
        "p1@example.com",
    ]


def test_posts_from_other_sites_need_no_csrf_token(form):
    client = Client(enforce_csrf_checks=True)
    assert _post("whitepaper", _fields(), client=client).status_code == 303


def test_a_double_submit_counts_once(form):
    _post("whitepaper", _fields())
    _post("whitepaper", _fields())
    assert Event.objects.filter(name="Form Submitted").count() == 1


def test_consent_keeps_the_version_it_was_given_under(api, form):
    _post("whitepaper", _fields(email="a@example.com"))
    api("marketer").patch(f"/api/forms/{form.pk}/", {"consent_text": "v2 の文言"}, format="json")
    _post("whitepaper", _fields(email="b@example.com"))
    assert list(Consent.objects.order_by("pk").values_list("version", "text")) == [
        (1, CONSENT),
        (2, "v2 の文言"),
    ]


def test_get_shows_the_form_and_unknown_or_inactive_forms_are_404(form):
    page = Client().get("/f/whitepaper/")
    assert page.status_code == 200
    assert "姓 / Last name" in page.content.decode()
    assert 'name="mql_hp"' in page.content.decode()
    assert Client().get("/f/nope/").status_code == 404
    form.active = False
    form.save()
    assert _post("whitepaper", _fields()).status_code == 404


def test_without_a_thank_you_url_the_app_thanks(form):
    form.thank_you_url = ""
    form.save()
    response = _post("whitepaper", _fields())
    assert response["Location"] == "/f/whitepaper/thanks/"
    assert "Thank you" in Client().get("/f/whitepaper/thanks/").content.decode()

"""Landing-page forms: define them, and take a submission (lead, consent, Form Submitted)."""

from collections.abc import Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from ..errors import InvalidInput
from ..models import Consent, Form, Lead, User
from .fields import LEAD_INPUT_FIELDS, lead_input_clean
from .messages import message_parse, server_message_id, text_storable
from .services import events_ingest

# The Japanese labels of a B2B download form, accepted as field names too.
FIELD_ALIASES = {
    "姓": "last_name",
    "名": "first_name",
    "会社名": "company",
    "部署名": "department",
    "役職": "title",
    "メールアドレス": "email",
    "電話番号": "phone",
    "従業員数": "employees",
    "国": "country",
    "業種": "industry",
    "同意": "consent",
}
CONSENT_FIELD = "consent"
VISITOR_FIELD = "mql_aid"
HONEYPOT_FIELD = "mql_hp"
YES = {"on", "1", "true", "yes", "agree", "同意する"}
FORM_WRITABLE = ("name", "slug", "thank_you_url", "consent_text", "required_fields", "active")


def _required_clean(value: Any) -> list[str]:
    if not isinstance(value, list) or any(v not in LEAD_INPUT_FIELDS for v in value):
        raise InvalidInput(
            f"required_fields must be a list of: {', '.join(LEAD_INPUT_FIELDS)}",
            fields={"required_fields": ["unknown field"]},
        )
    return sorted(set(value) | {"email"}, key=LEAD_INPUT_FIELDS.index)


@transaction.atomic
def form_create(*, data: Mapping[str, Any], user: User | None) -> Form:
    slug = slugify(data.get("slug") or data.get("name") or "")
    if not slug:
        raise InvalidInput("A form needs a name or a slug.", fields={"slug": ["required"]})
    if Form.objects.filter(slug=slug).exists():
        raise InvalidInput("A form with this slug exists.", fields={"slug": ["taken"]})
    form = Form(slug=slug, created_by=user, source=data.get("source"))
    return _form_save(form, data={k: v for k, v in data.items() if k != "slug"})


@transaction.atomic
def form_update(form: Form, *, data: Mapping[str, Any]) -> Form:
    if "slug" in data:
        slug = slugify(data["slug"] or "")
        if not slug or Form.objects.filter(slug=slug).exclude(pk=form.pk).exists():
            raise InvalidInput("That slug is empty or taken.", fields={"slug": ["taken"]})
        form.slug = slug
    if "consent_text" in data and (data["consent_text"] or "") != form.consent_text:
        form.consent_version += 1  # a new wording: consents given before keep their version
    if "source" in data:
        form.source = data["source"]
    return _form_save(form, data={k: v for k, v in data.items() if k != "slug"})


def _form_save(form: Form, *, data: Mapping[str, Any]) -> Form:
    for name in ("name", "thank_you_url", "consent_text", "active"):
        if name in data:
            setattr(form, name, data[name] if data[name] is not None else "")
    if "required_fields" in data:
        form.required_fields = _required_clean(data["required_fields"])
    if not form.name:
        raise InvalidInput("A form needs a name.", fields={"name": ["required"]})
    form.save()
    return form


def submission_fields(data: Mapping[str, Any]) -> dict[str, str]:
    """The posted fields under their English names (Japanese labels accepted)."""
    return {FIELD_ALIASES.get(key, key): data[key] for key in data}


@transaction.atomic
def form_submit(
    form: Form,
    *,
    data: Mapping[str, Any],
    ip: str | None,
    user_agent: str = "",
    page_url: str = "",
    cookie_visitor: str = "",
) -> Lead:
    """Validate, upsert the lead, link the visitor, record consent and a Form Submitted event.

    Raises InvalidInput with the field errors and stores nothing when the input is not valid.
    """
    fields = submission_fields(data)
    clean, errors = lead_input_clean(fields)
    for name in form.required_fields:
        if name not in clean and name not in errors:
            errors[name] = "This field is required."
    if "email" not in clean and "email" not in errors:
        errors["email"] = "This field is required."
    agreed = str(fields.get(CONSENT_FIELD, "")).strip().lower() in YES
    if form.consent_text and not agreed:
        errors[CONSENT_FIELD] = "Please agree to continue."
    if errors:
        raise InvalidInput("Please correct the marked fields.", fields=errors)
    email = clean["email"]
    visitor = str(fields.get(VISITOR_FIELD) or cookie_visitor or "").strip()[:200]
    if not text_storable(visitor):
        visitor = ""  # a hidden field nobody types: an id PostgreSQL cannot keep is no id
    now = timezone.now()
    # One Form Submitted per form, person and minute: a double click counts once. The id is
    # server-made (an HMAC no client can compute, with a prefix /v1 refuses): nobody can
    # pre-empt and so suppress a real submission.
    key = server_message_id("form", form.pk, email, int(now.timestamp()) // 60)
    ids = {"anonymousId": visitor} if visitor else {"userId": email}
    context = {"ip": ip, "userAgent": user_agent[:300], "page": {"url": page_url[:2000]}}
    raws = [
        {
            "type": "identify",
            **ids,
            "traits": clean,
            "context": context,
            "messageId": f"{key}-identify",
        },
        {
            "type": "track",
            "event": "Form Submitted",
            **ids,
            "properties": {"form": form.slug, "form_id": form.pk, "form_name": form.name},
            "context": {**context, "traits": {"email": email}},
            "messageId": key,
        },
    ]
    messages = [
        message_parse(raw, index=i, received_at=now, client=False) for i, raw in enumerate(raws)
    ]
    events_ingest(messages, source=form.source)
    lead = Lead.objects.get(email=email)
    if agreed and form.consent_text:
        Consent.objects.create(
            lead=lead,
            form=form,
            text=form.consent_text,
            version=form.consent_version,
            given_at=now,
            ip=ip,
            user_agent=user_agent[:300],
        )
    return lead

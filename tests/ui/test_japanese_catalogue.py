"""The Japanese catalogue is complete: no message without a translation, none fuzzy, and the
words for every stored code (mqlapp.console.labels) are in it."""

from pathlib import Path

import polib
import pytest
from django.utils import translation

from handoff.lifecycle import REASONS, WEBHOOK_EVENTS, Stage
from handoff.models import Assignment, MqlPolicy, WebhookDelivery
from mqlapp.console.labels import LABELS, label
from mqlapp.leads.models import ImportJob, Source
from mqlapp.leads.roles import ROLES
from scoring.models import RescoreJob, ScoreHistory, ScoringRule

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "ja" / "LC_MESSAGES" / "django.po"


def live_entries() -> list[polib.POEntry]:
    return [e for e in polib.pofile(str(CATALOGUE)) if not e.obsolete]


def test_every_message_is_translated_and_none_is_fuzzy():
    entries = live_entries()
    assert len(entries) > 200
    untranslated = [e.msgid for e in entries if not e.translated() and "fuzzy" not in e.flags]
    fuzzy = [e.msgid for e in entries if "fuzzy" in e.flags]
    assert untranslated == []
    assert fuzzy == []


def test_no_message_is_listed_twice():
    keys = [(e.msgctxt, e.msgid) for e in live_entries()]
    assert len(keys) == len(set(keys))


# every choice set the models store, with the label table that names it
CHOICE_SETS = {
    "stage": Stage.values,
    "reason": [*REASONS, "threshold", "fast_track", "reapproach"],
    "rule_kind": ScoringRule.Kind.values,
    "assignment": MqlPolicy.Assignment.values,
    "assignment_why": Assignment.Why.values,
    "import_status": ImportJob.Status.values,
    "rescore_state": RescoreJob.State.values,
    "delivery_status": WebhookDelivery.Status.values,
    "score_cause": ScoreHistory.Cause.values,
    "source_kind": Source.Kind.values,
    "role": list(ROLES),
    "webhook_event": list(WEBHOOK_EVENTS),
}


@pytest.mark.parametrize("kind", sorted(CHOICE_SETS))
def test_every_code_has_japanese_words(kind):
    assert set(CHOICE_SETS[kind]) <= set(LABELS[kind]), kind
    with translation.override("ja"):
        for code in CHOICE_SETS[kind]:
            words = label(kind, code)
            assert words != code, (kind, code)
            # Japanese words, or an acronym Japanese teams use as it is (MQL)
            assert words.isupper() or any(ord(c) > 0x2FFF for c in words), (kind, code, words)

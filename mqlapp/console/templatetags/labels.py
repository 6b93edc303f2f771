"""`{{ lead.stage|label:"stage" }}`: the words for a stored code (mqlapp.console.labels)."""

from django import template

from mqlapp.console.labels import import_error as import_error_words
from mqlapp.console.labels import label as label_for

register = template.Library()


@register.filter
def label(code: object, kind: str) -> str:
    return label_for(kind, code)


@register.filter
def import_error(text: object) -> str:
    """`{{ e.error|import_error }}`: a CSV import's error in the UI language."""
    return import_error_words(text)

"""`{{ lead.stage|label:"stage" }}`: the words for a stored code (mqlapp.console.labels)."""

from django import template

from mqlapp.console.labels import label as label_for

register = template.Library()


@register.filter
def label(code: object, kind: str) -> str:
    return label_for(kind, code)

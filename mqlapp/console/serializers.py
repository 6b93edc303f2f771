"""The shape of the console's own answer: the personal-data export (its parts are the owners':
`lead_own_data`, `lead_score_data`, `lead_sales_data`)."""

from typing import Any

from rest_framework import serializers


class PersonalDataSerializer(serializers.Serializer[Any]):
    """Everything held on the person behind a lead (SPEC §6), as plain JSON values."""

    lead = serializers.DictField(help_text="the profile, with its score, stage and owner")
    identities = serializers.ListField(child=serializers.DictField())
    events = serializers.ListField(child=serializers.DictField())
    consents = serializers.ListField(child=serializers.DictField())
    merges = serializers.ListField(child=serializers.DictField())
    erased = serializers.DictField(allow_null=True, help_text="when and by whom; null: never")
    score = serializers.DictField(help_text="breakdown, as_of and the score history")
    stage_history = serializers.ListField(child=serializers.DictField())
    assignments = serializers.ListField(child=serializers.DictField())

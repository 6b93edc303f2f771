"""A CSV import's errors, stored and answered by the API as the importer wrote them, read in
the UI language on the imports page (mqlapp.console.labels.import_error)."""

import pytest
from django.utils import translation

from mqlapp.console.labels import import_error


@pytest.mark.parametrize(
    ("stored", "ja"),
    [
        (
            "email: Enter a valid email address.",
            "メールアドレス: 有効なメールアドレスを入力してください。",
        ),
        (
            "employees: employees must be a whole number such as 1200; "
            "phone: At most 40 characters.",
            "従業員数: 従業員数は 1200 のような整数で入力してください; "
            "電話番号: 40 文字以内で入力してください。",
        ),
        (
            "timestamp: not a date or time: '2025/13/45'",
            "日時: 日付・時刻として読めません: '2025/13/45'",
        ),
        ("the row holds a NUL character", "この行には NUL 文字があります"),
        (
            "No email column: name one メールアドレス or email, or map it (mapping).",
            "メールアドレスの列がありません。列名を「メールアドレス」か「email」にするか、対応付け（mapping）で指定してください。",
        ),
        (
            "Line 7 cannot be read as CSV: field larger than field limit",
            "7 行目を CSV として読めません: field larger than field limit",
        ),
        ("something new the table does not know", "something new the table does not know"),
    ],
)
def test_import_errors_read_in_japanese(stored, ja):
    with translation.override("ja"):
        assert import_error(stored) == ja
    with translation.override("en"):
        assert import_error(stored).endswith(stored.rsplit(": ", 1)[-1])

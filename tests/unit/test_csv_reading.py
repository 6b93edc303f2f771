"""Reading a lead list without a database: encoding, delimiter, rows, header → field."""

import codecs

import pytest

from mqlapp.leads.ingest.csvfile import EXTRA, FileInvalid, decode, mapping_resolve, records

JAPANESE = "メールアドレス,姓,名,会社名\r\ntaro@example.co.jp,髙橋,太郎,株式会社サンプル①\r\n"


# --- encoding --------------------------------------------------------------------------------


def test_utf8_without_a_bom():
    assert decode(JAPANESE.encode("utf-8")) == (JAPANESE, "utf-8")


def test_utf8_with_a_bom_drops_the_bom():
    text, encoding = decode(codecs.BOM_UTF8 + JAPANESE.encode("utf-8"))
    assert (text, encoding) == (JAPANESE, "utf-8-sig")
    assert text.startswith("メールアドレス")


def test_cp932_with_its_own_characters():
    # 髙 and ① exist in CP932 (Windows Shift_JIS), not in plain Shift_JIS
    assert decode(JAPANESE.encode("cp932")) == (JAPANESE, "cp932")


def test_utf16_with_a_bom():
    assert decode(JAPANESE.encode("utf-16")) == (JAPANESE, "utf-16")


def test_plain_ascii_is_utf8():
    assert decode(b"email\na@example.com\n") == ("email\na@example.com\n", "utf-8")


def test_a_few_broken_bytes_keep_the_encoding_and_mark_them():
    data = JAPANESE.encode("utf-8") + b"x@example.com,\x81\n"
    text, encoding = decode(data)
    assert encoding == "utf-8"
    assert text == JAPANESE + "x@example.com,\ufffd\n"


def test_text_in_neither_encoding_is_refused():
    with pytest.raises(FileInvalid) as caught:
        decode(b"\x81\n" * 20)
    assert str(caught.value) == "The file is neither UTF-8 nor Shift_JIS (CP932) text."


# --- delimiter and rows ----------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_the_delimiter_is_found_from_the_header(delimiter):
    text = delimiter.join(["email", "company", "title"]) + "\n"
    text += delimiter.join(["a@example.com", "ACME", "CTO"]) + "\n"
    assert records(text) == (
        ["email", "company", "title"],
        [(2, ["a@example.com", "ACME", "CTO"])],
    )


def test_a_tab_file_keeps_commas_and_semicolons_inside_cells():
    text = "email\tcompany\na@example.com\tACME, Inc.; Tokyo\n"
    assert records(text) == (["email", "company"], [(2, ["a@example.com", "ACME, Inc.; Tokyo"])])


def test_a_semicolon_file_keeps_commas_inside_cells():
    text = "email;company;note\na@example.com;ACME, Inc.;x\n"
    assert records(text)[1] == [(2, ["a@example.com", "ACME, Inc.", "x"])]


def test_quoted_cells_may_hold_the_delimiter():
    text = 'email,company\r\na@example.com,"ACME, Inc."\r\nb@example.com,"say ""hi"""\r\n'
    assert records(text) == (
        ["email", "company"],
        [(2, ["a@example.com", "ACME, Inc."]), (3, ["b@example.com", 'say "hi"'])],
    )


def test_blank_rows_are_skipped_but_rows_keep_their_numbers():
    text = " email , company \n\na@example.com,ACME\n,\n  \nb@example.com, Beta \n"
    assert records(text) == (
        ["email", "company"],
        [(3, ["a@example.com", "ACME"]), (6, ["b@example.com", " Beta "])],
    )


@pytest.mark.parametrize("text", ["", "\n\n", ",,\n , \n", ";;\n;\n"])
def test_a_file_without_a_header_is_refused(text):
    with pytest.raises(FileInvalid) as caught:
        records(text)
    assert str(caught.value) == "The file is empty: it needs a header row and rows of leads."


def test_a_header_only_file_has_no_rows():
    assert records("email,company\n") == (["email", "company"], [])


# --- header → field --------------------------------------------------------------------------


def test_japanese_headers_map_to_fields():
    header = [
        "メールアドレス",
        "姓",
        "名",
        "会社名",
        "部署名",
        "役職",
        "電話番号",
        "従業員数",
        "国",
        "業種",
        "イベント名",
        "参加日時",
        "備考",
    ]
    assert mapping_resolve(header) == {
        "メールアドレス": "email",
        "姓": "last_name",
        "名": "first_name",
        "会社名": "company",
        "部署名": "department",
        "役職": "title",
        "電話番号": "phone",
        "従業員数": "employees",
        "国": "country",
        "業種": "industry",
        "イベント名": "event",
        "参加日時": "timestamp",
        "備考": EXTRA,
    }


def test_more_japanese_spellings_of_the_same_fields():
    header = ["Ｅメール", "お名前", "貴社名", "所属部署", "肩書き", "TEL", "社員数", "日付"]
    assert mapping_resolve(header) == {
        "Ｅメール": "email",
        "お名前": "name",
        "貴社名": "company",
        "所属部署": "department",
        "肩書き": "title",
        "TEL": "phone",
        "社員数": "employees",
        "日付": "timestamp",
    }


def test_headers_are_matched_ignoring_case_width_spaces_and_punctuation():
    header = [
        "E-Mail Address",
        "ＦＩＲＳＴ＿ＮＡＭＥ",
        "Last Name",
        "メール　アドレス",
        "Company (name)",
    ]
    assert mapping_resolve(header) == {
        "E-Mail Address": "email",
        "ＦＩＲＳＴ＿ＮＡＭＥ": "first_name",
        "Last Name": "last_name",
        "メール　アドレス": "email",
        "Company (name)": "company",
    }


def test_empty_column_names_are_left_out_and_unknown_ones_kept_as_data():
    assert mapping_resolve(["email", "", "Favourite colour"]) == {
        "email": "email",
        "Favourite colour": EXTRA,
    }


def test_an_override_maps_or_ignores_columns():
    header = ["連絡用", "メモ", "会社名"]
    assert mapping_resolve(header, {"連絡用": "email", "メモ": "", "会社名": EXTRA}) == {
        "連絡用": "email",
        "メモ": "",
        "会社名": EXTRA,
    }


def test_an_override_naming_unknown_fields_is_refused():
    with pytest.raises(FileInvalid) as caught:
        mapping_resolve(["email", "a", "b"], {"a": "zip", "b": "age"})
    assert str(caught.value) == "mapping names unknown fields: age, zip"


def test_a_file_without_an_email_column_is_refused():
    with pytest.raises(FileInvalid) as caught:
        mapping_resolve(["姓", "名", "会社名"])
    assert str(caught.value) == (
        "No email column: name one メールアドレス or email, or map it (mapping)."
    )
    with pytest.raises(FileInvalid):
        mapping_resolve(["メールアドレス"], {"メールアドレス": ""})


def test_a_cp932_semicolon_file_from_bytes_to_fields():
    data = "メールアドレス;会社名;従業員数\r\nhanako@example.co.jp;テスト商事, 東京;120\r\n"
    text, encoding = decode(data.encode("cp932"))
    header, rows = records(text)
    assert encoding == "cp932"
    assert rows == [(2, ["hanako@example.co.jp", "テスト商事, 東京", "120"])]
    assert mapping_resolve(header) == {
        "メールアドレス": "email",
        "会社名": "company",
        "従業員数": "employees",
    }


def test_utf8_with_one_stray_byte_stays_utf8_and_only_that_row_fails():
    data = "email,company\ntaro@example.co.jp,株式会社サンプル\n".encode() + b"jiro@x.jp,\xff\n"
    text, encoding = decode(data)
    assert encoding == "utf-8"
    assert "株式会社サンプル" in text
    assert text.splitlines()[2] == "jiro@x.jp,\ufffd"


def test_a_blank_first_line_does_not_hide_the_delimiter():
    header, rows = records("\nemail,company\ntaro@example.co.jp,サクラ\n")
    assert header == ["email", "company"]
    assert [cells for _, cells in rows] == [["taro@example.co.jp", "サクラ"]]

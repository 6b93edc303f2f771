"""CSV import: encodings, Japanese headers, events from a seminar list, progress, bad rows."""

import codecs
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from handoff.models import LeadView
from mqlapp.leads.ingest.imports import lead_import_run
from mqlapp.leads.models import Event, ImportJob

pytestmark = pytest.mark.django_db

HEADER = "姓,名,会社名,メールアドレス,役職,部署名,電話番号,event,参加日,セミナー名"
TOKYO = ZoneInfo("Asia/Tokyo")


def seminar_csv(rows=1001, bad_row_at=500):
    """A seminar attendee list as Excel saves it; one row (file row bad_row_at + 2) is bad."""
    lines = [HEADER]
    for i in range(rows):
        email = "壊れたアドレス" if i == bad_row_at else f"attendee{i}@example.co.jp"
        lines.append(
            f"山田{i},太郎,株式会社サンプル{i % 7},{email},部長,営業部,03-1234-{i % 10000:04d},"
            f"Seminar Attended,2025/04/01,DXセミナー"
        )
    return "\r\n".join(lines) + "\r\n"


def upload(client, content, *, name="list.csv", **fields):
    data = content if isinstance(content, bytes) else content.encode("cp932")
    return client.post(
        "/api/leads/import/",
        {"file": SimpleUploadedFile(name, data, content_type="text/csv"), **fields},
        format="multipart",
    )


@pytest.fixture
def marketer(api):
    return api("marketer")


def run(client, content, captured, **fields):
    with captured(execute=True):
        response = upload(client, content, **fields)
    assert response.status_code == 202, response.content
    return client.get(f"/api/imports/{response.json()['id']}/").json()


def test_a_cp932_seminar_list_of_1001_rows_with_one_bad_row(
    marketer, django_capture_on_commit_callbacks
):
    job = run(marketer, seminar_csv(), django_capture_on_commit_callbacks)
    assert {k: job[k] for k in ("status", "total", "processed", "created", "updated")} == {
        "status": "done",
        "total": 1001,
        "processed": 1001,
        "created": 1000,
        "updated": 0,
    }
    assert job["encoding"] == "cp932"
    assert job["errors"] == [{"row": 502, "error": "email: Enter a valid email address."}]
    lead = LeadView.objects.get(email="attendee7@example.co.jp")
    assert (lead.last_name, lead.first_name, lead.company, lead.title, lead.department) == (
        "山田7",
        "太郎",
        "株式会社サンプル0",
        "部長",
        "営業部",
    )
    assert lead.phone == "03-1234-0007"
    event = lead.events.get()
    assert (event.type, event.name, event.properties) == (
        "track",
        "Seminar Attended",
        {"セミナー名": "DXセミナー"},
    )
    assert event.timestamp == datetime(2025, 4, 1, tzinfo=TOKYO)
    assert Event.objects.count() == 1000


def test_importing_the_same_file_again_creates_no_duplicates(
    marketer, django_capture_on_commit_callbacks
):
    content = seminar_csv(rows=30, bad_row_at=-1)
    run(marketer, content, django_capture_on_commit_callbacks)
    again = run(marketer, content, django_capture_on_commit_callbacks)
    assert (again["created"], again["updated"], again["errors"]) == (0, 30, [])
    assert (LeadView.objects.count(), Event.objects.count()) == (30, 30)


def test_progress_is_visible_and_a_stopped_job_resumes(marketer):
    response = upload(marketer, seminar_csv(rows=600, bad_row_at=-1))  # the task is not run
    job_id = response.json()["id"]
    assert response.json()["status"] == "queued"

    lead_import_run(job_id, max_rows=250)
    halfway = marketer.get(f"/api/imports/{job_id}/").json()
    assert (halfway["status"], halfway["total"], halfway["processed"], halfway["created"]) == (
        "running",
        600,
        250,
        250,
    )
    assert LeadView.objects.count() == 250

    lead_import_run(job_id)
    done = marketer.get(f"/api/imports/{job_id}/").json()
    assert (done["status"], done["processed"], done["created"]) == ("done", 600, 600)
    assert ImportJob.objects.get(pk=job_id).data == b""  # the file is not kept once imported


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (codecs.BOM_UTF8 + "メールアドレス,姓\r\nbom@example.com,渡辺\r\n".encode(), "utf-8-sig"),
        ("メールアドレス,姓\nplain@example.com,渡辺\n".encode(), "utf-8"),
        ("メールアドレス,姓\nsjis@example.com,渡辺\n".encode("shift_jis"), "cp932"),
        ("メールアドレス\t姓\ntab@example.com\t渡辺\n".encode("utf-16"), "utf-16"),
    ],
)
def test_encodings_are_detected(marketer, django_capture_on_commit_callbacks, encoded, encoding):
    job = run(marketer, encoded, django_capture_on_commit_callbacks)
    assert (job["status"], job["encoding"], job["created"]) == ("done", encoding, 1)
    assert LeadView.objects.get().last_name == "渡辺"


def test_english_headers_full_names_and_extra_columns(marketer, django_capture_on_commit_callbacks):
    content = (
        "Email Address,Full Name,Company Name,Job Title,Employees,展示会ブース\n"
        'Ken@Example.com,佐藤　健,ACME,CTO,"1,500",B-12\n'
    ).encode()
    job = run(marketer, content, django_capture_on_commit_callbacks)
    assert job["mapping"] == {
        "Email Address": "email",
        "Full Name": "name",
        "Company Name": "company",
        "Job Title": "title",
        "Employees": "employees",
        "展示会ブース": "extra",
    }
    lead = LeadView.objects.get()
    assert (lead.email, lead.last_name, lead.first_name, lead.employees) == (
        "ken@example.com",
        "佐藤",
        "健",
        1500,
    )
    assert lead.traits == {"展示会ブース": "B-12"}  # no event column: kept on the lead
    assert Event.objects.count() == 0


def test_a_mapping_names_columns_the_app_does_not_know(
    marketer, django_capture_on_commit_callbacks
):
    content = "連絡用,氏名カナ,メモ\nx@example.com,ヤマダ,電話済\n".encode()
    job = run(
        marketer,
        content,
        django_capture_on_commit_callbacks,
        mapping='{"連絡用": "email", "メモ": ""}',
    )
    assert job["status"] == "done"
    assert LeadView.objects.get().traits == {"氏名カナ": "ヤマダ"}  # メモ ignored


def test_the_same_email_twice_in_a_file_is_one_lead(marketer, django_capture_on_commit_callbacks):
    content = "email,title\na@example.com,課長\nA@example.com,部長\n".encode()
    job = run(marketer, content, django_capture_on_commit_callbacks)
    assert (job["created"], job["updated"]) == (1, 1)
    assert LeadView.objects.get().title == "部長"


def test_rows_with_broken_bytes_or_bad_values_are_reported_and_the_rest_imported(
    marketer, django_capture_on_commit_callbacks
):
    content = (
        "メールアドレス,従業員数,電話番号,日付\n".encode("cp932")
        + b"bad-bytes@example.com,\x81\xff,,\n"
        + "ok@example.com,120名,,\n".encode("cp932")
        + "emp@example.com,たくさん,,\n".encode("cp932")
        + "tel@example.com,,12,\n".encode("cp932")
        + "no-email-here,,,\n".encode("cp932")
        + "date@example.com,,,2025/13/45\n".encode("cp932")
        + ",,,\n".encode("cp932")  # an empty line is not a row
    )
    job = run(marketer, content, django_capture_on_commit_callbacks)
    assert (job["status"], job["total"], job["created"]) == ("done", 6, 1)
    assert [e["row"] for e in job["errors"]] == [2, 4, 5, 6, 7]
    assert "not valid text" in job["errors"][0]["error"]
    assert job["errors"][1]["error"] == "employees: employees must be a whole number such as 1200"
    assert job["errors"][2]["error"].startswith("phone:")
    assert job["errors"][3]["error"] == "email: Enter a valid email address."
    assert job["errors"][4]["error"] == "timestamp: not a date or time: '2025/13/45'"
    assert LeadView.objects.get().employees == 120


def test_a_file_without_an_email_column_is_refused_at_once(marketer):
    response = upload(marketer, "姓,名\n山田,太郎\n")
    assert response.status_code == 400
    assert "No email column" in response.json()["error"]
    assert ImportJob.objects.count() == 0


def test_a_file_that_is_not_text_is_refused(marketer):
    response = upload(marketer, bytes(range(256)) * 40)
    assert response.status_code == 400
    assert "neither UTF-8 nor Shift_JIS" in response.json()["error"]


def test_import_needs_a_file_and_the_right_role(api, marketer):
    assert marketer.post("/api/leads/import/", {}, format="multipart").status_code == 400
    assert upload(api("sales"), "email\na@example.com\n").status_code == 403
    job = upload(marketer, "email\na@example.com\n").json()
    assert api("sales").get(f"/api/imports/{job['id']}/").status_code == 200
    assert [j["id"] for j in api("sales").get("/api/imports/").json()] == [job["id"]]


def test_the_sweep_starts_jobs_whose_task_was_lost(marketer):
    from datetime import timedelta

    from django.utils import timezone

    from mqlapp.leads.tasks import imports_sweep

    job_id = upload(marketer, "email\nlost@example.com\n").json()["id"]  # task never ran
    assert imports_sweep() == 0  # a job just queued is left to its own task
    ImportJob.objects.filter(pk=job_id).update(created_at=timezone.now() - timedelta(minutes=2))
    assert imports_sweep() == 1
    assert ImportJob.objects.get(pk=job_id).status == "done"
    assert LeadView.objects.get().email == "lost@example.com"


def test_company_name_characters_survive_an_import(marketer, django_capture_on_commit_callbacks):
    """㈱ and ㍿ are how the company writes its name: kept. Width variants people type by
    accident are still folded: full-width letters and digits, half-width katakana."""
    content = (
        "メールアドレス,会社名,姓,部署名,電話番号\n"
        "a@example.co.jp,㈱サクラ ﾃｸﾉﾛｼﾞｰ,①佐藤,ＤＸ推進部,０３-１２３４-５６７８\n"
        "b@example.co.jp,サクラ㍿,山田,営業部,03-1234-5679\n"
    ).encode()
    job = run(marketer, content, django_capture_on_commit_callbacks)
    assert (job["status"], job["created"]) == ("done", 2), job
    first = LeadView.objects.get(email="a@example.co.jp")
    assert first.company == "㈱サクラ テクノロジー"
    assert first.last_name == "①佐藤"
    assert first.department == "DX推進部"
    assert first.phone == "03-1234-5678"
    assert LeadView.objects.get(email="b@example.co.jp").company == "サクラ㍿"

"""The imports page: upload a CSV, see the jobs with progress; the list polls while busy."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from handoff.models import LeadView
from mqlapp.leads.ingest.imports import lead_import_run
from mqlapp.leads.models import ImportJob
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

CSV = (
    "姓,名,会社名,メールアドレス,event,参加日\r\n"
    "山田,太郎,株式会社サンプル,yamada@example.co.jp,Seminar Attended,2025/04/01\r\n"
    "佐藤,花子,株式会社サンプル,壊れたアドレス,Seminar Attended,2025/04/01\r\n"
    "鈴木,一郎,テスト株式会社,suzuki@example.co.jp,Seminar Attended,2025/04/01\r\n"
)


def _file(text=CSV, name="seminar.csv"):
    return SimpleUploadedFile(name, text.encode("cp932"), content_type="text/csv")


@pytest.mark.parametrize(("role", "status"), [("marketer", 200), ("admin", 200), ("sales", 403)])
def test_imports_pages_are_for_marketers_and_admins(make_user, role, status):
    client = signed_in(make_user(role))
    assert client.get("/imports/").status_code == status
    assert client.get("/imports/jobs/").status_code == status
    response = client.post("/imports/", {"file": _file()})
    assert response.status_code == (302 if status == 200 else 403)
    assert ImportJob.objects.count() == (1 if status == 200 else 0)


def test_a_cp932_file_uploaded_through_the_page_is_imported_and_shown(
    make_user, django_capture_on_commit_callbacks
):
    client = signed_in(make_user("marketer"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imports/", {"file": _file()})
    assert response.status_code == 302
    assert response["Location"] == "/imports/"
    job = ImportJob.objects.get()
    assert (job.status, job.total, job.processed, job.created, job.encoding) == (
        "done",
        3,
        3,
        2,
        "cp932",
    )
    assert sorted(LeadView.objects.values_list("email", flat=True)) == [
        "suzuki@example.co.jp",
        "yamada@example.co.jp",
    ]
    partial = client.get("/imports/jobs/", HTTP_ACCEPT_LANGUAGE="en")
    assert partial.status_code == 200
    html = partial.content.decode()
    assert "<html" not in html
    assert "seminar.csv" in html
    assert '<span class="progress-text">3 / 3</span>' in html
    assert "1 row error" in html
    assert "Row 3: Email: Enter a valid email address." in html  # the field in words
    ja = client.get("/imports/jobs/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "3: メールアドレス: 有効なメールアドレスを入力してください。" in ja
    assert "hx-trigger" not in html  # nothing running: no polling
    page = client.get("/imports/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'for="import-file"' in page
    assert '<span class="progress-text">3 / 3</span>' in page


def test_the_job_list_polls_while_a_job_is_queued_or_running_and_shows_progress(make_user):
    client = signed_in(make_user("admin"))
    rows = "".join(f"名{i},社,x{i}@example.co.jp\r\n" for i in range(5))
    # on_commit does not fire here: the job stays queued until run by hand
    client.post("/imports/", {"file": _file("名,会社名,email\r\n" + rows)})
    job = ImportJob.objects.get()
    queued = client.get("/imports/jobs/").content.decode()
    assert 'hx-get="/imports/jobs/" hx-trigger="every 2s"' in queued
    assert '<span class="progress-text">0 / 5</span>' in queued
    lead_import_run(job.pk, max_rows=2)  # stops part-way, as between two chunks
    halfway = client.get("/imports/jobs/").content.decode()
    assert 'hx-trigger="every 2s"' in halfway
    assert '<span class="progress-text">2 / 5</span>' in halfway
    lead_import_run(job.pk)
    done = client.get("/imports/jobs/").content.decode()
    assert "hx-trigger" not in done
    assert '<span class="progress-text">5 / 5</span>' in done


def test_a_file_without_an_email_column_is_refused_with_the_reason(make_user):
    client = signed_in(make_user("marketer"))
    response = client.post("/imports/", {"file": _file("名,会社名\r\n太郎,社\r\n")})
    assert response.status_code == 400
    assert "No email column" in response.content.decode()
    assert not ImportJob.objects.exists()
    missing = client.post("/imports/", {})
    assert missing.status_code == 400
    assert missing.context["errors"] == {"file": ["Choose a CSV file."]}


def test_an_event_name_given_on_the_page_becomes_each_rows_event(
    make_user, django_capture_on_commit_callbacks
):
    client = signed_in(make_user("marketer"))
    text = (
        "姓,メールアドレス,参加日\r\n"
        "\r\n"
        "山田,yamada@example.co.jp,2025/04/01\r\n"
        "佐藤,bad,2025/04/01\r\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imports/", {"file": _file(text), "event": "Trade Show Visit"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert (job.status, job.total, job.created) == ("done", 2, 1)
    # the blank line is kept: the bad row is still row 4 of the uploaded file
    assert list(job.row_errors.values_list("row", flat=True)) == [4]
    event = LeadView.objects.get(email="yamada@example.co.jp").events.get()
    assert (event.type, event.name) == ("track", "Trade Show Visit")


def test_an_event_name_with_an_event_column_is_refused(make_user):
    client = signed_in(make_user("marketer"))
    response = client.post("/imports/", {"file": _file(), "event": "Other"})
    assert response.status_code == 400
    assert list(response.context["errors"]) == ["event"]
    assert not ImportJob.objects.exists()

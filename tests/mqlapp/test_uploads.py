"""CSV uploads stop at IMPORT_MAX_BYTES while they stream in (issue 10: they were read whole
into memory before the size check): past it, the API answers 413 JSON naming the limit and the
imports page a readable message; an upload within it imports as before. Real multipart bodies
through Django's parser and upload handlers."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.test import Client

from mqlapp.leads.ingest.uploads import FORM_OVERHEAD_BYTES, size_text
from mqlapp.leads.models import ImportJob
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db

LIMIT = 64 * 1024
HEADER = "メールアドレス,姓,名\r\n"


def csv_of(size: int) -> bytes:
    """A valid lead list of about `size` bytes."""
    lines, total, i = [HEADER], len(HEADER), 0
    while total < size:
        line = f"person{i}@example.co.jp,山田,太郎{i}\r\n"
        lines.append(line)
        total += len(line.encode())
        i += 1
    return "".join(lines).encode()[:size] if size < total else "".join(lines).encode()


@pytest.fixture
def limit(settings):
    settings.IMPORT_MAX_BYTES = LIMIT
    return LIMIT


@pytest.fixture
def disk_writes(monkeypatch):
    """The bytes Django's temporary-file handler writes to disk, per request."""
    written = []
    original = TemporaryFileUploadHandler.receive_data_chunk

    def counting(self, raw_data, start):
        written.append(len(raw_data))
        return original(self, raw_data, start)

    monkeypatch.setattr(TemporaryFileUploadHandler, "receive_data_chunk", counting)
    return written


def _upload(client, data: bytes, **headers):
    return client.post(
        "/api/leads/import/",
        {"file": SimpleUploadedFile("list.csv", data, content_type="text/csv")},
        format="multipart",
        **headers,
    )


def test_size_text_names_the_limit():
    assert [size_text(n) for n in (20 * 1024 * 1024, 65536, 1000)] == [
        "20 MB",
        "64 KB",
        "1,000 bytes",
    ]


def test_an_upload_just_past_the_limit_is_413_json_naming_it(api, limit, disk_writes):
    data = csv_of(limit + 1)
    assert len(data) == limit + 1

    response = _upload(api("marketer"), data)

    assert response.status_code == 413
    assert response.json() == {
        "error": "The file is larger than the 64 KB limit.",
        "code": "too_large",
        "limit_bytes": LIMIT,
        "fields": {"file": ["too large"]},
    }
    assert ImportJob.objects.count() == 0
    assert sum(disk_writes) <= limit  # streamed, and cut at the limit


def test_an_upload_far_past_the_limit_is_refused_unread(api, limit, disk_writes):
    data = csv_of(limit + FORM_OVERHEAD_BYTES + 1024)

    response = _upload(api("marketer"), data)

    assert response.status_code == 413
    assert response.json()["limit_bytes"] == LIMIT
    assert disk_writes == []  # the body was never parsed
    assert ImportJob.objects.count() == 0


def test_a_session_signed_in_upload_past_the_limit_is_413_too(make_user, limit):
    # The CSRF check reads the multipart body (for the token field) before the view runs:
    # the handler stops the file there too.
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("marketer"))
    token = client.get("/imports/").cookies["csrftoken"].value
    upload = SimpleUploadedFile("big.csv", csv_of(limit + 100), content_type="text/csv")

    response = client.post("/api/leads/import/", {"csrfmiddlewaretoken": token, "file": upload})

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert ImportJob.objects.count() == 0


def test_an_upload_within_the_limit_still_imports(api, limit, django_capture_on_commit_callbacks):
    data = csv_of(limit - 100)
    client = api("marketer")

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(client, data)

    assert response.status_code == 202, response.content
    job = ImportJob.objects.get()
    assert (job.status, job.total, job.processed) == ("done", job.total, job.total)
    assert job.total > 1000
    assert job.created == job.total


def test_a_file_past_the_memory_size_goes_through_disk_and_imports(
    api, settings, disk_writes, django_capture_on_commit_callbacks
):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    data = csv_of(32 * 1024)

    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(api("marketer"), data)

    assert response.status_code == 202, response.content
    assert sum(disk_writes) == len(data)
    assert ImportJob.objects.get().status == "done"


def test_the_imports_page_says_the_file_is_too_large(make_user, limit):
    client = signed_in(make_user("marketer"))
    upload = SimpleUploadedFile("big.csv", csv_of(limit + 1), content_type="text/csv")

    response = client.post("/imports/", {"file": upload, "event": "Seminar Attended"})

    assert response.status_code == 413
    assert "The file is larger than the 64 KB limit." in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_the_imports_page_says_so_in_japanese(make_user, limit):
    client = signed_in(make_user("marketer"), language="ja")
    upload = SimpleUploadedFile("big.csv", csv_of(limit + 1), content_type="text/csv")

    response = client.post("/imports/", {"file": upload})

    assert response.status_code == 413
    assert "ファイルが上限 (64 KB) を超えています。" in response.content.decode()


def test_the_imports_page_still_imports_a_file_within_the_limit(make_user, limit):
    client = signed_in(make_user("marketer"))
    upload = SimpleUploadedFile("list.csv", csv_of(limit - 100), content_type="text/csv")

    response = client.post("/imports/", {"file": upload})

    assert response.status_code == 302
    assert ImportJob.objects.count() == 1


def test_a_page_post_far_past_the_limit_is_still_answered_readably(make_user, limit):
    client = Client()
    client.force_login(make_user("marketer"))
    upload = SimpleUploadedFile("big.csv", csv_of(4 * limit), content_type="text/csv")
    response = client.post("/imports/", {"file": upload})
    assert response.status_code == 413
    assert "64 KB" in response.content.decode()

"""CSV import jobs: accept a file, then import it in chunks with progress; bad rows are kept."""

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import OperationalError, transaction
from django.utils import timezone

from ..errors import InvalidInput
from ..models import ImportJob, ImportRowError, Source, User
from ..services import task_kick
from .csvfile import FileInvalid, Row, RowInvalid, decode, mapping_resolve, records, row_parse
from .messages import Message, server_message_id
from .services import events_ingest

log = logging.getLogger(__name__)
IMPORT_TASK = "mqlapp.leads.tasks.lead_import_run"
CHUNK_ROWS = 250


@transaction.atomic
def lead_import_create(
    *,
    filename: str,
    data: bytes,
    mapping: dict[str, str] | None = None,
    source: Source | None = None,
    user: User | None = None,
) -> ImportJob:
    """Check the file can be read (encoding, header, an email column), queue the job."""
    if len(data) > settings.IMPORT_MAX_BYTES:
        raise InvalidInput(
            f"The file is larger than {settings.IMPORT_MAX_BYTES // (1024 * 1024)} MB.",
            fields={"file": ["too large"]},
        )
    try:
        text, encoding = decode(data)
        header, rows = records(text)
        resolved = mapping_resolve(header, mapping)
    except FileInvalid as exc:
        raise InvalidInput(str(exc), fields={"file": [str(exc)]}) from exc
    job = ImportJob.objects.create(
        filename=filename[:255],
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        encoding=encoding,
        mapping=resolved,
        source=source,
        created_by=user,
        total=len(rows),
    )
    transaction.on_commit(lambda: task_kick(IMPORT_TASK, job.pk))
    return job


def lead_import_run(job_id: int, *, max_rows: int | None = None) -> ImportJob:
    """Import the rows not yet processed, a chunk per transaction (progress after each).

    Safe to run again (a redelivered task): it resumes at `processed`; leads are upserted by
    email and event rows carry content-derived ids, so nothing is stored twice.
    """
    job = ImportJob.objects.get(pk=job_id)
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        return job
    ImportJob.objects.filter(pk=job_id, started_at__isnull=True).update(started_at=timezone.now())
    ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.RUNNING)
    try:
        text, _ = decode(bytes(job.data))
        header, rows = records(text)
    except FileInvalid as exc:
        return _finish(job_id, status=ImportJob.Status.FAILED, error=str(exc))
    done_here = 0
    while True:
        step = CHUNK_ROWS if max_rows is None else min(CHUNK_ROWS, max_rows - done_here)
        if step <= 0:
            return ImportJob.objects.get(pk=job_id)
        try:
            processed = _chunk_import(job_id, rows=rows, header=header, limit=step)
        except (ConnectionError, OperationalError):
            raise  # transient: the task retries and resumes at `processed`
        except Exception as exc:
            log.exception("import %s failed", job_id)
            return _finish(job_id, status=ImportJob.Status.FAILED, error=f"stopped: {exc}"[:2000])
        if processed == 0:
            return _finish(job_id, status=ImportJob.Status.DONE)
        done_here += processed


@transaction.atomic
def _chunk_import(
    job_id: int, *, rows: Sequence[tuple[int, list[str]]], header: list[str], limit: int
) -> int:
    job = ImportJob.objects.select_for_update().get(pk=job_id)  # one runner at a time
    chunk = rows[job.processed : job.processed + limit]
    if not chunk:
        return 0
    parsed: list[Row] = []
    errors: list[ImportRowError] = []
    for number, cells in chunk:
        try:
            parsed.append(row_parse(number, cells, header, job.mapping))
        except RowInvalid as exc:
            errors.append(ImportRowError(job=job, row=number, error=str(exc)[:500]))
    created, updated = _rows_store(job, parsed, errors)
    ImportRowError.objects.bulk_create(errors, ignore_conflicts=True)
    job.processed += len(chunk)
    job.created += created
    job.updated += updated
    job.save(update_fields=["processed", "created", "updated"])
    return len(chunk)


def _rows_store(job: ImportJob, rows: list[Row], errors: list[ImportRowError]) -> tuple[int, int]:
    """All rows in one go; if the database refuses the chunk, row by row to find the bad one."""
    try:
        with transaction.atomic():
            return _rows_ingest(job, rows)
    except Exception:
        log.warning(
            "import %s: a chunk failed; retrying its rows one by one", job.pk, exc_info=True
        )
    created = updated = 0
    for row in rows:
        try:
            with transaction.atomic():
                c, u = _rows_ingest(job, [row])
        except Exception as exc:  # noqa: BLE001 (one bad row never stops the rest: SPEC §3)
            errors.append(ImportRowError(job=job, row=row.number, error=f"not stored: {exc}"[:500]))
            continue
        created, updated = created + c, updated + u
    return created, updated


def _rows_ingest(job: ImportJob, rows: list[Row]) -> tuple[int, int]:
    now = timezone.now()
    messages: list[Message] = []
    for row in rows:
        at = row.timestamp or job.created_at or now
        traits: dict[str, Any] = dict(row.lead)
        if not row.event:
            traits.update(row.extra)
        messages.append(_message("identify", row, at=at, now=now, traits=traits))
        if row.event:
            messages.append(_message("track", row, at=at, now=now))
    outcome = events_ingest(messages, source=job.source, bulk=True)
    created = updated = 0
    counted: set[str] = set()
    for row in rows:
        email = row.lead["email"]
        if email in outcome.created_emails and email not in counted:
            created += 1
        else:
            updated += 1
        counted.add(email)
    return created, updated


def _message(kind: str, row: Row, *, at: Any, now: Any, traits: Any = None) -> Message:
    """Built directly: an imported row has no Segment ids, only an email."""
    email = row.lead["email"]
    track = kind == "track"
    return Message(
        index=row.number,
        type=kind,
        # Zero-padded row number first: for one email and date, the later row wins the tie
        # (the greater messageId, docs/ingestion.md); the digest keeps it unguessable.
        message_id=row.event_id()
        if track
        else server_message_id("import-identify", row.number, order=f"{row.number:010d}"),
        anonymous_id="",
        user_id="",
        name=row.event if track else "",
        properties=dict(row.extra) if track else {},
        context={"traits": {"email": email}, "library": {"name": "csv-import"}},
        traits=traits or {},
        timestamp=at,
        sent_at=None,
        received_at=now,
        persist=track,  # the identify only updates the lead; the row's event is kept
    )


def _finish(job_id: int, *, status: str, error: str = "") -> ImportJob:
    ImportJob.objects.filter(pk=job_id).update(
        status=status, error=error, finished_at=timezone.now(), data=b""
    )
    return ImportJob.objects.get(pk=job_id)

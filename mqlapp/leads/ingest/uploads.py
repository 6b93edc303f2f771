"""Uploaded files (CSV imports) stream to disk and stop at IMPORT_MAX_BYTES: a larger file is
never held in memory nor written out whole; the view answers 413 naming the limit."""

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest

from ..errors import DomainError

_REFUSED = "mqlapp_upload_too_large"
_KB, _MB = 1024, 1024 * 1024
# Room for the other fields of an import form (mapping, source, event, CSRF token) and the
# multipart boundaries: a request longer than the limit plus this holds a file past the limit.
FORM_OVERHEAD_BYTES = 64 * 1024


class UploadTooLarge(DomainError):
    status_code = 413
    code = "too_large"


def size_text(size: int) -> str:
    """20971520 → "20 MB", 65536 → "64 KB", 1000 → "1,000 bytes"."""
    for unit, name in ((_MB, "MB"), (_KB, "KB")):
        if size >= unit and size % unit == 0:
            return f"{size // unit} {name}"
    return f"{size:,} bytes"


class LimitedUploadHandler(FileUploadHandler):
    """The first of FILE_UPLOAD_HANDLERS: passes each file's chunks on to the memory or disk
    handler after it, and skips the file once it passes the limit (the rest of it is read and
    dropped, never stored), marking the request so that the view can say why."""

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.IMPORT_MAX_BYTES:
            if self.request is not None:
                setattr(self.request, _REFUSED, True)
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> Any:
        return None  # the handler after this one makes the file


def upload_refused(request: HttpRequest) -> bool:
    """True when the request carried a file past IMPORT_MAX_BYTES, or is too long to hold one
    within it. Call it before reading request.FILES: a long request is refused unread."""
    declared = request.META.get("CONTENT_LENGTH") or "0"
    length = int(declared) if str(declared).isdigit() else 0
    if length > settings.IMPORT_MAX_BYTES + FORM_OVERHEAD_BYTES:
        return True
    return bool(getattr(request, _REFUSED, False))


def upload_too_large() -> UploadTooLarge:
    limit = settings.IMPORT_MAX_BYTES
    return UploadTooLarge(
        f"The file is larger than the {size_text(limit)} limit.",
        limit_bytes=limit,
        fields={"file": ["too large"]},
    )

"""Page-number pagination: `page`, `page_size` (up to 500); answers carry count/next/results.

Both parameters are read by the shared reader (`whole_param`): a page or page size that is
not a whole number in range is a 400 naming it, where DRF would silently use the default page
size or answer 404. A page past the last one is still 404 ("Invalid page")."""

from typing import Any

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from ..parsing import ID_MAX, whole_param


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        size = whole_param(
            request.query_params.get(self.page_size_query_param),
            name=self.page_size_query_param,
            low=1,
            high=self.max_page_size,
        )
        return self.page_size if size is None else size

    def get_page_number(self, request: Request, paginator: Any) -> int | str:
        raw = request.query_params.get(self.page_query_param)
        if raw in self.last_page_strings:
            return int(paginator.num_pages)
        number = whole_param(raw, name=self.page_query_param, low=1, high=ID_MAX)
        return 1 if number is None else number

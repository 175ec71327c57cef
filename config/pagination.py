"""Pages of the REST API's lists: 50 rows unless `limit` asks for another number, and
never more than MAX_PAGE_ROWS, so nobody pulls the whole membership (phones and all) or
the whole log in one request. Clients page with `offset` (the `next` link)."""

from rest_framework.pagination import LimitOffsetPagination

MAX_PAGE_ROWS = 500


class CappedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = MAX_PAGE_ROWS

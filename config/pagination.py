"""Pages of the REST API's lists: 50 rows unless `limit` asks for another number, and
never more than MAX_PAGE_ROWS, so nobody pulls the whole membership (phones and all) or
the whole log in one request. Clients page with `offset` (the `next` link).

`limit` and `offset` are read like the filters (config.api.query_filters): a malformed
one (`limit=abc`, `offset=-1`, `limit=0`) is a 400 naming it, not silently the default;
an empty one is as if not given."""

from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination

MAX_PAGE_ROWS = 500


class PageParameters(serializers.Serializer):
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)


class CappedLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = MAX_PAGE_ROWS

    def get_limit(self, request):
        limit = _page_parameters(request).get("limit", self.default_limit)
        return min(limit, self.max_limit)

    def get_offset(self, request):
        return _page_parameters(request).get("offset", 0)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        minimum = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            parameter["schema"]["minimum"] = minimum[parameter["name"]]
        return parameters


def _page_parameters(request) -> dict:
    # config.api.query_filters, which this module cannot import: config.api loads
    # drf-spectacular, which loads DRF's generic views, which load this module.
    form = PageParameters(data=request.query_params)
    form.is_valid(raise_exception=True)
    return form.validated_data

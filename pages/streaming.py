"""Downloads sent as they are made, for every face's exports.

Under ASGI, Django reads a StreamingHttpResponse's *synchronous* iterator to the end
into a list before sending the first byte, so a large export would sit in memory whole.
`streamed_download` hands Django an asynchronous iterator instead; each next chunk is
made by the synchronous generator in the request's own thread (thread_sensitive), so
its database cursor stays on the connection that opened it, and in the request's
language, which is no longer active once the view has returned.
"""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse
from django.utils import translation

_DONE = object()


async def _one_by_one(chunks: Iterator, language: str) -> AsyncIterator:
    def next_chunk():
        with translation.override(language):
            return next(chunks, _DONE)

    step = sync_to_async(next_chunk, thread_sensitive=True)
    try:
        while (chunk := await step()) is not _DONE:
            yield chunk
    finally:
        # A client that stops reading ends the generator (and its cursor) here.
        await sync_to_async(chunks.close, thread_sensitive=True)()


def streamed_download(
    chunks: Iterator, *, content_type: str, filename: str
) -> StreamingHttpResponse:
    chunks = _one_by_one(iter(chunks), translation.get_language())
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

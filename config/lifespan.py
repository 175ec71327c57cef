"""ASGI lifespan: start the embedded task runner with the server, stop it with it."""

from asgiref.sync import sync_to_async
from django.conf import settings


async def lifespan(scope, receive, send):
    runner = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.EMBEDDED:
                from config.celery import app
                from config.embedded import embedded_celery_start
                from dispatch.availability import index_rebuild

                # The in-memory location index starts empty in every process.
                await sync_to_async(index_rebuild, thread_sensitive=False)()
                runner = await sync_to_async(embedded_celery_start, thread_sensitive=False)(app)
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if runner is not None:
                await sync_to_async(runner.stop, thread_sensitive=False)()
            await send({"type": "lifespan.shutdown.complete"})
            return

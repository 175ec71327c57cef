"""The Celery app. Its configuration is the CELERY_* block of config/settings.py."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("tongxin")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _rebuild_location_index(sender, **kwargs):
    # Redis keeps nothing on disk: after a restart the location index is empty and no
    # one could be found. Each worker that starts asks for a rebuild at once rather
    # than waiting for the periodic reconcile (a rebuild is idempotent).
    # By name (dispatch.queue.INDEX_RECONCILE): this module is imported with the settings,
    # before any app is loaded, so it imports nothing of the project.
    sender.app.send_task("dispatch.tasks.index_reconcile")

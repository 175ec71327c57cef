"""python manage.py webpush_keys: a new VAPID key pair for Web Push (dispatch.push).

Prints the environment line that turns Web Push on. Keep the private key as secret as
SECRET_KEY; a new one makes every phone subscribe again (their subscriptions are bound
to the public key)."""

from django.core.management.base import BaseCommand

from dispatch.push import vapid_keys_new


class Command(BaseCommand):
    help = "Make a VAPID key pair for Web Push and print the setting that turns it on."

    def handle(self, *args, **options):
        private, public = vapid_keys_new()
        self.stdout.write(f"WEB_PUSH_VAPID_PRIVATE_KEY={private}")
        self.stderr.write(f"(its public key, which the phones are given: {public})")

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError
from tqdm import tqdm

from volunteers.demo import (
    DEMO_PASSWORD,
    FULL,
    SMALL,
    DemoAlreadySeeded,
    demo_counts,
    demo_logins_ensure,
    demo_seed,
)
from volunteers.models import Volunteer


class Command(BaseCommand):
    help = (
        "Build the demo city (Xinzheng): associations, trade branches, the rescue team, "
        f"{SMALL.volunteers} volunteers (--full: {FULL.volunteers:,}), vehicles with "
        "crews, 23 testing sites, and demo logins. Does nothing but make sure of the demo "
        "logins when the database already has volunteers, so start scripts can always run it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--full",
            action="store_true",
            help=f"the real city's size: {FULL.volunteers:,} volunteers, 160 vehicles",
        )
        parser.add_argument(
            "--allow-demo-logins",
            action="store_true",
            help="seed even with DEBUG off (benchmarks on production-like settings)",
        )

    def handle(self, *args, full: bool, allow_demo_logins: bool, **options):
        # The demo logins' password is published with the code: a production database
        # must never get them by a start script running this command.
        if not settings.DEBUG and not allow_demo_logins:
            raise CommandError(
                "seed_demo creates logins with a published password; refusing with DEBUG "
                "off. Pass --allow-demo-logins on a machine nobody else can reach."
            )
        started = time.monotonic()
        size = FULL if full else SMALL
        if Volunteer.objects.exists():
            logins = self._already_seeded()
        else:
            try:
                with tqdm(
                    total=size.volunteers, desc="volunteers", unit=" volunteers", disable=None
                ) as bar:
                    logins = demo_seed(size=size, progress=bar.update)
            except DemoAlreadySeeded:
                logins = self._already_seeded()
            except IntegrityError:
                # Another seed_demo committed the same city first (PostgreSQL): fine.
                if not Volunteer.objects.exists():
                    raise
                logins = self._already_seeded()

        self._logins_print(logins)
        counts = ", ".join(f"{label} {count:,}" for label, count in demo_counts().items())
        self.stdout.write(f"{counts} ({time.monotonic() - started:.1f} s)")

    def _already_seeded(self):
        self.stdout.write(
            f"{Volunteer.objects.count():,} volunteers already exist: seeding nothing, "
            "only making sure the demo logins exist."
        )
        return demo_logins_ensure()

    def _logins_print(self, logins):
        self.stdout.write(f'Demo logins (password "{DEMO_PASSWORD}"):')
        for login in logins:
            details = [login.role]
            if login.note:
                details.append(login.note)
            if not login.created:
                details.append("existing login, its password left as it was")
            self.stdout.write(f"  {login.username:<12} {'; '.join(details)}")
        self.stdout.write(
            self.style.WARNING(
                "WARNING: these are demo credentials, published with the code. "
                "Never keep them on a server others can reach."
            )
        )

"""Print where to watch the demo show: the viewer page, the live console and the admin, with
their logins (run after ``seed_demo``; ``bin/run`` does)."""

from django.core.management.base import BaseCommand, CommandError

from demo.management.commands.seed_demo import PASSWORD
from livestream.models import LiveRoom
from tenants.models import Brand
from tenants.scoping import brand_scope


class Command(BaseCommand):
    help = "Print the URLs of the demo's viewer page, live console and admin, with their logins."

    def add_arguments(self, parser):
        parser.add_argument("--base", default="http://127.0.0.1:8000")

    def handle(self, *args, base, **options):
        brand = Brand.objects.filter(slug="demo").first()
        if brand is None:
            raise CommandError("No demo brand: run `python manage.py seed_demo` first.")
        with brand_scope(brand):
            live = LiveRoom.objects.filter(title="Autumn new arrivals").first()
            upcoming = LiveRoom.objects.filter(title="Winter preview night").first()
        if live is None:
            raise CommandError("The demo room is missing: run `python manage.py seed_demo` again.")
        base = base.rstrip("/")
        self.stdout.write(self.style.SUCCESS("Watch a show between two windows side by side:"))
        self.stdout.write(f"""
  Viewer (phone)   {base}/live/rooms/{live.pk}/
                   logs in by itself through the sandbox WeChat client; each browser is one viewer
                   (a private window is another). Upcoming room: {base}/live/rooms/{upcoming.pk}/
  Live console     {base}/console/rooms/{live.pk}/live
                   demo-operator / {PASSWORD}   (rival-operator / {PASSWORD} is refused: another brand)
  Admin            {base}/admin/
                   demo-operator / {PASSWORD}   platform / {PASSWORD} (all brands)
""")

"""Rows of the live flush that the database refused (``livestream.services.live``): list them,
put them back in their queues for the next flush (``--retry``, after fixing the cause), or drop
them (``--drop``)."""

import json

from django.core.management.base import BaseCommand

from livestream.realtime import store


def requeue(entry: dict) -> None:
    live, kind, payload = store(), entry["kind"], entry["payload"]
    if kind == "comments":
        live.queue_comments([payload])
    elif kind == "sessions":
        live.queue_sessions([payload])
    elif kind == "clicks":
        live.requeue_product_clicks([tuple(json.loads(payload)[:4])])
    elif kind == "counters":
        live.mark_dirty([int(payload)])


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--retry", action="store_true", help="Queue every dead letter for the next flush.")
        action.add_argument("--drop", action="store_true", help="Forget every dead letter.")

    def handle(self, *args, retry=False, drop=False, **options):
        entries = store().take_dead_letters() if retry or drop else store().dead_letters()
        for entry in entries:
            self.stdout.write(f"{entry['kind']}\t{entry['error']}\t{entry['payload']}")
            if retry:
                requeue(entry)
        verb = "queued again" if retry else "dropped" if drop else "kept"
        self.stdout.write(f"{len(entries)} dead letter(s) {verb}.")

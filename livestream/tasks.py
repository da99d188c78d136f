"""Periodic jobs of live rooms (beat schedule in config/settings.py). Thin and idempotent."""

from celery import shared_task

from livestream.services import follow_ups, live, lotteries, reminders


@shared_task(name="livestream.send_start_reminders")
def send_start_reminders() -> dict:
    """Each due room's pending start reminders, each sent at most once, however often this runs."""
    return reminders.send_due_reminders()


@shared_task(name="livestream.flush_live_state")
def flush_live_state() -> dict:
    """Like totals, per-minute likes, online peaks, comments, viewing sessions and product clicks
    from Redis into the database, in batches. Safe to run twice: totals only grow and rows have
    fixed keys."""
    return live.live_flush()


@shared_task(name="livestream.send_follow_up")
def send_follow_up(follow_up_id: int) -> dict:
    """A follow-up's recipients, in batches; each given at most once, however often this runs."""
    return follow_ups.follow_up_send(follow_up_id=follow_up_id)


@shared_task(name="livestream.resume_follow_ups")
def resume_follow_ups() -> int:
    """Follow-ups whose task was lost (a worker restarted): finished by the beat."""
    return follow_ups.follow_ups_send_pending()


@shared_task(name="livestream.draw_due_lotteries")
def draw_due_lotteries() -> int:
    """Draw the lotteries whose draw time has come; one drawn meanwhile is skipped, never redrawn."""
    return lotteries.draw_due_lotteries()


@shared_task(name="livestream.lapse_unclaimed_prizes")
def lapse_unclaimed_prizes() -> int:
    """Physical prizes whose winner gave no address before the deadline lapse (a conditional UPDATE)."""
    return lotteries.lapse_unclaimed_prizes()

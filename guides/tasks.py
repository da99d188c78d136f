"""Periodic jobs of guides (beat schedule in config/settings.py). Thin and idempotent."""

from celery import shared_task

from guides.services import leaderboard, settlement


@shared_task(name="guides.settle_commissions")
def settle_commissions() -> int:
    """Pay every guide their payable commission; each entry is settled once, even run twice at once."""
    return settlement.settlements_run()


@shared_task(name="guides.freeze_leaderboards")
def freeze_leaderboards() -> int:
    """Freeze each ended campaign hour's ranking and record its rewards, once."""
    return leaderboard.leaderboards_freeze()

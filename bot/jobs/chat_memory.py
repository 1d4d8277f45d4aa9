"""What the bot remembers about people in memory only, for what it shows them (a restart merely
drops it): unfolded group keyboards, who has seen the 18+ notice."""

from __future__ import annotations


class ChatMemory:
    """Display state that is not worth a database row."""

    def __init__(self) -> None:
        self._unfolded: set[int] = set()  # group drafts whose options were unfolded with a tap
        self._spicy_told: set[int] = set()  # users who have seen the Spicy style's notice

    def unfold(self, job_id: int) -> None:
        self._unfolded.add(job_id)

    def is_unfolded(self, job_id: int) -> bool:
        return job_id in self._unfolded

    def forget_draft(self, job_id: int) -> None:
        self._unfolded.discard(job_id)

    def first_spicy_notice(self, user_id: int) -> bool:
        """True the first time a user picks the Spicy style (and from then on False)."""
        if user_id in self._spicy_told:
            return False
        self._spicy_told.add(user_id)
        return True

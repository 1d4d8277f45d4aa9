"""Storage on SQLite or PostgreSQL (db.py): schema and migrations, compare-and-set job
transitions, the credit ledger."""

from bot.storage.db import Database
from bot.storage.jobs import JobStore, Transition
from bot.storage.ledger import Balance, Ledger

__all__ = ["Balance", "Database", "JobStore", "Ledger", "Transition"]

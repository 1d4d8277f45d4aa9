"""Fakes of the outside world (Telegram Bot API, providers) for the tests and the offline demo."""

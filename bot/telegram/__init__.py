"""Telegram presentation: keyboards, message views, the messenger and video delivery."""

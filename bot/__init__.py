"""photo2video: a Telegram bot that turns a photo and a caption into a short AI video."""

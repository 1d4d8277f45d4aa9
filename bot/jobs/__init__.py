"""A job's life after the click: submit, wake-ups, download, delivery (docs/architecture.md)."""

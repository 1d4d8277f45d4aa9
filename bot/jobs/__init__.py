"""One job's life after the user clicks: submit, wake-ups, download and delivery (DESIGN.md §7)."""

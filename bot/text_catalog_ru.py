"""Russian texts (HTML). Same keys as the English catalog; a missing key falls back to English."""

RU: dict[str, str] = {}

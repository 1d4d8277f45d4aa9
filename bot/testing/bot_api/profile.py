"""The bot's profile texts: setMyDescription / setMyShortDescription and their getters.

Telegram keeps one text per language code ("" = every language without its own), limits the
description to 512 and the short description to 120 characters, and accepts only empty or
two-letter ISO 639-1 language codes.
"""

from __future__ import annotations

from bot.testing.bot_api.compose import Handler
from bot.testing.bot_api.wire import Json, UploadedFile, bad_request

LIMITS = {"description": 512, "short_description": 120}


class ProfileMethods:
    """Handlers for the profile methods; `texts[(field, language_code)]` is what was set."""

    def __init__(self) -> None:
        self.texts: dict[tuple[str, str], str] = {}

    def handlers(self) -> dict[str, Handler]:
        return {
            "setMyDescription": self._setter("description"),
            "getMyDescription": self._getter("description"),
            "setMyShortDescription": self._setter("short_description"),
            "getMyShortDescription": self._getter("short_description"),
        }

    def _setter(self, field: str) -> Handler:
        async def set_text(params: Json, files: dict[str, UploadedFile]) -> bool:
            code = _language_code(params)
            text = str(params.get(field) or "")
            if len(text) > LIMITS[field]:
                raise bad_request(f"{field} is too long")
            if text:
                self.texts[(field, code)] = text
            else:  # an empty text removes the one for that language
                self.texts.pop((field, code), None)
            return True

        return set_text

    def _getter(self, field: str) -> Handler:
        async def get_text(params: Json, files: dict[str, UploadedFile]) -> Json:
            code = _language_code(params)
            return {field: self.texts.get((field, code), "")}

        return get_text


def _language_code(params: Json) -> str:
    code = str(params.get("language_code") or "")
    if code and not (len(code) == 2 and code.isascii() and code.isalpha() and code.islower()):
        raise bad_request("language code is invalid")
    return code

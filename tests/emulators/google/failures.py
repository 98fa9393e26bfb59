"""The emulator's error answers, shaped like Google's."""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]


class ApiFailure(Exception):
    """An error answer: HTTP status, Google's reason, message."""

    def __init__(self, status: int, reason: str, message: str, domain: str = "global") -> None:
        self.status, self.reason, self.message, self.domain = status, reason, message, domain
        super().__init__(f"{status} {reason}: {message}")

    def body(self) -> Json:
        return {
            "error": {
                "errors": [{"domain": self.domain, "reason": self.reason, "message": self.message}],
                "code": self.status,
                "message": self.message,
            }
        }


def bad_request(message: str, reason: str = "invalid") -> ApiFailure:
    return ApiFailure(400, reason, message)


def not_found() -> ApiFailure:
    return ApiFailure(404, "notFound", "Not Found")

"""The Google Calendar emulator keeps the documented semantics, and its answers match the
schemas of the discovery document google-api-python-client ships (every answer of every test
is checked: the ``google_emulator`` fixture fails on any violation)."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httplib2
import httpx
import pytest
from googleapiclient import discovery_cache
from googleapiclient.discovery import build_from_document

from emulators.google import Faults, GoogleEmulator, discovery
from emulators.google.oauth import JWT_BEARER

CAL = "team@example.com"
EVENT = {
    "summary": "Hearing",
    "description": "Bring the file",
    "location": "Court 3",
    "start": {"dateTime": "2030-03-04T09:30:00-05:00", "timeZone": "America/New_York"},
    "end": {"dateTime": "2030-03-04T10:45:00-05:00", "timeZone": "America/New_York"},
    "status": "tentative",
    "transparency": "transparent",
    "visibility": "private",
    "attendees": [
        {"email": "ana@firm.example", "displayName": "Ana", "responseStatus": "accepted"}
    ],
    "reminders": {"useDefault": False, "overrides": [{"method": "popup", "minutes": 15}]},
    "source": {"url": "https://cases.example/42", "title": "case"},
    "extendedProperties": {"private": {"calsyncd.key": "cs1"}, "shared": {"x": "y"}},
}
SERIES = {
    "summary": "Weekly",
    "start": {"dateTime": "2030-03-04T09:00:00-05:00", "timeZone": "America/New_York"},
    "end": {"dateTime": "2030-03-04T10:00:00-05:00", "timeZone": "America/New_York"},
    "recurrence": ["RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=America/New_York:20300318T090000"],
}


class Api:
    """Raw HTTP against the emulator (no client library in the way)."""

    def __init__(self, emulator: GoogleEmulator) -> None:
        self.emulator = emulator
        self.http = httpx.Client(base_url=emulator.base_url, trust_env=False, timeout=10)

    def events(self, suffix: str = "", cal: str = CAL) -> str:
        return f"calendars/{cal}/events{suffix}"

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.call(method, path, **kwargs)
        assert answer.status_code in (200, 204), (answer.status_code, answer.text)
        return answer.json() if answer.content else None

    def insert(self, body: dict[str, Any], cal: str = CAL) -> dict[str, Any]:
        made: dict[str, Any] = self.ok("POST", self.events(cal=cal), json=body)
        return made

    def list(self, **params: Any) -> dict[str, Any]:
        listed: dict[str, Any] = self.ok("GET", self.events(), params=params)
        return listed

    def list_all(self, **params: Any) -> tuple[list[dict[str, Any]], str]:
        items: list[dict[str, Any]] = []
        while True:
            page = self.list(**params)
            items += page["items"]
            if "nextPageToken" not in page:
                return items, page["nextSyncToken"]
            params["pageToken"] = page["nextPageToken"]


def error(answer: httpx.Response) -> tuple[int, str]:
    body = answer.json()["error"]
    assert body["code"] == answer.status_code
    assert body["message"]
    (detail,) = body["errors"]
    assert {"domain", "reason", "message"} <= detail.keys()
    return answer.status_code, str(detail["reason"])


@pytest.fixture
def emulator() -> Iterator[GoogleEmulator]:
    with GoogleEmulator(require_auth=False) as running:
        running.add_calendar(CAL, time_zone="Europe/Berlin")
        yield running
    assert running.violations == []
    assert not running.alive


@pytest.fixture
def api(emulator: GoogleEmulator) -> Iterator[Api]:
    client = Api(emulator)
    yield client
    client.http.close()


# -- the discovery document -----------------------------------------------------------------


def test_answers_match_the_discovery_schemas(api: Api) -> None:
    made = api.insert(EVENT)
    assert discovery.violations(made, "Event") == []
    assert {"kind", "etag", "id", "iCalUID", "created", "updated", "organizer"} <= made.keys()
    assert made["kind"] == "calendar#event"
    listed = api.list()
    assert discovery.violations(listed, "Events") == []
    assert discovery.violations({"summary": 5, "colour": 1}, "Event") == [
        "Event.summary: 5 is not a valid string",
        "Event.colour: not in the discovery document",
    ]


def test_the_client_library_reaches_every_method_the_document_defines(
    emulator: GoogleEmulator,
) -> None:
    http = httplib2.Http(proxy_info=None)
    service = build_from_document(
        discovery_cache.get_static_doc("calendar", "v3"),
        http=http,
        client_options={"api_endpoint": emulator.base_url},
    )
    events = service.events()
    made = events.insert(calendarId=CAL, body=SERIES, sendUpdates="none").execute()
    event_id = made["id"]
    assert events.get(calendarId=CAL, eventId=event_id).execute()["id"] == event_id
    patched = events.patch(calendarId=CAL, eventId=event_id, body={"summary": "P"}).execute()
    put = events.update(calendarId=CAL, eventId=event_id, body={**SERIES, "summary": "U"}).execute()
    assert (patched["summary"], put["summary"]) == ("P", "U")
    instances = events.instances(calendarId=CAL, eventId=event_id).execute()["items"]
    assert len(instances) == 3  # four weeks, one excluded
    assert events.list(calendarId=CAL, singleEvents=False).execute()["items"][0]["id"] == event_id
    assert service.calendars().get(calendarId=CAL).execute()["timeZone"] == "Europe/Berlin"
    assert service.calendarList().get(calendarId=CAL).execute()["accessRole"] == "owner"
    assert events.delete(calendarId=CAL, eventId=event_id).execute() == ""
    http.close()
    operations = emulator.operations()
    assert set(operations) == {
        "events.insert",
        "events.get",
        "events.patch",
        "events.update",
        "events.instances",
        "events.list",
        "calendars.get",
        "calendarList.get",
        "events.delete",
    }


# -- insert, ids, etags, preconditions ------------------------------------------------------


def test_insert_answers_200_with_a_server_id_and_ical_uid(api: Api) -> None:
    answer = api.call("POST", api.events(), json=EVENT)
    assert answer.status_code == 200
    made = answer.json()
    assert len(made["id"]) >= 5
    assert set(made["id"]) <= set("0123456789abcdefghijklmnopqrstuv")
    assert made["iCalUID"] == f"{made['id']}@google.com"
    assert made["reminders"] == EVENT["reminders"]


@pytest.mark.parametrize("bad", ["abcd", "ABCDE", "abcdw", "a-bcde", "a" * 1025])
def test_client_ids_must_be_base32hex_of_5_to_1024(api: Api, bad: str) -> None:
    assert error(api.call("POST", api.events(), json={**EVENT, "id": bad})) == (400, "invalid")


def test_a_taken_id_is_a_409_duplicate_even_after_delete(api: Api) -> None:
    api.insert({**EVENT, "id": "cs0123456789"})
    answer = api.call("POST", api.events(), json={**EVENT, "id": "cs0123456789"})
    assert error(answer) == (409, "duplicate")
    api.ok("DELETE", api.events("/cs0123456789"))
    assert error(api.call("POST", api.events(), json={**EVENT, "id": "cs0123456789"})) == (
        409,
        "duplicate",
    )


def test_id_or_ical_uid_not_both(api: Api) -> None:
    answer = api.call("POST", api.events(), json={**EVENT, "id": "abcde", "iCalUID": "x@y"})
    assert error(answer)[0] == 400
    made = api.insert({**EVENT, "iCalUID": "x@y"})
    assert made["iCalUID"] == "x@y"
    assert error(api.call("POST", api.events(), json={**EVENT, "iCalUID": "x@y"})) == (
        409,
        "duplicate",
    )


def test_every_write_changes_the_etag_and_if_match_guards_it(api: Api) -> None:
    made = api.insert(EVENT)
    path = api.events(f"/{made['id']}")
    patched = api.ok("PATCH", path, json={"summary": "B"}, headers={"If-Match": made["etag"]})
    assert patched["etag"] != made["etag"]
    for method, body in (("PATCH", {"summary": "C"}), ("PUT", EVENT), ("DELETE", None)):
        stale = api.call(method, path, json=body, headers={"If-Match": made["etag"]})
        assert error(stale) == (412, "conditionNotMet")
    put = api.ok("PUT", path, json=EVENT, headers={"If-Match": patched["etag"]})
    assert put["etag"] != patched["etag"]
    assert api.call("DELETE", path, headers={"If-Match": put["etag"]}).status_code == 204


def test_patch_merges_objects_replaces_arrays_and_null_clears(api: Api) -> None:
    made = api.insert(EVENT)
    body = {
        "location": None,
        "extendedProperties": {"private": {"calsyncd.key": None, "new": "1"}},
        "attendees": [{"email": "bo@firm.example"}],
        "start": {"dateTime": "2030-03-04T09:00:00-05:00"},
    }
    patched = api.ok("PATCH", api.events(f"/{made['id']}"), json=body)
    assert "location" not in patched
    assert patched["extendedProperties"] == {"private": {"new": "1"}, "shared": {"x": "y"}}
    assert [a["email"] for a in patched["attendees"]] == ["bo@firm.example"]
    assert patched["start"] == {
        "dateTime": "2030-03-04T09:00:00-05:00",
        "timeZone": "America/New_York",
    }
    put = api.ok(
        "PUT", api.events(f"/{made['id']}"), json={"start": EVENT["start"], "end": EVENT["end"]}
    )
    assert "summary" not in put
    assert put["reminders"] == {"useDefault": True}


def test_extended_property_limits(api: Api) -> None:
    long_key, ok_key = "k" * 45, "k" * 44
    body = {**EVENT, "extendedProperties": {"private": {long_key: "x", ok_key: "v" * 2000}}}
    private = api.insert(body)["extendedProperties"]["private"]
    assert private == {ok_key: "v" * 1024}


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"start": {"dateTime": "2030-03-04T09:30:00"}}, "required"),
        ({"end": {"dateTime": "2030-03-04T08:00:00Z"}}, "timeRangeEmpty"),
        ({"end": {"date": "2030-03-05"}}, "invalid"),
        ({"colour": "red"}, "invalid"),
        ({"status": "maybe"}, "invalid"),
        (
            {"reminders": {"useDefault": True, "overrides": [{"method": "popup", "minutes": 1}]}},
            "cannotUseDefaultRemindersAndSpecifyOverride",
        ),
        (
            {
                "reminders": {
                    "useDefault": False,
                    "overrides": [{"method": "popup", "minutes": 1}] * 6,
                }
            },
            "tooManyReminders",
        ),
        ({"recurrence": ["RRULE:FREQ=SOMETIMES"]}, "invalid"),
        ({"attendees": [{"displayName": "no email"}]}, "required"),
        ({"source": {"url": "ftp://x", "title": "t"}}, "invalid"),
    ],
)
def test_invalid_events_are_400(api: Api, change: dict[str, Any], reason: str) -> None:
    assert error(api.call("POST", api.events(), json={**EVENT, **change})) == (400, reason)


def test_recurring_events_need_a_time_zone(api: Api) -> None:
    body = {**SERIES, "start": {"dateTime": "2030-03-04T09:00:00-05:00"}}
    assert error(api.call("POST", api.events(), json=body)) == (400, "required")


# -- deletes --------------------------------------------------------------------------------


def test_deleted_events_keep_their_id_as_cancelled(api: Api) -> None:
    made = api.insert(EVENT)
    path = api.events(f"/{made['id']}")
    assert api.call("DELETE", path).status_code == 204
    gone = api.ok("GET", path)
    assert gone == {
        "kind": "calendar#event",
        "etag": gone["etag"],
        "id": made["id"],
        "status": "cancelled",
    }
    assert error(api.call("DELETE", path)) == (410, "deleted")
    assert api.list()["items"] == []
    assert [e["id"] for e in api.list(showDeleted="true")["items"]] == [made["id"]]
    assert error(api.call("GET", api.events("/nosuchevent"))) == (404, "notFound")


def test_a_deleted_event_is_restored_by_an_update(api: Api) -> None:
    made = api.insert(EVENT)
    path = api.events(f"/{made['id']}")
    api.call("DELETE", path)
    restored = api.ok("PATCH", path, json={"status": "confirmed"})
    assert (restored["status"], restored["summary"]) == ("confirmed", "Hearing")


# -- listings and sync tokens ---------------------------------------------------------------


def test_pages_end_with_exactly_one_sync_token(api: Api) -> None:
    for n in range(7):
        api.insert({**EVENT, "summary": f"#{n}"})
    first = api.list(maxResults=3)
    assert "nextPageToken" in first
    assert "nextSyncToken" not in first
    items, token = api.list_all(maxResults=3)
    assert len(items) == 7
    assert token
    wrong = api.call("GET", api.events(), params={"pageToken": first["nextPageToken"], "q": "x"})
    assert error(wrong) == (400, "invalid")


def test_a_sync_token_returns_changes_and_deletions(api: Api) -> None:
    a, b = api.insert(EVENT), api.insert(EVENT)
    _, token = api.list_all()
    api.ok("PATCH", api.events(f"/{a['id']}"), json={"summary": "changed"})
    api.call("DELETE", api.events(f"/{b['id']}"))
    c = api.insert(EVENT)
    changes, token2 = api.list_all(syncToken=token)
    assert [(e["id"], e["status"]) for e in changes] == [
        (a["id"], "tentative"),
        (b["id"], "cancelled"),
        (c["id"], "tentative"),
    ]
    assert changes[1] == {
        "kind": "calendar#event",
        "etag": changes[1]["etag"],
        "id": b["id"],
        "status": "cancelled",
    }
    assert api.list_all(syncToken=token2)[0] == []


@pytest.mark.parametrize(
    "param",
    [
        "iCalUID",
        "orderBy",
        "privateExtendedProperty",
        "q",
        "sharedExtendedProperty",
        "timeMin",
        "timeMax",
        "updatedMin",
    ],
)
def test_parameters_not_allowed_with_a_sync_token(api: Api, param: str) -> None:
    _, token = api.list_all()
    values = {
        "orderBy": "updated",
        "timeMin": "2030-01-01T00:00:00Z",
        "timeMax": "2030-01-01T00:00:00Z",
    }
    params = {"syncToken": token, param: values.get(param, "k=v")}
    assert error(api.call("GET", api.events(), params=params)) == (400, "invalid")


def test_an_expired_or_foreign_sync_token_is_410_full_sync_required(
    api: Api, emulator: GoogleEmulator
) -> None:
    _, token = api.list_all()
    emulator.store.expire_sync_tokens(CAL)
    for bad in (token, "garbage", "CPeyJlIjogIngifQ"):
        answer = api.call("GET", api.events(), params={"syncToken": bad})
        assert answer.status_code == 410
        assert answer.json() == {
            "error": {
                "errors": [
                    {
                        "domain": "calendar",
                        "reason": "fullSyncRequired",
                        "message": "Sync token is no longer valid, a full sync is required.",
                    }
                ],
                "code": 410,
                "message": "Sync token is no longer valid, a full sync is required.",
            }
        }
    _, fresh = api.list_all()
    assert api.list_all(syncToken=fresh)[0] == []
    mismatched = api.call("GET", api.events(), params={"syncToken": fresh, "singleEvents": "true"})
    assert mismatched.status_code == 400


def test_filters(api: Api) -> None:
    marked = api.insert(EVENT)
    other = api.insert(
        {**EVENT, "summary": "Lunch", "extendedProperties": {"private": {"calsyncd.key": "cs2"}}}
    )
    found = api.insert({**EVENT, "iCalUID": "find-me@x"})
    ids = lambda **p: {e["id"] for e in api.list_all(**p)[0]}  # noqa: E731
    assert ids(privateExtendedProperty="calsyncd.key=cs1") == {marked["id"], found["id"]}
    assert ids(privateExtendedProperty=["calsyncd.key=cs2", "nope=1"]) == set()
    assert [e["iCalUID"] for e in api.list_all(iCalUID="find-me@x")[0]] == ["find-me@x"]
    assert ids(q="lunch") == {other["id"]}
    assert len(ids(timeMin="2030-03-04T15:44:00Z", timeMax="2030-03-04T15:46:00Z")) == 3
    assert ids(timeMin="2030-03-04T15:45:00Z") == set()  # the end is exclusive
    assert ids(timeMax="2030-03-04T14:30:00Z") == set()  # so is the start
    assert error(api.call("GET", api.events(), params={"timeMin": "2030-03-04T15:44:00"}))[0] == 400
    assert error(api.call("GET", api.events(), params={"orderBy": "startTime"}))[0] == 400
    assert len(api.list(maxResults=99999)["items"]) == 3


# -- series ---------------------------------------------------------------------------------


def test_occurrences_are_addressable_and_become_exceptions(api: Api) -> None:
    master = api.insert(SERIES)
    second = f"{master['id']}_20300311T130000Z"  # 09:00 New York in summer time
    virtual = api.ok("GET", api.events(f"/{second}"))
    assert virtual["recurringEventId"] == master["id"]
    assert virtual["originalStartTime"] == {
        "dateTime": "2030-03-11T09:00:00-04:00",
        "timeZone": "America/New_York",
    }
    assert (
        error(api.call("GET", api.events(f"/{master['id']}_20300318T130000Z")))[0] == 404
    )  # EXDATE
    assert (
        error(api.call("GET", api.events(f"/{master['id']}_20300312T130000Z")))[0] == 404
    )  # Tuesday
    moved = api.ok(
        "PATCH",
        api.events(f"/{second}"),
        json={
            "start": {"dateTime": "2030-03-11T11:00:00-04:00", "timeZone": "America/New_York"},
            "end": {"dateTime": "2030-03-11T12:00:00-04:00", "timeZone": "America/New_York"},
        },
    )
    assert moved["id"] == second
    assert moved["iCalUID"] == master["iCalUID"]
    assert api.call("DELETE", api.events(f"/{master['id']}_20300325T130000Z")).status_code == 204
    listed = api.list()["items"]  # master, exception, cancelled exception
    assert [e.get("status") for e in listed] == ["confirmed", "confirmed", "cancelled"]
    assert listed[2] == {
        "kind": "calendar#event",
        "etag": listed[2]["etag"],
        "id": f"{master['id']}_20300325T130000Z",
        "status": "cancelled",
        "recurringEventId": master["id"],
        "originalStartTime": {
            "dateTime": "2030-03-25T09:00:00-04:00",
            "timeZone": "America/New_York",
        },
    }
    instances = api.ok("GET", api.events(f"/{master['id']}/instances"))["items"]
    assert [i["start"]["dateTime"] for i in instances] == [
        "2030-03-04T09:00:00-05:00",
        "2030-03-11T11:00:00-04:00",
    ]
    _, token = api.list_all()
    api.call("DELETE", api.events(f"/{master['id']}"))
    changed, _ = api.list_all(syncToken=token)
    assert {e["id"] for e in changed} == {master["id"], second}
    assert api.list()["items"] == []


def test_a_new_recurrence_drops_exceptions_that_are_no_occurrence(api: Api) -> None:
    master = api.insert(SERIES)
    api.ok("PATCH", api.events(f"/{master['id']}_20300311T130000Z"), json={"summary": "x"})
    api.ok(
        "PATCH", api.events(f"/{master['id']}"), json={"recurrence": ["RRULE:FREQ=WEEKLY;COUNT=1"]}
    )
    assert [e["id"] for e in api.list()["items"]] == [master["id"]]


def test_series_span_decides_the_time_window(api: Api) -> None:
    api.insert(SERIES)
    assert len(api.list(timeMin="2030-03-25T00:00:00Z")["items"]) == 1  # last: 03-25
    assert api.list(timeMin="2030-03-26T00:00:00Z")["items"] == []


def test_all_day_series(api: Api) -> None:
    body = {
        "summary": "Holiday",
        "start": {"date": "2030-07-04"},
        "end": {"date": "2030-07-05"},
        "recurrence": ["RRULE:FREQ=YEARLY;COUNT=3", "EXDATE;VALUE=DATE:20310704"],
    }
    master = api.insert(body)
    assert api.ok("GET", api.events(f"/{master['id']}_20320704"))["start"] == {"date": "2032-07-04"}
    assert error(api.call("GET", api.events(f"/{master['id']}_20310704")))[0] == 404


# -- faults and the request log -------------------------------------------------------------


def test_faults_answer_like_google(api: Api, emulator: GoogleEmulator) -> None:
    emulator.faults = Faults(retry_after=(1, 1))
    emulator.fail_next("429", "403-rate", "403-user", "403-quota", "500", "503")
    answers = [api.call("GET", api.events()) for _ in range(6)]
    assert [error(a) for a in answers] == [
        (429, "rateLimitExceeded"),
        (403, "rateLimitExceeded"),
        (403, "userRateLimitExceeded"),
        (403, "quotaExceeded"),
        (500, "backendError"),
        (503, "backendError"),
    ]
    assert answers[0].headers["Retry-After"] == "1"
    assert answers[0].json()["error"]["errors"][0]["domain"] == "usageLimits"
    assert [r.fault for r in emulator.requests] == [
        "429",
        "403-rate",
        "403-user",
        "403-quota",
        "500",
        "503",
    ]


def test_dropped_connections(api: Api, emulator: GoogleEmulator) -> None:
    emulator.fail_next("drop")
    with pytest.raises(httpx.RemoteProtocolError):
        api.call("POST", api.events(), json=EVENT)
    assert api.list()["items"] == []
    emulator.fail_next("drop-after")
    with pytest.raises(httpx.RemoteProtocolError):
        api.call("POST", api.events(), json=EVENT)
    assert len(api.list()["items"]) == 1  # made, but the answer was lost


def test_random_faults_hit_the_given_rate(api: Api, emulator: GoogleEmulator) -> None:
    emulator.faults = Faults(rate=0.3, kinds=("500",), seed=1)
    statuses = [api.call("GET", api.events()).status_code for _ in range(300)]
    assert 60 <= statuses.count(500) <= 120


def test_latency(api: Api, emulator: GoogleEmulator) -> None:
    emulator.latency = (0.2, 0.2)
    started = time.monotonic()
    api.list()
    assert time.monotonic() - started >= 0.2


# -- OAuth ----------------------------------------------------------------------------------


def _jwt(private_pem: str, claims: dict[str, Any]) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    signing = f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}"
    signature = key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr, call-arg]
    return signing + "." + base64.urlsafe_b64encode(signature).decode().rstrip("=")


def test_token_endpoint_grants(google_emulator: GoogleEmulator) -> None:
    from emulators.fixtures import rsa_key

    emulator = google_emulator
    emulator.add_calendar("user@example.com")
    info = emulator.service_account(key=rsa_key())
    now = int(time.time())
    claims = {
        "iss": info["client_email"],
        "aud": emulator.token_url,
        "scope": "https://www.googleapis.com/auth/calendar",
        "iat": now,
        "exp": now + 3600,
        "sub": "user@example.com",
    }
    with httpx.Client(trust_env=False) as http:
        granted = http.post(
            emulator.token_url,
            data={"grant_type": JWT_BEARER, "assertion": _jwt(info["private_key"], claims)},
        )
        assert granted.status_code == 200
        token = granted.json()["access_token"]
        api = f"{emulator.base_url}calendars/primary/events"
        assert http.get(api, headers={"Authorization": f"Bearer {token}"}).status_code == 200
        refused = http.get(api, headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        assert "WWW-Authenticate" in refused.headers
        other_key = emulator.service_account("other@x.iam.gserviceaccount.com")["private_key"]
        forged = _jwt(other_key, claims)
        assert (
            http.post(
                emulator.token_url, data={"grant_type": JWT_BEARER, "assertion": forged}
            ).json()["error"]
            == "invalid_grant"
        )
        expired = _jwt(info["private_key"], {**claims, "iat": now - 7200, "exp": now - 3600})
        assert (
            http.post(
                emulator.token_url, data={"grant_type": JWT_BEARER, "assertion": expired}
            ).status_code
            == 400
        )
        assert http.post(emulator.token_url, data={"grant_type": "password"}).status_code == 401
        user = emulator.user_token("user@example.com")
        refresh = {
            "grant_type": "refresh_token",
            **{k: user[k] for k in ("client_id", "client_secret", "refresh_token")},
        }
        assert http.post(emulator.token_url, data=refresh).status_code == 200
        assert (
            http.post(emulator.token_url, data={**refresh, "refresh_token": "x"}).json()["error"]
            == "invalid_grant"
        )
        assert (
            http.post(emulator.token_url, data={**refresh, "client_secret": "x"}).status_code == 401
        )
        assert (
            http.post(emulator.token_url, data={**refresh, "grant_type": "magic"}).json()["error"]
            == "unsupported_grant_type"
        )


def test_authorization_code_with_pkce(google_emulator: GoogleEmulator) -> None:
    client = google_emulator.oauth_client()["installed"]
    verifier = "v" * 50
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    query = {
        "response_type": "code",
        "client_id": client["client_id"],
        "redirect_uri": "http://127.0.0.1:5/",
        "scope": "s",
        "state": "st",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    with httpx.Client(trust_env=False) as http:
        redirect = http.get(google_emulator.url("/o/oauth2/auth"), params=query)
        assert redirect.status_code == 302
        answer = parse_qs(urlsplit(redirect.headers["Location"]).query)
        assert answer["state"] == ["st"]
        form = {
            "grant_type": "authorization_code",
            "code": answer["code"][0],
            "redirect_uri": query["redirect_uri"],
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        }
        assert (
            http.post(
                google_emulator.token_url, data={**form, "code_verifier": "w" * 50}
            ).status_code
            == 400
        )
        redirect = http.get(google_emulator.url("/o/oauth2/auth"), params=query)
        form["code"] = parse_qs(urlsplit(redirect.headers["Location"]).query)["code"][0]
        granted = http.post(
            google_emulator.token_url, data={**form, "code_verifier": verifier}
        ).json()
    assert {"access_token", "refresh_token", "expires_in"} <= granted.keys()


# -- by hand ----------------------------------------------------------------------------------


def test_runnable_by_hand(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "tests.emulators.google", "--port", str(port), "--no-auth"]
    command += ["--key-file", str(tmp_path / "key.json")]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("base_url: http://127.0.0.1:")
        with httpx.Client(trust_env=False) as http:
            answer = http.get(first.split(": ", 1)[1].strip() + "calendars/primary/events")
        process.terminate()
        process.wait(timeout=10)
    assert answer.status_code == 200
    assert json.loads((tmp_path / "key.json").read_text())["type"] == "service_account"

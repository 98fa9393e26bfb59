"""The emulator's OAuth 2.0 authorization server (the parts Google clients use).

- ``POST /token`` with ``grant_type``:
  ``urn:ietf:params:oauth:grant-type:jwt-bearer`` (a service account's RS256-signed JWT:
  ``iss`` a registered account, ``aud`` this endpoint, ``scope``, ``iat``/``exp``, optional
  ``sub`` for domain-wide delegation), ``refresh_token`` (client id + secret + a refresh token
  issued here) and ``authorization_code`` (the installed-app flow; PKCE checked);
- ``GET /o/oauth2/auth`` consents at once and redirects to the loopback ``redirect_uri``.

Access tokens are random, expire after ``lifetime`` seconds, and name their principal: the
delegated ``sub``, the service account itself, or the user a refresh token belongs to.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_AUDIENCES = (
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
)
"""google-auth signs service-account JWTs for Google's endpoint whatever ``token_uri`` says."""
CLOCK_SKEW = 300


class OAuthFailure(Exception):
    def __init__(self, status: int, error: str, description: str) -> None:
        self.status, self.error, self.description = status, error, description
        super().__init__(f"{status} {error}: {description}")

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


@dataclass(frozen=True)
class Grant:
    principal: str
    expires: float
    scope: str


@dataclass(frozen=True)
class _Code:
    client_id: str
    redirect_uri: str
    principal: str
    scope: str
    challenge: str | None
    method: str


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def new_rsa_key() -> tuple[str, str]:
    """``(private PEM, public PEM)`` of a fresh 2048-bit RSA key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class OAuthServer:
    """Registered clients, service accounts and tokens; thread-safe."""

    def __init__(self, token_url: str, *, lifetime: int = 3600, user: str = "user@example.com"):
        self.token_url = token_url
        self.lifetime = lifetime
        self.user = user
        self.service_accounts: dict[str, Any] = {}
        self.clients: dict[str, str] = {}
        self.refresh_tokens: dict[str, tuple[str, str]] = {}
        self.issued: list[str] = []
        self._codes: dict[str, _Code] = {}
        self._grants: dict[str, Grant] = {}
        self._lock = threading.Lock()

    # -- registration (test side) ------------------------------------------------------------

    def add_service_account(self, email: str, public_pem: str) -> None:
        self.service_accounts[email] = serialization.load_pem_public_key(public_pem.encode())

    def add_client(self, client_id: str, secret: str) -> None:
        self.clients[client_id] = secret

    def add_refresh_token(self, token: str, client_id: str, principal: str) -> None:
        self.refresh_tokens[token] = (client_id, principal)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is refused from now on (a 401 → refresh)."""
        with self._lock:
            self._grants.clear()

    def principal(self, authorization: str | None) -> str | None:
        """Who a ``Bearer`` token acts for, ``None`` if it is not a valid token."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        with self._lock:
            grant = self._grants.get(authorization.removeprefix("Bearer ").strip())
        if grant is None or grant.expires < time.time():
            return None
        return grant.principal

    # -- endpoints ---------------------------------------------------------------------------

    def token(self, form: Mapping[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        grant_type = form.get("grant_type")
        if grant_type == JWT_BEARER:
            principal, scope = self._jwt(form.get("assertion", ""))
            return self._issue(principal, scope)
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if self.clients.get(client_id) != secret or not client_id:
            raise OAuthFailure(401, "invalid_client", "The OAuth client was not found.")
        if grant_type == "refresh_token":
            known = self.refresh_tokens.get(form.get("refresh_token", ""))
            if known is None or known[0] != client_id:
                raise OAuthFailure(400, "invalid_grant", "Token has been expired or revoked.")
            return self._issue(known[1], form.get("scope", ""))
        if grant_type == "authorization_code":
            return self._exchange(form, client_id)
        raise OAuthFailure(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")

    def authorize(self, query: Mapping[str, str]) -> str:
        """The redirect location for an authorization request (consent is implied)."""
        client_id, redirect = query.get("client_id", ""), query.get("redirect_uri", "")
        if client_id not in self.clients:
            raise OAuthFailure(401, "invalid_client", "The OAuth client was not found.")
        if query.get("response_type") != "code" or not redirect.startswith("http://127.0.0.1"):
            raise OAuthFailure(
                400, "invalid_request", "Expected response_type=code, loopback redirect"
            )
        code = secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Code(
                client_id,
                redirect,
                self.user,
                query.get("scope", ""),
                query.get("code_challenge"),
                query.get("code_challenge_method", "plain"),
            )
        answer = {"state": query.get("state", ""), "code": code, "scope": query.get("scope", "")}
        return f"{redirect}?{urlencode(answer)}"

    # -- grants ------------------------------------------------------------------------------

    def _issue(self, principal: str, scope: str, *, refresh: bool = False) -> dict[str, Any]:
        token = "ya29.emu-" + secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = Grant(principal, time.time() + self.lifetime, scope)
            self.issued.append(token)
        answer: dict[str, Any] = {
            "access_token": token,
            "expires_in": self.lifetime,
            "token_type": "Bearer",
            "scope": scope,
        }
        if refresh:
            refresh_token = "1//emu-" + secrets.token_urlsafe(32)
            answer["refresh_token"] = refresh_token
            self.issued.append(refresh_token)
        return answer

    def _exchange(self, form: Mapping[str, str], client_id: str) -> dict[str, Any]:
        with self._lock:
            code = self._codes.pop(form.get("code", ""), None)
        if code is None or code.client_id != client_id:
            raise OAuthFailure(400, "invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != code.redirect_uri:
            raise OAuthFailure(400, "redirect_uri_mismatch", "Bad Request")
        if code.challenge is not None:
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            computed = base64.urlsafe_b64encode(digest).decode().rstrip("=")
            if (computed if code.method == "S256" else verifier) != code.challenge:
                raise OAuthFailure(400, "invalid_grant", "Invalid code verifier.")
        answer = self._issue(code.principal, code.scope, refresh=True)
        self.refresh_tokens[answer["refresh_token"]] = (client_id, code.principal)
        return answer

    def _jwt(self, assertion: str) -> tuple[str, str]:
        invalid = OAuthFailure(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            header_part, payload_part, signature_part = assertion.split(".")
            header = json.loads(_b64decode(header_part))
            claims = json.loads(_b64decode(payload_part))
            signature = _b64decode(signature_part)
        except (ValueError, TypeError):
            raise invalid from None
        key = self.service_accounts.get(claims.get("iss", ""))
        if header.get("alg") != "RS256" or key is None:
            raise OAuthFailure(400, "invalid_grant", "Invalid grant: account not found")
        try:
            key.verify(
                signature,
                f"{header_part}.{payload_part}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise invalid from None
        now = time.time()
        if claims.get("aud") not in (self.token_url, *GOOGLE_AUDIENCES):
            raise OAuthFailure(400, "invalid_grant", "Invalid JWT: aud")
        if not claims.get("iat", 0) - CLOCK_SKEW <= now < claims.get("exp", 0) + CLOCK_SKEW:
            raise OAuthFailure(
                400, "invalid_grant", "Invalid JWT: Token must be a short-lived token"
            )
        if not claims.get("scope"):
            raise OAuthFailure(400, "invalid_scope", "Empty or missing scope not allowed.")
        return str(claims.get("sub") or claims["iss"]), str(claims["scope"])

"""Secrets an integration needs to work, encrypted at rest (Fernet: AES-128-CBC + HMAC-SHA256).

The key is ``ENCRYPTION_KEY`` (a Fernet key, or any passphrase, which is stretched), else derived
from ``SECRET_KEY`` with HKDF-SHA256. What is stored in the clear shows a secret only as its last
4 characters.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from jobkit.redaction import is_secret_key

SHOWN_CHARACTERS = 4


class VaultError(Exception):
    """The secrets cannot be decrypted: the key changed or the data is damaged."""


def _derived(material: str) -> bytes:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"jobdeck", info=b"integration secrets"
    ).derive(material.encode())
    return base64.urlsafe_b64encode(key)


def _fernet() -> Fernet:
    configured = current_app.config.get("ENCRYPTION_KEY") or ""
    if configured:
        try:
            if len(base64.urlsafe_b64decode(configured)) == 32:
                return Fernet(configured)
        except (binascii.Error, ValueError):
            pass
        return Fernet(_derived(configured))
    return Fernet(_derived(current_app.config["SECRET_KEY"]))


def encrypt(values: dict[str, Any]) -> str:
    """The values as one encrypted token."""
    return _fernet().encrypt(json.dumps(values).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    """The values ``encrypt`` was given; VaultError when the key does not fit."""
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise VaultError(
            "the integration's secrets cannot be decrypted (ENCRYPTION_KEY or SECRET_KEY changed?)"
        ) from None


def last_characters(secret: str) -> str:
    """How a secret is shown: "…" and its last 4 characters (nothing of a short one)."""
    return "…" + secret[-SHOWN_CHARACTERS:] if len(secret) > 2 * SHOWN_CHARACTERS else "…"


def _shown_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        host = netloc.rsplit("@", 1)[1]
        netloc = f"{parts.username}:{last_characters(parts.password)}@{host}"
    query = "&".join(
        f"{quote(name)}={last_characters(value) if is_secret_key(name) else quote(value)}"
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def shown(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings as they may be stored in the clear and shown: secret values, URL
    passwords and secret query parameters as their last 4 characters."""
    result: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, str) and is_secret_key(key):
            result[key] = last_characters(value)
        elif isinstance(value, str) and "://" in value:
            result[key] = _shown_url(value)
        else:
            result[key] = value
    return result

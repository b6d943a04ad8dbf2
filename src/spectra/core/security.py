"""Token generation and hashing. Tokens are 32 random bytes, so a fast hash (SHA-256) is the right tool."""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def generate_token(kind: str) -> str:
    """`kind` is a short readable prefix (adm, cli) that helps people and secret scanners spot the token."""
    return f"spx_{kind}_{secrets.token_urlsafe(TOKEN_BYTES)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_prefix(token: str) -> str:
    return token[:12]


def hashes_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def mask_secret(value: str | None) -> str | None:
    """Show that a secret is set without revealing it: '••••1a2b'."""
    if not value:
        return None
    return "••••" + value[-4:] if len(value) > 8 else "••••"

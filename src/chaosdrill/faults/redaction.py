"""Secrets out of everything a fault's parameters are written to or printed in.

A fault's parameters leave memory in the fault ledger (``faults.jsonl``), the drill's
timeline (``t_inject``), the drill result, every report and ``chaosdrill env recover``'s
output. Each of these goes through :func:`redact` first: the value of a key that names a
secret (password, passwd, pwd, secret, token, credentials, api key, private key,
authorization) becomes :data:`REDACTED`, and a password inside a connection string (a URL's
``user:password@`` or libpq's ``password=...``) is masked wherever it appears.

The ledger, too, holds only redacted parameters, so a fault must revert without its secret
parameters (``Fault`` says so): the connection-limit fault reverts by killing its holder
processes and terminating their backends by ``application_name``, and never needs the
password it connected with.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["REDACTED", "is_secret_key", "redact", "redact_text"]

REDACTED = "<redacted>"
"""What a secret is written as."""

_SECRET_KEY = re.compile(
    r"pass(word|wd)?$|^pwd$|secret|token|credential|api[_-]?key|private[_-]?key|authorization",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/?#@\s]*:)[^@/?#\s]*(?=@)", re.I)
_KV_PASSWORD = re.compile(r"(?P<head>\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def is_secret_key(name: str) -> bool:
    """True if a parameter called ``name`` holds a secret (``password``, ``api_token``, ...)."""
    return bool(_SECRET_KEY.search(name))


def redact_text(text: str) -> str:
    """``text`` with the password of any connection string in it masked."""
    text = _URL_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)
    return _KV_PASSWORD.sub(lambda m: m.group("head") + REDACTED, text)


def redact(value: Any) -> Any:
    """A copy of ``value`` (JSON-like: dicts, lists, scalars) with its secrets redacted.

    A secret-named key keeps its key and gets :data:`REDACTED` (``None`` stays ``None``:
    there is nothing to hide); strings anywhere are passed through :func:`redact_text`.
    """
    if isinstance(value, dict):
        return {
            k: (
                REDACTED if isinstance(k, str) and is_secret_key(k) and v is not None else redact(v)
            )
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value

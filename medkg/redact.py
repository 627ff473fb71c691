"""Keep secrets out of manifests, messages and logs.

:func:`redact` masks the password part of ``scheme://user:password@host`` URLs (and a
bare ``scheme://token@host``) and secret-looking query parameters (``api_key=...``,
``token=...``) anywhere in a text; :func:`redact_url` does the same for one URL.
"""

from __future__ import annotations

import re

MASK = "***"
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<userinfo>[^/\s@]+)@")
_SECRET_PARAM = re.compile(
    r"(?P<key>[?&](?:api[_-]?key|key|token|access[_-]?token|password|secret|sig)=)[^&#\s]+",
    re.IGNORECASE,
)


def _mask_userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match.group("userinfo").partition(":")
    kept = f"{user}:{MASK}" if sep else MASK
    return f"{match.group('scheme')}{kept}@"


def redact(text: str) -> str:
    """``text`` with URL credentials and secret query parameters replaced by ``***``."""
    text = _USERINFO.sub(_mask_userinfo, text)
    return _SECRET_PARAM.sub(lambda m: m.group("key") + MASK, text)


def redact_url(url: str) -> str:
    """One URL with its password (or bare token) and secret parameters masked."""
    return redact(url)


__all__ = ["MASK", "redact", "redact_url"]

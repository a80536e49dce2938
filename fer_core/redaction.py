"""Credentials never reach a message, a log or a file that the project writes.

A database URL (``postgresql://user:password@host/db``), a camera's ``rtsp://user:password@...``
or any other URL can carry a password, and so can the error a driver raises about it. Every
such text goes through ``mask_credentials`` before it is shown or stored: it keeps what tells
which server is meant (scheme, user, host, path) and replaces the password with ``***``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

MASK = "***"

# scheme://user:password@ (the password runs to the last "@" before a space or a quote, so an
# unescaped "@" or "/" in it is masked too)
_USERINFO = re.compile(r"(?P<head>\b[a-z][a-z0-9+.\-]*://[^\s:/?#@'\"]*):[^\s'\"]*@", re.I)
# ?password=... and the like in a URL's query
_QUERY = re.compile(
    r"(?P<head>[?&;](?:password|passwd|pwd|sslpassword|secret|token|access_token|api_key"
    r"|apikey|credential)=)[^&;#\s'\"]*",
    re.I,
)


def mask_credentials(text: object, *secrets: str | None) -> str:
    """``str(text)`` with the password of every URL in it, and each of ``secrets`` (say, a
    password a driver may quote on its own), replaced by ``***``."""
    masked = _USERINFO.sub(lambda match: f"{match['head']}:{MASK}@", str(text))
    masked = _QUERY.sub(lambda match: match["head"] + MASK, masked)
    for secret in filter(None, secrets):
        masked = masked.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return masked

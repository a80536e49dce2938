"""The password gate: no page runs, by URL, sidebar or websocket, before the password is given.

``app.py`` registers the real pages with ``st.navigation`` only in a browser session that has
given the password; until then each page's URL leads to the sign-in form instead, so nothing
of a page runs and a link to a page still opens it once signed in. The pages live in
``views/``, not ``pages/``: a ``pages/`` folder beside the app puts Streamlit in its older
mode, which serves those files by URL until some session calls ``st.navigation``.

Wrong passwords are throttled per client address, the one thing a script cannot renew by
reconnecting: from the ``FREE_ATTEMPTS``-th wrong password on, each one locks that address
out for a delay that doubles, from ``FIRST_DELAY_S`` up to ``MAX_DELAY_S``; attempts while
locked out are not even checked.
"""

from __future__ import annotations

import hmac
import ipaddress
import math
import os
import threading
import time
from collections.abc import Callable

import streamlit as st

import common

FREE_ATTEMPTS = 5
FIRST_DELAY_S = 30.0
MAX_DELAY_S = 15 * 60.0
FORGET_AFTER_S = 60 * 60.0  # an address quiet this long starts again with free attempts
PASSWORD_ENV = "FER_CORE_PASSWORD"


def password() -> str | None:
    """The configured password (``password`` in the secrets, else ``$FER_CORE_PASSWORD``)."""
    configured = common.secret("password") or os.environ.get(PASSWORD_ENV)
    return str(configured) if configured else None


def unlocked() -> bool:
    """Whether this browser session may see the pages: no password set, or it was given."""
    return password() is None or bool(st.session_state.get("authenticated"))


class LoginThrottle:
    """Counts wrong passwords per client and says how long each must wait before the next."""

    def __init__(
        self,
        free_attempts: int = FREE_ATTEMPTS,
        first_delay_s: float = FIRST_DELAY_S,
        max_delay_s: float = MAX_DELAY_S,
        forget_after_s: float = FORGET_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_attempts = free_attempts
        self.first_delay_s = first_delay_s
        self.max_delay_s = max_delay_s
        self.forget_after_s = forget_after_s
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # client -> (count, last failure)

    def wait_s(self, client: str) -> float:
        """Seconds ``client`` must wait before its next attempt is checked (0: it may try)."""
        with self._lock:
            count, last = self._failures.get(client, (0, -math.inf))
            return max(0.0, last + self._delay_s(count) - self.clock())

    def failed(self, client: str) -> float:
        """Record a wrong password; returns the wait it earns."""
        with self._lock:
            now = self.clock()
            self._failures = {
                key: entry
                for key, entry in self._failures.items()
                if now - entry[1] < self.forget_after_s
            }
            count = self._failures.get(client, (0, now))[0] + 1
            self._failures[client] = (count, now)
            return self._delay_s(count)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)

    def _delay_s(self, failures: int) -> float:
        if failures < self.free_attempts:
            return 0.0
        doublings = min(failures - self.free_attempts, 32)
        return min(self.first_delay_s * 2.0**doublings, self.max_delay_s)


@st.cache_resource
def throttle() -> LoginThrottle:
    """One throttle per server process, shared by every browser session."""
    return LoginThrottle()


def client() -> str:
    """The client's address as the server's socket sees it, so every connection from one
    machine shares its count; Streamlit gives None for localhost (and AppTest a stand-in)."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "localhost"


def sign_in() -> None:
    """The page shown in place of every page until the password is given."""
    with st.form("login"):
        given = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Enter")
    if not submitted:
        return
    who, limits = client(), throttle()
    wait = limits.wait_s(who)
    if wait > 0:
        st.error(f"Too many wrong passwords from your address: try again in {math.ceil(wait)} s.")
        return
    expected = password() or ""
    if hmac.compare_digest(given.encode(), expected.encode()):
        limits.succeeded(who)
        st.session_state["authenticated"] = True
        st.rerun()
    wait = limits.failed(who)
    later = f" Too many wrong passwords: try again in {math.ceil(wait)} s." if wait else ""
    st.error(f"Wrong password.{later}")


def serving_beyond_localhost() -> bool:
    """Whether the server listens on more than the loopback interface (Streamlit's default,
    with no ``server.address``, is every interface)."""
    address = (st.get_option("server.address") or "").strip().strip("[]")
    if address == "localhost" or address.startswith("unix://"):
        return False
    try:
        return not ipaddress.ip_address(address).is_loopback
    except ValueError:  # empty (every interface) or a host name
        return True


def exposure_warning() -> None:
    """On every page: warn when anyone on the network can open the dashboard."""
    if password() is None and serving_beyond_localhost():
        st.warning(
            "No password is set and this server accepts connections from other machines: "
            "anyone who can reach it can watch the live stream and open, rename or delete "
            f"sessions. Set `password` in .streamlit/secrets.toml or `{PASSWORD_ENV}`, or "
            "serve on this machine only (`--server.address localhost`).",
            icon=":material/lock_open:",
        )

"""What every page needs: the shared runtime, the signed-in user, messages carried across reruns.

Only the user's id is kept between runs; the user is read again on every run, so a deactivated
account is signed out at its next click. `app.py` puts the run's `Context` in the session state
before the page runs; a page reads it with `current()`.

A reload (F5) starts a new Streamlit session with an empty session state: what keeps the user
signed in is a cookie, `<user id>.<expiry>.<HMAC>`, signed with the instance's secret (and the
user's password hash, so a new password ends every sign-in). Streamlit only reads cookies
(`st.context.cookies`, as the browser sent them when the session started), so the cookie is
written and cleared by a few lines of JavaScript on the page itself (`st.html`). It expires with
the sign-in (`CREALUX_SESSION_HOURS`), and a deactivated user is refused whatever it says.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import streamlit as st

from crealux_core import clock
from crealux_core.models import User
from crealux_core.runtime import Runtime
from crealux_core.services import policy
from crealux_core.services.policy import Action
from crealux_core.services.users import active_user
from crealux_core.settings import Settings

USER_ID = "user_id"
SESSION_COOKIE = "crealux_session"
_SESSION = "_crealux_session"  # the signed cookie value of this sign-in, and when it expires
_SIGNED_OUT = "_crealux_signed_out"  # this session signed out: clear the cookie, never read it
_CONTEXT = "_crealux_context"
_RUNTIME = "_crealux_runtime"
_FLASHES = "_crealux_flashes"
RECEIPT = "_crealux_receipt"  # what the step page says after a submit (views/step.py)

# Page files, relative to app.py: what st.switch_page and st.Page take. The folder is not
# called `pages`: Streamlit treats a `pages` folder beside the main script as the old multipage
# layout until st.navigation first runs, and answered the first link opened after a start
# (an e-mail's /etape?step=12) with a « Page not found » dialog over the page.
SIGN_IN_PAGE = "views/sign_in.py"
WORKLIST_PAGE = "views/worklist.py"
STEP_PAGE = "views/step.py"
PARTICIPANTS_PAGE = "views/participants.py"
TIMELINE_PAGE = "views/timeline.py"
ENROLL_PAGE = "views/enroll.py"
STUCK_PAGE = "views/stuck.py"
SIGN_OUT_PAGE = "views/sign_out.py"

FlashKind = Literal["success", "info", "warning", "error"]


@dataclass(frozen=True)
class Receipt:
    """What the step page says after a submit, until the user leaves the step page (`app.py`).

    Defined here, not in the page: a page's script runs afresh each time, and so would its
    classes, which an object kept in the session state would then no longer be an instance of.
    """

    step_id: int
    success: bool
    text: str
    moved_on: bool = False  # the pathway went on: say where
    next_step_id: int | None = None


@dataclass(frozen=True)
class Context:
    runtime: Runtime
    user: User


@st.cache_resource(show_spinner=False)
def shared_runtime(settings_json: str) -> Runtime:
    """Return the one runtime of these settings, with its rules loaded (a bad rule stops here)."""
    runtime = Runtime(Settings.model_validate_json(settings_json))
    _ = runtime.rules
    return runtime


@dataclass(frozen=True)
class SessionCookies:
    """Signs and checks the cookie that keeps a user signed in across reloads."""

    secret: bytes
    lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionCookies:
        return cls(settings.session_secret(), timedelta(hours=settings.session_hours))

    def _mac(self, payload: str, user: User) -> str:
        message = f"{payload}.{user.password_hash}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def issue(self, user: User, now: datetime) -> str:
        """Return a cookie value for this user that expires `lifetime` after `now`."""
        payload = f"{user.id}.{int((now + self.lifetime).timestamp())}"
        return f"{payload}.{self._mac(payload, user)}"

    @staticmethod
    def parse(value: str) -> tuple[int, datetime] | None:
        """Return the user id and expiry a cookie value claims, or None if it is malformed."""
        parts = value.split(".")
        if len(parts) != 3 or not (parts[0].isdigit() and parts[1].isdigit()):
            return None
        return int(parts[0]), datetime.fromtimestamp(int(parts[1]), UTC)

    def check(self, value: str, user: User, now: datetime) -> bool:
        """Whether the value was issued for this user by this instance and has not expired."""
        claimed = self.parse(value)
        if claimed is None or claimed[0] != user.id or claimed[1] <= now:
            return False
        payload, _, mac = value.rpartition(".")
        return hmac.compare_digest(mac, self._mac(payload, user))


@dataclass(frozen=True)
class _Session:
    cookie: str
    expires_at: datetime


def signed_in_user(runtime: Runtime, cookies: SessionCookies | None = None) -> User | None:
    """Return the signed-in user read afresh, or None (and forget a vanished or inactive one).

    With `cookies`, a new browser session (a reload) is signed in again from a valid cookie, and
    a sign-in that expired signs out.
    """
    user_id = st.session_state.get(USER_ID)
    if user_id is None:
        return _from_cookie(runtime, cookies) if cookies is not None else None
    kept = st.session_state.get(_SESSION)
    if isinstance(kept, _Session) and kept.expires_at <= clock.utcnow():
        sign_out()
        flash("info", "Votre session a expiré : veuillez vous reconnecter.")
        return None
    with runtime.session() as session:
        user = active_user(session=session, user_id=int(user_id))
    if user is None:
        sign_out()
        return None
    return user


def _from_cookie(runtime: Runtime, cookies: SessionCookies) -> User | None:
    value = st.context.cookies.get(SESSION_COOKIE)
    if not isinstance(value, str) or not value or st.session_state.get(_SIGNED_OUT):
        return None  # (AppTest's browser is a mock: its cookies are not strings)
    claimed = cookies.parse(value)
    user = None
    if claimed is not None:
        with runtime.session() as session:
            user = active_user(session=session, user_id=claimed[0])
    if user is None or not cookies.check(value, user, clock.utcnow()):
        st.session_state[_SIGNED_OUT] = True  # expired, forged or its user gone: clear it
        return None
    assert claimed is not None
    st.session_state[USER_ID] = user.id
    st.session_state[_SESSION] = _Session(cookie=value, expires_at=claimed[1])
    return user


def sign_in(user: User) -> None:
    """Sign the user in; `keep_cookie` then writes the cookie that outlives a reload."""
    st.session_state.pop(_SIGNED_OUT, None)
    st.session_state.pop(_SESSION, None)
    st.session_state[USER_ID] = user.id


def sign_out() -> None:
    """Forget everything this browser session kept, not only who was signed in, and the cookie
    (the cookie this session started with is ignored from now on)."""
    st.session_state.clear()
    st.session_state[_SIGNED_OUT] = True


def keep_cookie(cookies: SessionCookies, user: User | None) -> None:
    """Write the session cookie of a signed-in user, or clear it after a sign-out.

    Called on every run: the script runs in the browser only when its text changes, and a run
    cut short (by `st.switch_page`) is caught up by the next one.
    """
    if user is not None:
        kept = st.session_state.get(_SESSION)
        if not isinstance(kept, _Session):
            now = clock.utcnow()
            kept = _Session(cookie=cookies.issue(user, now), expires_at=now + cookies.lifetime)
            st.session_state[_SESSION] = kept
        seconds = max(0, int((kept.expires_at - clock.utcnow()).total_seconds()))
        _cookie_script(f"{SESSION_COOKIE}={kept.cookie}; Max-Age={seconds}")
    elif st.session_state.get(_SIGNED_OUT):
        _cookie_script(f"{SESSION_COOKIE}=; Max-Age=0")


def _cookie_script(cookie: str) -> None:
    """Set a cookie in the browser (a value of digits, dots and hex digits: nothing to escape)."""
    st.html(
        "<script>document.cookie = "
        f'"{cookie}; Path=/; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");'
        "</script>",
        width="content",
        unsafe_allow_javascript=True,
    )


def set_current(runtime: Runtime, user: User | None) -> None:
    """Make this run's runtime and user (if signed in) what the page reads."""
    st.session_state[_RUNTIME] = runtime
    if user is None:
        st.session_state.pop(_CONTEXT, None)
    else:
        st.session_state[_CONTEXT] = Context(runtime=runtime, user=user)


def current_runtime() -> Runtime:
    """Return this run's runtime (the sign-in page has no user yet)."""
    runtime = st.session_state.get(_RUNTIME)
    if not isinstance(runtime, Runtime):
        st.error("Le tableau de bord s'ouvre par app.py.")
        st.stop()
    return runtime


def current() -> Context:
    """Return this run's runtime and user; a page reached without signing in stops here."""
    context = st.session_state.get(_CONTEXT)
    if not isinstance(context, Context):
        st.warning("Veuillez vous connecter.")
        st.stop()
    return context


def may_enroll(user: User) -> bool:
    """Advisors enrol the participants they will follow; the coordinator enrols and assigns."""
    return policy.can(user, Action.ENROL_PARTICIPANTS)


def may_watch_pathways(user: User) -> bool:
    """Only the coordinator sees the stuck pathways and the services, and relaunches them."""
    return policy.can(user, Action.READ_PIPELINE)


def flash(kind: FlashKind, text: str) -> None:
    """Keep a message to show on the next run (after st.rerun or st.switch_page)."""
    st.session_state.setdefault(_FLASHES, []).append((kind, text))


def show_flashes() -> None:
    for kind, text in st.session_state.pop(_FLASHES, []):
        getattr(st, kind)(text)


def query_id(name: str) -> int | None:
    """Return a positive integer query parameter (`?step=12`), or None if absent or malformed."""
    raw = st.query_params.get(name)
    try:
        value = int(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and value > 0 else None

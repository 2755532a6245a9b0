"""What every page needs: the shared runtime, the signed-in user, messages carried across reruns.

Only the user's id is kept between runs; the user is read again on every run, so a deactivated
account is signed out at its next click. `app.py` puts the run's `Context` in the session state
before the page runs; a page reads it with `current()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import streamlit as st

from crealux_core.models import Role, User
from crealux_core.runtime import Runtime
from crealux_core.services.users import active_user
from crealux_core.settings import Settings

USER_ID = "user_id"
_CONTEXT = "_crealux_context"
_RUNTIME = "_crealux_runtime"
_FLASHES = "_crealux_flashes"
RECEIPT = "_crealux_receipt"  # what the step page says after a submit (pages/step.py)

# Page files, relative to app.py: what st.switch_page and st.Page take.
SIGN_IN_PAGE = "pages/sign_in.py"
WORKLIST_PAGE = "pages/worklist.py"
STEP_PAGE = "pages/step.py"
PARTICIPANTS_PAGE = "pages/participants.py"
TIMELINE_PAGE = "pages/timeline.py"
ENROLL_PAGE = "pages/enroll.py"
STUCK_PAGE = "pages/stuck.py"
SIGN_OUT_PAGE = "pages/sign_out.py"

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


def signed_in_user(runtime: Runtime) -> User | None:
    """Return the signed-in user read afresh, or None (and forget a vanished or inactive one)."""
    user_id = st.session_state.get(USER_ID)
    if user_id is None:
        return None
    with runtime.session() as session:
        user = active_user(session=session, user_id=int(user_id))
    if user is None:
        sign_out()
        return None
    return user


def sign_in(user: User) -> None:
    st.session_state[USER_ID] = user.id


def sign_out() -> None:
    """Forget everything this browser session kept, not only who was signed in."""
    st.session_state.clear()


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
    return user.role in (Role.ADVISOR, Role.COORDINATOR)


def may_watch_pathways(user: User) -> bool:
    """Only the coordinator sees the stuck pathways and the services, and relaunches them."""
    return user.role is Role.COORDINATOR


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

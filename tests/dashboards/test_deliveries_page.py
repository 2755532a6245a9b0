"""« Envois » driven through Streamlit's AppTest against a real, migrated database: the
coordinator reads the delivery log, filters it, sees a disabled channel with its reason and
enables it again; a partner who opens the page is refused by the service."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from crealux_core.models import NotificationChannel
from crealux_core.notify import AppriseNotifier
from crealux_core.runtime import Runtime
from crealux_core.services.notifications import dispatch_notifications
from crealux_core.services.users import get_user
from dashboards.context import Context
from tests.conftest import T0, free_port
from tests.dashboards.conftest import APP_FILE
from tests.dashboards.test_app import (  # noqa: F401  (fixtures)
    TIMEOUT,
    app,
    button,
    fixed_clock,
    messages,
    sign_in,
    visit,
)
from tests.services.test_delivery import mail_url, queue, rules_with

PAGE = "views/deliveries.py"
PAGE_FILE = APP_FILE.parent / "views" / "deliveries.py"
BAD = "msteams://A-token-s3cret"


def deliveries_page(at: AppTest, username: str) -> AppTest:
    visit(sign_in(at, username), PAGE)
    assert not at.exception, at.exception
    return at


def test_the_coordinator_reads_the_log_and_enables_a_channel(
    app: AppTest,  # noqa: F811
    session: Session,
) -> None:
    port = free_port()
    rules = rules_with(port, le_trusquin=(mail_url(port), BAD), cpas_durbuy=())
    queue(session, 3, "le-trusquin")
    queue(session, 1, "cpas-durbuy")
    dispatch_notifications(session=session, rules=rules, notifier=AppriseNotifier(), now=T0)
    deliveries_page(app, "coordination")
    assert [tab.label for tab in app.tabs] == ["Journal des envois", "Canaux"]
    [log] = [frame.value for frame in app.dataframe][:1]
    assert len(log) == 4 and set(log["Statut"]) == {"Échec"}
    assert "msteams://***" in " ".join(log["Canaux"])
    page_text = " ".join(str(frame.value.to_dict()) for frame in app.dataframe)
    assert "s3cret" not in page_text
    assert "1 canal(aux) désactivé(s)" not in messages(app, "warning")  # two: msteams, none
    assert messages(app, "warning") == ["2 canal(aux) désactivé(s) : les messages les sautent."]

    app.selectbox(key="deliveries-organisation").set_value("cpas-durbuy").run()
    assert not app.exception, app.exception
    assert len(app.dataframe[0].value) == 1
    app.text_input(key="deliveries-participant").input("Sophie").run()
    assert "Une référence comme P-00012 est attendue." in messages(app, "error")
    app.text_input(key="deliveries-participant").input("").run()

    choice = app.selectbox(key="deliveries-enable-choice")
    msteams = [option for option in choice.options if "msteams" in option]
    choice.set_value(msteams[0]).run()
    button(app, "Réactiver ce canal").click().run()
    assert not app.exception, app.exception
    assert any("Canal réactivé" in text for text in messages(app, "success"))
    session.expire_all()
    states = {s.service: s.disabled_at for s in session.exec(select(NotificationChannel)).all()}
    assert states["msteams"] is None and states[""] is not None


@pytest.mark.parametrize("username", ["trusquin", "conseillere"])
def test_others_are_refused_by_the_service_even_opening_the_page(
    app: AppTest,  # noqa: F811
    runtime: Runtime,
    session: Session,
    username: str,
) -> None:
    sign_in(app, username)
    with pytest.raises(ValueError, match="navigation page"):  # not in their navigation
        app.switch_page(PAGE)
    page = AppTest.from_file(PAGE_FILE, default_timeout=TIMEOUT)
    page.session_state["_crealux_context"] = Context(
        runtime=runtime, user=get_user(session=session, username=username)
    )
    page.run()
    assert not page.exception
    assert messages(page, "error") == ["Cette page est réservée à la coordination."]
    assert not page.dataframe and not page.button

"""CREALux dashboard: `streamlit run dashboards/app.py`.

Composition root: settings from CREALUX_* variables, Prefect's environment set before anything
imports Prefect, one shared runtime, then the pages the signed-in user's role may see. Every
page calls crealux_core services, which check the role again (a hidden page still opens by URL).
"""

from __future__ import annotations

import os

import streamlit as st

from crealux_core.settings import load_settings

settings = load_settings()
os.environ.update(settings.prefect_env())

from crealux_core.models import Role, User  # noqa: E402
from dashboards import context  # noqa: E402  (imports Prefect, through crealux_core.runtime)
from dashboards.display import ROLE_LABELS, md  # noqa: E402
from dashboards.failures import shown_as_sentence  # noqa: E402

st.set_page_config(page_title="CREALux", page_icon=":material/route:", layout="wide")


STEP_ADDRESS = "etape"
STUCK_ADDRESS = "bloques"


def worklist_title(user: User) -> str:
    """The coordinator's worklist is everyone's: it is not « Mes étapes »."""
    return "Toutes les étapes" if user.role is Role.COORDINATOR else "Mes étapes"


def pages_for(user: User) -> list[st.Page]:
    """Return the pages of a signed-in user's role; a step or a pathway opens from a list."""
    title = worklist_title(user)
    pages = [
        # The default page answers at "/"; its alias answers at /etapes (the address a sign-in
        # started from, an old bookmark), which Streamlit would otherwise call « not found ».
        st.Page(context.WORKLIST_PAGE, title=title, url_path="accueil", default=True),
        st.Page(context.WORKLIST_PAGE, title=title, url_path="etapes", visibility="hidden"),
        st.Page(context.PARTICIPANTS_PAGE, title="Participants", url_path="participants"),
    ]
    if context.may_enroll(user):
        pages.append(st.Page(context.ENROLL_PAGE, title="Inscrire", url_path="inscrire"))
    if user.role in (Role.ADVISOR, Role.COORDINATOR):
        pages.append(
            st.Page("views/outreach.py", title="Sensibilisation", url_path="sensibilisation")
        )
    pages.append(st.Page("views/referrals.py", title="Orientations", url_path="orientations"))
    pages.append(st.Page("views/training.py", title="Formations", url_path="formations"))
    pages.append(st.Page("views/partners.py", title="Partenaires", url_path="partenaires"))
    if context.may_watch_pathways(user):
        pages.append(st.Page("views/deliveries.py", title="Envois", url_path="envois"))
        pages.append(st.Page("views/pipeline.py", title="Pilotage", url_path="pilotage"))
        pages.append(st.Page("views/indicators.py", title="Indicateurs", url_path="indicateurs"))
        pages.append(st.Page("views/imports.py", title="Import", url_path="import"))
        pages.append(st.Page(context.STUCK_PAGE, title="Parcours bloqués", url_path=STUCK_ADDRESS))
        pages.append(st.Page("views/team.py", title="Équipe", url_path="equipe"))
        pages.append(
            st.Page("views/orientation.py", title="Conseils d'orientation", url_path="orientation")
        )
    pages += [
        st.Page(context.STEP_PAGE, title="Étape", url_path=STEP_ADDRESS, visibility="hidden"),
        st.Page(context.TIMELINE_PAGE, title="Parcours", url_path="parcours", visibility="hidden"),
        st.Page(context.SIGN_OUT_PAGE, title="Déconnexion", url_path="deconnexion"),
    ]
    return pages


def sign_in_pages() -> list[st.Page]:
    """Return the sign-in page, also at the address of every other page but sign-out.

    A link to a step (`/etape?step=12`) then asks to sign in and, once signed in, opens the step.
    """
    addresses = [
        "etapes",
        "participants",
        "inscrire",
        STEP_ADDRESS,
        "parcours",
        STUCK_ADDRESS,
        "equipe",
        "orientation",
        "sensibilisation",
        "pilotage",
        "indicateurs",
        "import",
        "orientations",
        "formations",
        "partenaires",
        "envois",
    ]
    return [
        st.Page(context.SIGN_IN_PAGE, title="Connexion", url_path="connexion", default=True),
        *(
            st.Page(context.SIGN_IN_PAGE, title="Connexion", url_path=url, visibility="hidden")
            for url in addresses
        ),
    ]


def sidebar(user: User) -> None:
    with st.sidebar:
        st.markdown(f"**{md(user.display_name)}**  \n{ROLE_LABELS.get(user.role, user.role)}")
        if user.role is Role.COORDINATOR:
            st.caption("Vous voyez toutes les étapes et tous les participants.")


def main() -> None:
    runtime = context.shared_runtime(settings.model_dump_json())
    # From these settings, not the runtime's: its copy of them went through JSON, which masks
    # the secret key.
    cookies = context.SessionCookies.from_settings(settings)
    user = context.signed_in_user(runtime, cookies)
    context.set_current(runtime, user)
    context.keep_cookie(cookies, user)
    if user is None:
        page = st.navigation(sign_in_pages(), position="hidden")
    else:
        sidebar(user)
        page = st.navigation(pages_for(user), expanded=True)  # every page: no « View more »
    if page.url_path != STEP_ADDRESS:
        st.session_state.pop(context.RECEIPT, None)  # said once on the step page, then forgotten
    context.show_flashes()
    with shown_as_sentence(user):
        page.run()


main()

"""What a page shows when something fails: a French sentence, never a traceback.

`app.py` runs every page inside `shown_as_sentence`: a service error that a page did not handle
itself, or an unexpected one, ends the page with a sentence (the traceback goes to the log).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st
from sqlalchemy.exc import OperationalError

from crealux_core.models import Role, User
from crealux_core.services.errors import (
    CannotContinue,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceError,
)
from crealux_core.services.ports import OrchestrationError
from dashboards.display import md

log = logging.getLogger(__name__)

CANNOT_CONTINUE = (
    "Ce parcours ne peut pas continuer : la définition sur laquelle il a démarré a été modifiée "
    "ou retirée des règles depuis. Rien n'a été perdu ; prévenez la coordination, qui peut "
    "rétablir cette version ou faire passer le parcours à une nouvelle version."
)
UNEXPECTED = (
    "Une erreur inattendue s'est produite. Ce qui était déjà enregistré est conservé ; "
    "réessayez, et si cela se reproduit, prévenez la coordination."
)


def show_cannot_continue(error: CannotContinue, user: User | None) -> None:
    """Say why the pathway stops, in French; the coordinator also gets the rules' detail."""
    st.error(CANNOT_CONTINUE, icon=":material/block:")
    if user is not None and user.role is Role.COORDINATOR:
        st.caption(
            f"Détail pour la coordination : {md(str(error))}. "
            "Voir `crealux pathway migrate --to VERSION --dry-run`."
        )


def sentence(error: Exception) -> str:
    """Return a French sentence for an error a page did not handle itself."""
    match error:
        case NotFound():
            return "Ce que vous cherchez n'existe pas ou plus."
        case Forbidden():
            return "Vous n'avez pas accès à cette page ou à cette action."
        case InvalidInput():
            return "Les données envoyées ont été refusées ; rien n'a été enregistré."
        case Conflict():
            return (
                "Cette action n'est plus possible : la situation a changé entre-temps. "
                "Rechargez la page pour voir où en est le parcours."
            )
        case OrchestrationError():
            return (
                "L'orchestrateur des parcours (Prefect) ne répond pas. Ce qui a été enregistré "
                "est conservé et lui sera transmis automatiquement."
            )
        case OperationalError():
            return "La base de données ne répond pas pour l'instant ; réessayez dans un moment."
        case _:
            return UNEXPECTED


@contextmanager
def shown_as_sentence(user: User | None) -> Iterator[None]:
    """Run a page; turn any error it lets through into a French sentence.

    Streamlit's own st.rerun, st.stop and st.switch_page raise BaseExceptions and pass through.
    """
    try:
        yield
    except CannotContinue as error:
        show_cannot_continue(error, user)
    except Exception as error:
        if not isinstance(error, ServiceError):
            log.exception("page failed")
        st.error(sentence(error), icon=":material/error:")

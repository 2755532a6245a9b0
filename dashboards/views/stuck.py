"""Parcours bloqués (coordinator only): the pathways the reconciler could not bring back, with a
"Relancer" button each, and the processes `crealux up` supervises.

Only the coordinator has this page in the navigation; a hidden page still opens by its address,
so the page checks the role again before showing or doing anything.
"""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.models import Participant
from crealux_core.services.errors import Forbidden, NotFound
from crealux_core.services.participants import list_participants
from crealux_core.services.ports import OrchestrationError
from crealux_core.services.processes import ProcessState, ProcessStatus, read_process_status
from crealux_core.services.reconcile import Reconciled, StuckPathway, retry_pathway, stuck_pathways
from dashboards import context
from dashboards.display import EMPTY, PROCESS_STATE_LABELS, heal_reason, local_datetime, md

REFUSED = "Cette page est réservée à la coordination."


def retried(result: Reconciled, reference: str, why: str | None) -> tuple[bool, str]:
    """Say in French what a relaunch did; True if it did something that may have helped.

    `why` is what the reconciler now says of the pathway, if it still lists it."""
    if result.failed or result.stuck:
        return False, (
            f"La relance du parcours de {reference} n'a pas abouti"
            + (f" : {heal_reason(why)}" if why else "")
            + ". Le réconciliateur réessaiera de lui-même."
        )
    if result.started or result.replaced:
        return True, (
            f"Le parcours de {reference} a été relancé : une nouvelle exécution reprend "
            "depuis la base de données."
        )
    if result.woken:
        return True, f"Le parcours de {reference} a été réveillé : il reprend son étape."
    return True, f"Le parcours de {reference} n'avait pas besoin d'être relancé : il attend."


def relaunch(ctx: context.Context, stuck: StuckPathway, reference: str) -> None:
    if not context.may_watch_pathways(ctx.user):  # the page checked already; keep it next to it
        st.error(REFUSED)
        return
    try:
        with (
            ctx.runtime.session() as session,
            st.spinner("Relance en cours…"),
        ):
            result = retry_pathway(
                session=session,
                pathway_run_id=stuck.pathway_run_id,
                orchestrator=ctx.runtime.orchestrator,
                now=clock.utcnow(),
                actor=ctx.user,  # the service checks the role as well
            )
            why = next(
                (
                    row.reason
                    for row in stuck_pathways(session=session, actor=ctx.user)
                    if row.pathway_run_id == stuck.pathway_run_id
                ),
                None,
            )
    except Forbidden:
        context.flash("error", REFUSED)
    except NotFound:
        context.flash("info", f"Le parcours de {reference} n'est plus en cours : rien à relancer.")
    except OrchestrationError:
        context.flash(
            "warning",
            f"Prefect ne répond pas : le parcours de {reference} n'a pas pu être relancé "
            "maintenant. Ses tentatives ont été remises à zéro ; le réconciliateur réessaiera.",
        )
    else:
        ok, text = retried(result, reference, why)
        context.flash("success" if ok else "warning", text)
    st.rerun()


def stuck_row(ctx: context.Context, stuck: StuckPathway, participant: Participant | None) -> None:
    reference = participant.reference if participant else f"parcours n° {stuck.pathway_run_id}"
    with st.container(border=True):
        who, why, action = st.columns([3, 6, 2], vertical_alignment="center")
        who.markdown(
            f"**{reference}**" + (f"  \n{md(participant.full_name)}" if participant else "")
        )
        since = f"depuis le {local_datetime(stuck.since)}" if stuck.since else ""
        why.markdown(md(heal_reason(stuck.reason)))
        why.caption(" · ".join(filter(None, [f"{stuck.attempts} tentative(s)", since])))
        if action.button("Relancer", key=f"retry-{stuck.pathway_run_id}", type="primary"):
            relaunch(ctx, stuck, reference)
        if participant is not None and action.button(
            "Voir le parcours", key=f"open-participant-{stuck.pathway_run_id}"
        ):
            st.switch_page(context.TIMELINE_PAGE, query_params={"participant": str(participant.id)})


def stuck_section(ctx: context.Context) -> None:
    with ctx.runtime.session() as session:
        stuck = stuck_pathways(session=session, actor=ctx.user)
        participants = {p.id: p for p in list_participants(session=session, user=ctx.user)}
    if not stuck:
        st.success("Aucun parcours bloqué : chaque parcours attend sur sa bonne étape.")
        return
    st.caption(
        f"{len(stuck)} parcours que le réconciliateur n'a pas pu ramener (ou est en train de "
        "ramener). Ce qui a été saisi est dans la base de données ; « Relancer » remet ses "
        "tentatives à zéro et essaie tout de suite."
    )
    for row in sorted(stuck, key=lambda s: s.pathway_run_id):
        stuck_row(ctx, row, participants.get(row.participant_id))


def process_rows(processes: list[ProcessStatus]) -> list[dict[str, object]]:
    return [
        {
            "Service": process.name,
            "État": PROCESS_STATE_LABELS.get(process.state, process.state.value),
            "Redémarrages": process.restarts,
            "Dernier redémarrage": local_datetime(process.last_restart_at),
            "Dernier code de sortie": (
                EMPTY if process.last_exit_code is None else str(process.last_exit_code)
            ),
            "Démarré le": local_datetime(process.started_at),
            "PID": EMPTY if process.pid is None else str(process.pid),
        }
        for process in processes
    ]


def services_section(ctx: context.Context) -> None:
    st.subheader("Services")
    processes = read_process_status(home=ctx.runtime.settings.resolved_home)
    if not processes:
        st.info(
            "Aucun état des services : ce tableau de bord n'a pas été démarré par `crealux up`, "
            "ou celui-ci n'a encore rien écrit."
        )
        return
    for process in processes:
        if process.state is ProcessState.FAILED:
            st.error(
                f"{md(process.name)} est en échec : `crealux up` a cessé de le redémarrer.",
                icon=":material/error:",
            )
        elif process.state is ProcessState.RESTARTING:
            code = process.last_exit_code
            st.warning(
                f"{md(process.name)} s'est arrêté et redémarre"
                + (f" (code de sortie {code})." if code is not None else "."),
                icon=":material/restart_alt:",
            )
    st.caption(
        "Les processus que `crealux up` surveille ; un processus qui s'arrête est redémarré."
    )
    st.table(process_rows(processes), hide_index=True)


def render() -> None:
    ctx = context.current()
    st.title("Parcours bloqués")
    if not context.may_watch_pathways(ctx.user):
        st.error(REFUSED)
        return
    stuck_section(ctx)
    services_section(ctx)


render()

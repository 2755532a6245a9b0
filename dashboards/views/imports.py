"""Import (coordinator only): past records from a spreadsheet, with the template to fill.

The coordinator downloads the template, fills it (or exports their own sheets in its layout),
and uploads it. Every row is checked first; nothing is written unless the whole file is valid,
or, with the box ticked, the valid rows are written and the rejected ones come back as a file
to fix. Importing the same file again changes nothing. A progress bar runs while the file is
checked and written. The pathways started for participants still mid-way get their flow run
in the background (the reconciler starts it if Prefect is down).

Only the coordinator has this page in the navigation; a hidden page still opens by its address,
so the page checks the role again, and so does the service.
"""

from __future__ import annotations

import streamlit as st

from crealux_core import clock
from crealux_core.models import Role
from crealux_core.services.errors import Forbidden
from crealux_core.services.import_layout import SHEETS, Kind, template_bytes
from crealux_core.services.imports import (
    ImportResult,
    StepChoice,
    UnreadableFile,
    WrittenMeanwhile,
    current_step_choices,
    import_records,
)
from dashboards import background, context
from dashboards.display import EMPTY, md

REFUSED = "Cette page est réservée à la coordination."
RESULT = "_crealux_import_result"
TABLE_MOST = 200  # errors shown as a table (wrapped, readable); more in a scrolling grid
TEMPLATE_NAME = "modele-import-crealux.xlsx"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KIND_LABELS = {
    Kind.PARTICIPANTS: "Participants",
    Kind.TRAININGS: "Formations",
    Kind.CREATIONS: "Créations d'activité",
    Kind.PLACEMENTS: "Emplois",
    Kind.OUTREACH: "Actions de sensibilisation",
    Kind.STRUCTURES: "Structures sensibilisées",
}


def plural(count: int, word: str) -> str:
    """« 1 ligne », « 3 lignes »."""
    ending = "" if count < 2 or word.endswith(("s", "x")) else "s"  # « 2 parcours »
    return f"{count} {word}{ending}"


def progress_text(done: int, total: int) -> str:
    """What the progress bar says: the rows checked, then the rows written."""
    rows = max(total // 2, 1)
    if done <= rows:
        return f"Vérification : {done} / {rows} lignes"
    return f"Écriture : {done - rows} / {rows} lignes"


def summary(result: ImportResult) -> tuple[str, str]:
    """Return the kind of message (success, warning, error) and what it says."""
    created, present = result.total("created"), result.total("present")
    rejected = result.total("rejected")
    done = f"{plural(created, 'ligne')} {'créées' if created > 1 else 'créée'}"
    if present:
        done += (
            f", {plural(present, 'ligne')} déjà {'présentes' if present > 1 else 'présente'}"
            " (importées auparavant : rien n'y change)"
        )
    if not result.written:
        return "error", (
            f"Rien n'a été écrit : {plural(len(result.problems), 'erreur')} dans"
            f" « {result.filename} ». Corrigez le fichier et importez-le à nouveau, ou cochez"
            " « Écrire les lignes valides » pour écrire les autres lignes."
        )
    if rejected:
        return "warning", (
            f"« {result.filename} » importé en partie : {done} ;"
            f" {plural(rejected, 'ligne')} {'rejetées' if rejected > 1 else 'rejetée'}."
            " Téléchargez-les ci-dessous (colonne « Erreurs »), corrigez-les et importez ce"
            " fichier."
        )
    return "success", f"« {result.filename} » importé : {done}."


def count_rows(result: ImportResult) -> list[dict[str, object]]:
    return [
        {
            "Feuille": SHEETS[kind].name,
            "Lignes de": KIND_LABELS[kind],
            "Créées": counts.created,
            "Déjà présentes": counts.present,
            "Rejetées": counts.rejected,
        }
        for kind, counts in result.counts.items()
    ]


def problem_rows(result: ImportResult) -> list[dict[str, object]]:
    return [
        {
            "Feuille": problem.sheet,
            "Ligne": problem.line if problem.line is not None else EMPTY,
            "Colonne": problem.column or EMPTY,
            "Erreur": problem.message,
        }
        for problem in result.problems
    ]


def step_rows(choices: list[StepChoice]) -> list[dict[str, str]]:
    return [
        {
            "Étape": choice.title,
            "Clé": choice.key,
            "Étape en cours possible": "Non : " + choice.refused
            if choice.refused
            else ("Oui, datée depuis le fichier" if choice.needs else "Oui"),
        }
        for choice in choices
    ]


def run_import(ctx: context.Context, name: str, data: bytes, *, keep_valid: bool) -> None:
    """Import the file with a progress bar; keep the result for the next runs of the page."""
    bar = st.progress(0.0, text="Lecture du fichier…")

    def progress(done: int, total: int) -> None:
        bar.progress(min(done / total, 1.0), text=progress_text(done, total))

    try:
        with ctx.runtime.session() as session:
            result = import_records(
                session=session,
                rules=ctx.runtime.rules,
                user=ctx.user,  # the service checks the role as well
                data=data,
                filename=name,
                now=clock.utcnow(),
                dashboard_url=ctx.runtime.settings.dashboard_url,
                keep_valid=keep_valid,
                progress=progress,
            )
    except Forbidden:
        st.error(REFUSED)
        return
    except (UnreadableFile, WrittenMeanwhile) as error:
        st.error(str(error))
        return
    finally:
        bar.empty()
    for pathway_run_id in result.pathway_run_ids:
        background.start_flow_later(ctx.runtime, pathway_run_id)
    st.session_state[RESULT] = result


def show_result(result: ImportResult) -> None:
    kind, text = summary(result)
    getattr(st, kind)(md(text))
    for notice in result.notices:
        st.info(md(notice))
    if result.counts:
        st.table(count_rows(result), hide_index=True)
    if result.pathway_run_ids:
        st.caption(
            f"{plural(len(result.pathway_run_ids), 'parcours')} en cours"
            f" {'démarrés' if len(result.pathway_run_ids) > 1 else 'démarré'} :"
            " chaque participant attend sur son étape."
        )
    if result.rejected_file is not None:
        st.download_button(
            "Télécharger les lignes rejetées",
            data=result.rejected_file,
            file_name=result.rejected_filename or "a-corriger.xlsx",
            mime="text/csv" if (result.rejected_filename or "").endswith(".csv") else XLSX_MIME,
            key="import-rejected",
            icon=":material/download:",
        )
    if result.problems:
        st.subheader(plural(len(result.problems), "erreur"))
        rows = problem_rows(result)
        if len(rows) <= TABLE_MOST:
            st.table(rows, hide_index=True)
        else:
            st.dataframe(rows, hide_index=True, width="stretch")
        with_errors = {(problem.sheet, problem.line) for problem in result.problems}
        if result.total("rejected") > len(with_errors):
            st.caption(
                "Les autres lignes rejetées le sont avec leur participant : une erreur sur l'une"
                " de ses lignes (la fiche, une formation, une création, un emploi) les rejette"
                " toutes."
            )


def render() -> None:
    ctx = context.current()
    st.title("Import")
    if ctx.user.role is not Role.COORDINATOR:
        st.error(REFUSED)
        return
    st.caption(
        "Des participants avec leur historique (inscription, situation à l'entrée, formations,"
        " créations, emplois, sortie) et la sensibilisation, depuis un classeur XLSX ou un CSV."
        " Chaque ligne est vérifiée avant que rien ne soit écrit ; importer deux fois le même"
        " fichier ne change rien. Un participant encore en cours reçoit un parcours qui attend"
        " sur son « Étape en cours »."
    )
    st.download_button(
        "Télécharger le modèle (XLSX)",
        data=template_bytes(),
        file_name=TEMPLATE_NAME,
        mime=XLSX_MIME,
        key="import-template",
        icon=":material/download:",
    )
    with st.expander("Étapes en cours acceptées"):
        st.table(step_rows(current_step_choices(ctx.runtime.rules)), hide_index=True)
    uploaded = st.file_uploader("Fichier à importer", type=["xlsx", "csv"], key="import-file")
    keep_valid = st.checkbox(
        "Écrire les lignes valides et me rendre les autres dans un fichier à corriger",
        key="import-keep-valid",
    )
    if st.button("Importer", type="primary", disabled=uploaded is None, key="import-run"):
        assert uploaded is not None
        st.session_state.pop(RESULT, None)
        run_import(ctx, uploaded.name, uploaded.getvalue(), keep_valid=keep_valid)
    result = st.session_state.get(RESULT)
    if isinstance(result, ImportResult):
        show_result(result)


if __name__ == "__main__":  # as a page (Streamlit runs it as __main__); importable for tests
    render()

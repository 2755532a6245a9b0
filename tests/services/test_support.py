"""Hours of support per participant: from completed steps, trainings and manual corrections."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlmodel import Session, col, select

from crealux_core.models import PathwayRun, StepRun, StepStatus, SupportTime, TrainingRecord
from crealux_core.rules import Rules
from crealux_core.services.errors import Forbidden, InvalidInput, NotFound
from crealux_core.services.support import correct_support, support_hours, support_totals
from crealux_core.services.users import get_user
from tests.conftest import T0
from tests.services.helpers import walk_to

LATER = T0 + timedelta(days=1)


def hours_from_steps(session: Session, rules: Rules, pathway_run_id: int) -> dict[str, float]:
    """Sum by hand what the rules say each completed step of the pathway gives."""
    run = session.get(PathwayRun, pathway_run_id)
    assert run is not None
    spec = rules.pathway_version(run.pathway_key, run.pathway_version)
    assert spec is not None
    totals = {"interview": 0.0, "information_session": 0.0, "training": 0.0}
    done = session.exec(
        select(StepRun.step_key).where(
            StepRun.pathway_run_id == pathway_run_id, StepRun.status == StepStatus.COMPLETED
        )
    ).all()
    for key in done:
        support = spec.step(key).support
        if support is not None:
            totals[support.kind] += support.hours
    return totals


def imported(session: Session, participant_id: int) -> None:
    """What an import of past records writes: support given before, and two trainings."""
    session.add(
        SupportTime(
            participant_id=participant_id,
            kind="information_session",
            hours=3,
            given_on=date(2026, 9, 10),
            recorded_at=T0,
            source_key="import:support:1",
        )
    )
    session.add(
        TrainingRecord(
            participant_id=participant_id,
            kind="qualifying",
            completed=True,
            hours=320,
            ended_on=date(2026, 10, 30),
            source_key="import:training:1",
        )
    )
    session.add(
        TrainingRecord(
            participant_id=participant_id,
            kind="short",
            completed=False,
            hours=35,
            ended_on=date(2025, 5, 1),
            source_key="import:training:2",
        )
    )
    session.commit()


def test_hours_are_summed_from_steps_trainings_and_corrections(
    session: Session, rules: Rules, enroll
) -> None:
    enrolled = enroll()
    walk_to(session, rules, enrolled.pathway_run_id, "orientation")
    steps = hours_from_steps(session, rules, enrolled.pathway_run_id)
    imported(session, enrolled.participant_id)
    advisor = get_user(session=session, username="conseillere")
    coordinator = get_user(session=session, username="coordination")
    correct_support(
        session=session,
        user=advisor,
        participant_id=enrolled.participant_id,
        kind="interview",
        hours=2,
        reason="Entretien téléphonique du 5 novembre non encodé",
        now=LATER,
    )
    correct_support(
        session=session,
        user=coordinator,
        participant_id=enrolled.participant_id,
        kind="training",
        hours=-5,
        reason="  Formation comptée deux fois :  5 h en trop ",
        now=LATER + timedelta(hours=1),
    )

    summary = support_hours(session=session, user=advisor, participant_id=enrolled.participant_id)
    interview = summary.of("interview")
    assert (interview.from_steps, interview.from_trainings, interview.corrections) == (
        steps["interview"],
        0,
        2,
    )
    assert interview.total == steps["interview"] + 2
    assert interview.label == "Entretiens"
    session_hours = summary.of("information_session")
    assert session_hours.from_steps == steps["information_session"] + 3
    assert session_hours.total == steps["information_session"] + 3
    training = summary.of("training")
    assert (training.from_steps, training.from_trainings, training.corrections) == (
        steps["training"],
        355,
        -5,
    )
    assert training.total == steps["training"] + 350
    assert summary.total == sum(steps.values()) + 2 + 3 + 350
    assert [(c.kind, c.hours, c.reason, c.actor) for c in summary.corrections] == [
        ("interview", 2, "Entretien téléphonique du 5 novembre non encodé", "Claire Lambert"),
        ("training", -5, "Formation comptée deux fois : 5 h en trop", "Anne Coordination"),
    ]
    assert summary.corrections[0].recorded_at == LATER
    assert summary.corrections[0].given_on == LATER.date()
    rows = session.exec(
        select(SupportTime).where(col(SupportTime.correction)).order_by(col(SupportTime.id))
    ).all()
    assert [(row.actor_id, row.step_run_id) for row in rows] == [
        (advisor.id, None),
        (coordinator.id, None),
    ]


def test_totals_of_a_period_count_every_participant_in_sql(
    session: Session, rules: Rules, enroll
) -> None:
    first = enroll("Sophie")
    second = enroll("Nadia")
    walk_to(session, rules, first.pathway_run_id, "self_evaluation_entry")
    steps = hours_from_steps(session, rules, first.pathway_run_id)
    imported(session, first.participant_id)
    imported_again = TrainingRecord(
        participant_id=second.participant_id, hours=40, ended_on=date(2026, 11, 1)
    )
    session.add(imported_again)
    session.commit()
    coordinator = get_user(session=session, username="coordination")
    correct_support(
        session=session,
        user=coordinator,
        participant_id=second.participant_id,
        kind="interview",
        hours=1.25,
        reason="Entretien d'accueil avant l'inscription",
        now=LATER,
        given_on=date(2026, 10, 28),
    )
    totals = support_totals(
        session=session, user=coordinator, start=date(2026, 10, 1), end=date(2026, 12, 31)
    )
    assert totals == {
        "interview": steps["interview"] + 1.25,
        "information_session": steps["information_session"],  # the import's was in September
        "training": steps["training"] + 320 + 40,  # the 35 h training ended in 2025
    }
    everything = support_totals(
        session=session, user=coordinator, start=date(2025, 1, 1), end=date(2026, 12, 31)
    )
    assert everything["training"] == steps["training"] + 320 + 35 + 40
    assert everything["information_session"] == steps["information_session"] + 3


def test_a_correction_needs_a_kind_nonzero_hours_and_a_reason(session: Session, enroll) -> None:
    enrolled = enroll()
    advisor = get_user(session=session, username="conseillere")

    def refused(kind: str, hours: float, reason: str | None) -> dict[str, str]:
        with pytest.raises(InvalidInput) as caught:
            correct_support(
                session=session,
                user=advisor,
                participant_id=enrolled.participant_id,
                kind=kind,
                hours=hours,
                reason=reason,
                now=LATER,
            )
        return caught.value.field_errors

    errors = refused("coffee", 0, "   ")
    assert errors == {
        "kind": (
            "Choisissez parmi : interview (Entretiens), information_session (Séances"
            " d'information), training (Formation)"
        ),
        "hours": "Un nombre d'heures non nul entre -500 et 500 (négatif pour retirer des heures).",
        "reason": "Dites pourquoi vous corrigez : la raison est gardée avec la correction.",
    }
    assert set(refused("interview", float("nan"), "x")) == {"hours"}
    assert set(refused("interview", 501, "x")) == {"hours"}
    assert refused("interview", 1, "x" * 501) == {
        "reason": "Trop long : 501 caractères, 500 au plus."
    }
    assert refused("information_session", -1, "Séance comptée à tort") == {
        "hours": (
            "Cette correction rendrait le total négatif : 0 h enregistrées en"
            " « Séances d'information »."
        )
    }
    with pytest.raises(InvalidInput) as caught:
        correct_support(
            session=session,
            user=advisor,
            participant_id=enrolled.participant_id,
            kind="interview",
            hours=1,
            reason="Entretien",
            now=LATER,
            given_on=LATER.date() + timedelta(days=1),
        )
    assert caught.value.field_errors == {"given_on": "La date ne peut pas être dans le futur."}
    assert session.exec(select(SupportTime).where(col(SupportTime.correction))).all() == []


def test_only_the_participants_advisor_and_the_coordinator_see_and_correct(
    session: Session, enroll
) -> None:
    enrolled = enroll()
    for username in ("conseiller", "promsoc"):
        other = get_user(session=session, username=username)
        with pytest.raises(Forbidden):
            support_hours(session=session, user=other, participant_id=enrolled.participant_id)
        with pytest.raises(Forbidden):
            correct_support(
                session=session,
                user=other,
                participant_id=enrolled.participant_id,
                kind="interview",
                hours=1,
                reason="Entretien",
                now=LATER,
            )
        with pytest.raises(Forbidden):
            support_totals(session=session, user=other, start=date(2026, 1, 1), end=LATER.date())
    advisor = get_user(session=session, username="conseillere")
    with pytest.raises(Forbidden):
        support_totals(session=session, user=advisor, start=date(2026, 1, 1), end=LATER.date())
    with pytest.raises(NotFound):
        support_hours(session=session, user=advisor, participant_id=99999)
    coordinator = get_user(session=session, username="coordination")
    assert (
        support_hours(
            session=session, user=coordinator, participant_id=enrolled.participant_id
        ).corrections
        == []
    )
    with pytest.raises(InvalidInput):
        support_totals(
            session=session, user=coordinator, start=date(2026, 2, 1), end=date(2026, 1, 1)
        )

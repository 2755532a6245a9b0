"""The indicator report over a scenario built through the public services, with totals worked
out by hand below: five participants, two periods, a re-entry, creations of both statuses, a
training, a job, an exit with its follow-up; every gender breakdown sums to its total.

    A  Ana     female       born 1990  enrolled 2026-11-02  creation, principal, 2026-11-02
    B  Bruno   male         born 2000  enrolled 2026-11-02  creation, complementary, 2026-12-01
    C  Chris   non-binary   born 1965  enrolled 2026-11-02  training completed 2026-11-20
                                                            (qualification), job 2027-01-15
    D  Dom     not stated   no year    enrolled 2026-11-02  left 2026-12-15 job seeking,
                                                            re-entered 2027-02-01
    E  Émile   male         born 1950  enrolled 2027-03-01  first reception only

Periods: P1 = 2026-11-01..2026-12-31, P2 = 2027-01-01..2027-06-30, and the programme's
(2026-01-01..2027-12-31).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlmodel import Session, func, select

from crealux_core.domain.indicators import Line, Report
from crealux_core.models import (
    EntrySituation,
    Gender,
    ParticipantCreate,
    Stay,
    StepRun,
    TrainingRecord,
)
from crealux_core.rules import Rules
from crealux_core.services.errors import Conflict, Forbidden, InvalidInput
from crealux_core.services.participants import enroll_participant, reenrol_participant
from crealux_core.services.plans import correct_decision
from crealux_core.services.reports import indicator_report
from crealux_core.services.users import get_user
from tests.conftest import DASHBOARD_URL
from tests.services.helpers import (
    ASSESSMENT,
    CREATION,
    EMPLOYED,
    EXIT,
    decide,
    walk_to,
)

P1 = (date(2026, 11, 1), date(2026, 12, 31))
P2 = (date(2027, 1, 1), date(2027, 6, 30))


def at(day: str, hour: int = 10) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def enrol(
    session: Session, rules: Rules, name: str, gender: Gender, born: int | None, day: str
) -> tuple[int, int]:
    participant, run = enroll_participant(
        session=session,
        rules=rules,
        data=ParticipantCreate(first_name=name, last_name="Test", gender=gender, birth_year=born),
        advisor=get_user(session=session, username="conseillere"),
        now=at(day),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    return participant.id or 0, run.id or 0


@pytest.fixture
def scenario(session: Session, rules: Rules) -> dict[str, int]:
    ids: dict[str, int] = {}
    # A: a creation as principal.
    ids["A"], run = enrol(session, rules, "Ana", Gender.FEMALE, 1990, "2026-11-02")
    walk_to(
        session,
        rules,
        run,
        "post_creation_3m",
        answers={"socio_professional_assessment": ASSESSMENT | {"disability": "undisclosed"}},
        now=at("2026-11-02", 11),
    )
    # B: a creation as complementary, started 2026-12-01.
    ids["B"], run = enrol(session, rules, "Bruno", Gender.MALE, 2000, "2026-11-02")
    complementary = CREATION | {"status": "complementary", "started_on": "2026-12-01"}
    walk_to(
        session,
        rules,
        run,
        "post_creation_3m",
        answers={"business_creation": complementary},
        now=at("2026-12-01"),
    )
    # C: a training completed with a qualification, then a job from 2027-01-15.
    ids["C"], run = enrol(session, rules, "Chris", Gender.NON_BINARY, 1965, "2026-11-02")
    search = walk_to(
        session,
        rules,
        run,
        "job_search",
        route=["training", "employment"],
        answers={"socio_professional_assessment": ASSESSMENT | {"disability": "yes"}},
        now=at("2026-11-20"),
    )
    job = EMPLOYED | {"contract_starts_on": "2027-01-15"}
    decide(session, rules, search.id or 0, job, now=at("2027-01-10"))
    ids["C_run"] = run
    # D: leaves on 2026-12-15 looking for a job, and comes back on 2027-02-01.
    ids["D"], run = enrol(session, rules, "Dom", Gender.UNDISCLOSED, None, "2026-11-02")
    leaving = EXIT | {"left_on": "2026-12-15", "reason": "stopped", "situation": "job_seeking"}
    result = walk_to(
        session,
        rules,
        run,
        "leaving_result",
        route="exit",
        answers={"exit": leaving},
        now=at("2026-12-15"),
    )
    decide(
        session,
        rules,
        result.id or 0,
        {"situation": "job_seeking", "qualification_gained": False},
        now=at("2026-12-20"),
    )
    reenrol_participant(
        session=session,
        rules=rules,
        participant_id=ids["D"],
        actor=get_user(session=session, username="conseillere"),
        now=at("2027-02-01"),
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    # E: enrolled in March 2027.
    ids["E"], _ = enrol(session, rules, "Émile", Gender.MALE, 1950, "2027-03-01")
    return ids


@pytest.fixture
def report(session: Session, rules: Rules) -> Callable[..., Report]:
    coordinator = get_user(session=session, username="coordination")

    def _report(period: tuple[date, date] | None = None, by: tuple[str, ...] = ()) -> Report:
        start, end = period or (None, None)
        return indicator_report(
            session=session,
            rules=rules,
            user=coordinator,
            start=start,
            end=end,
            by=by,
            now=at("2027-07-01"),
        )

    return _report


def line(report: Report, key: str) -> Line:
    return next(line for line in (*report.lines, *report.esf) if line.key == key)


def achieved(report: Report, key: str) -> int:
    return line(report, key).achieved


def test_participants_are_counted_once_per_period_and_once_over_both(
    scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    # P1: A, B, C, D; P2: A, B, C (still accompanied), D (back), E (new); both: five people.
    assert achieved(report(P1), "candidates_accompanied") == 4
    assert achieved(report(P2), "candidates_accompanied") == 5
    assert achieved(report(), "candidates_accompanied") == 5


def test_a_participant_who_leaves_and_reenters_is_counted_once_with_the_first_entry(
    session: Session, scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    stays = session.exec(select(func.count()).where(Stay.participant_id == scenario["D"])).one()
    assert stays == 2
    entries = session.exec(
        select(EntrySituation).where(EntrySituation.participant_id == scenario["D"])
    ).all()
    assert [entry.entered_on for entry in entries] == [date(2026, 11, 2)]
    assert achieved(report(), "total") == 5  # EECO01: D once, not twice
    assert achieved(report(P2), "total") == 1  # only E entered in P2: D's re-entry is no entry


def test_creations_count_both_statuses_apart_and_in_their_period(
    scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    creations = line(report(), "self_employment_creations")
    assert creations.achieved == 2
    assert creations.detail == {"principal": 1, "complementary": 1}
    assert creations.target.value == 20 and creations.percent == pytest.approx(10.0)
    assert achieved(report(P1), "self_employment_creations") == 2
    # Both statuses are said even when a period has none of them (the funder asks for both).
    assert line(report(P2), "self_employment_creations").detail == {
        "principal": 0,
        "complementary": 0,
    }


def test_trainings_placements_and_the_esf_results(
    scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    whole, first, second = report(), report(P1), report(P2)
    assert achieved(whole, "people_trained") == 1  # C
    assert achieved(first, "people_trained") == 1 and achieved(second, "people_trained") == 0
    assert achieved(whole, "placed_in_employment") == 1  # C, from 2027-01-15
    assert achieved(first, "placed_in_employment") == 0
    assert achieved(second, "placed_in_employment") == 1
    # ESF+ at entry: A, B, C and D were assessed long-term unemployed with ISCED 3-4.
    assert achieved(whole, "unemployed") == 4 and achieved(whole, "long_term_unemployed") == 4
    assert achieved(whole, "isced_3_4") == 4 and achieved(whole, "isced_0_2") == 0
    assert achieved(whole, "age_18_29") == 1  # B
    assert achieved(whole, "age_55_plus") == 2  # C and E
    assert achieved(whole, "disability") == 1  # C; A preferred not to say
    # ESF+ results: D left in P1 looking for a job.
    assert achieved(first, "job_searching_on_leaving") == 1
    assert achieved(second, "job_searching_on_leaving") == 0
    assert achieved(whole, "employed_on_leaving") == 0


def test_every_gender_breakdown_sums_to_its_total(
    scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    whole = report()
    assert line(whole, "candidates_accompanied").breakdowns["gender"] == {
        "female": 1,
        "male": 2,
        "non_binary": 1,
        "undisclosed": 1,
    }
    for period in (None, P1, P2):
        for item in (*report(period).lines, *report(period).esf):
            if item.counts == "participants":
                assert sum(item.breakdowns.get("gender", {}).values()) == item.achieved, item.key


def test_breakdowns_on_request_by_age_and_organisation(
    scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    whole = report(by=("age", "organisation"))
    assert whole.by == ("gender", "age_band", "organisation")
    accompanied = line(whole, "candidates_accompanied")
    assert accompanied.breakdowns["age_band"] == {
        "30_54": 1,
        "18_29": 1,
        "55_plus": 2,
        "unknown": 1,
    }
    assert accompanied.breakdowns["organisation"] == {"integra-plus": 5}
    assert whole.label("age_band", "55_plus") == "55 ans et plus"
    assert whole.label("organisation", "integra-plus") != "integra-plus"  # its name
    trained = line(whole, "people_trained")
    assert trained.breakdowns["organisation"] == {"promotion-sociale-marche": 1}
    # The ESF+ lines, of entries and of exits, are broken down by organisation as well.
    assert line(whole, "total").breakdowns["organisation"] == {"integra-plus": 5}
    leaving = [esf for esf in whole.esf if esf.code and esf.code.startswith("EECR")]
    assert leaving and all("organisation" in esf.breakdowns for esf in leaving)


def test_a_correction_rewrites_the_facts_it_recorded(
    session: Session, rules: Rules, scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    training = session.exec(
        select(StepRun).where(
            StepRun.pathway_run_id == scenario["C_run"], StepRun.step_key == "training"
        )
    ).one()
    correct_decision(
        session=session,
        rules=rules,
        step_run_id=training.id or 0,
        user=get_user(session=session, username="promsoc"),
        data={"training_kind": "qualifying", "completed": False, "hours": 100},
        note="Formation interrompue",
        now=at("2027-01-20"),
    )
    record = session.exec(
        select(TrainingRecord).where(TrainingRecord.step_run_id == training.id)
    ).one()
    assert (record.completed, record.hours, record.ended_on) == (False, 100, date(2026, 11, 20))
    assert achieved(report(), "people_trained") == 0


def test_targets_follow_the_period(scenario: dict[str, int], report: Callable[..., Report]) -> None:
    whole = line(report(), "candidates_accompanied")
    assert (whole.target.value, whole.target.how) == (50, "programme")
    half = line(report(P2), "candidates_accompanied")  # 181 of the programme's 730 days
    assert (half.target.value, half.target.how) == (round(50 * 181 / 730), "prorated")
    assert line(report(), "prospective_workshops").target.value is None


def test_only_the_coordinator_reads_the_report_and_bad_input_is_named(
    session: Session, rules: Rules, scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    for username in ("conseillere", "challenge"):
        with pytest.raises(Forbidden):
            indicator_report(
                session=session,
                rules=rules,
                user=get_user(session=session, username=username),
                now=at("2027-07-01"),
            )
    with pytest.raises(InvalidInput) as unknown:
        report(by=("gender", "shoe_size"))
    assert "shoe_size" in unknown.value.field_errors["by"]
    with pytest.raises(InvalidInput) as backwards:
        report((date(2027, 1, 1), date(2026, 1, 1)))
    assert "to" in backwards.value.field_errors


def test_reentry_is_refused_while_the_participant_is_still_on_a_pathway(
    session: Session, rules: Rules, scenario: dict[str, int]
) -> None:
    with pytest.raises(Conflict):
        reenrol_participant(
            session=session,
            rules=rules,
            participant_id=scenario["A"],
            actor=get_user(session=session, username="conseillere"),
            now=at("2027-02-01"),
            orchestrator=None,
            dashboard_url=DASHBOARD_URL,
        )
    with pytest.raises(Forbidden):
        reenrol_participant(
            session=session,
            rules=rules,
            participant_id=scenario["E"],
            actor=get_user(session=session, username="challenge"),
            now=at("2027-04-01"),
            orchestrator=None,
            dashboard_url=DASHBOARD_URL,
        )


# --- outreach and the past records of a spreadsheet join the same counts -------------------------

IMPORTED_PARTICIPANTS = (
    "Référence;Prénom;Nom;Genre;Année de naissance;Commune;Accompagnateur;Date d'inscription;"
    "Situation à l'entrée;Niveau d'études;Date de sortie;Raison de la sortie;"
    "Situation à la sortie\n"
    "2026-001;Fanny;Past;F;1985;Hotton;conseillere;01/03/2026;inactif;CITE 0-2;30/06/2026;"
    "Emploi trouvé;En emploi\n"
    "2026-002;Gilles;Past;H;1958;Durbuy;conseillere;2026-04-01;demandeur d'emploi;CITE 5-8;"
    "2026-10-31;Activité lancée;Indépendant\n"
)
IMPORTED_CREATIONS = (
    "Référence participant;Statut;Date de début d'activité;Secteur d'activité\n"
    "2026-002;principal;15/10/2026;Artisanat\n"
)


def test_outreach_and_imported_records_count_with_the_rest(
    session: Session, rules: Rules, scenario: dict[str, int], report: Callable[..., Report]
) -> None:
    from crealux_core.services.imports import import_records
    from crealux_core.services.outreach import record_outreach, record_structure

    coordinator = get_user(session=session, username="coordination")
    for name, day in (("CPAS de Durbuy", "2026-11-10"), (" cpas  de DURBUY ", "2027-02-10")):
        record_structure(
            session=session,
            user=coordinator,
            data={
                "name": name,
                "kind": "first_line",
                "sensitised_on": day,
                "by_organisation": "integra-plus",
            },
            now=at("2027-03-01"),
        )
    for reached, day in ((40, "2026-11-15"), (25, "2027-03-01")):
        record_outreach(
            session=session,
            user=coordinator,
            data={
                "category": "candidates",
                "kind": "information_session",
                "held_on": day,
                "title": "Séance d'information",
                "organiser": "integra-plus",
                "people_reached": reached,
                "became_candidates": 3,
            },
            now=at("2027-03-01"),
        )

    def imported(text: str, filename: str) -> None:
        result = import_records(
            session=session,
            rules=rules,
            user=coordinator,
            data=text.encode("utf-8"),
            filename=filename,
            now=at("2027-03-01"),
            dashboard_url=DASHBOARD_URL,
        )
        assert result.ok, result.problems

    imported(IMPORTED_PARTICIPANTS, "participants.csv")
    imported(IMPORTED_CREATIONS, "creations.csv")
    whole, first, second = report(), report(P1), report(P2)
    # The CPAS de Durbuy, sensitised twice (in P1 and in P2), counts once over both.
    assert achieved(whole, "first_line_structures") == 1
    assert achieved(first, "first_line_structures") == 1
    assert achieved(second, "first_line_structures") == 1
    assert achieved(whole, "candidates_sensitised") == 65
    assert achieved(first, "candidates_sensitised") == 40
    # Fanny and Gilles, imported and finished: accompanied in 2026, entered in 2026.
    assert achieved(whole, "candidates_accompanied") == 5 + 2
    assert achieved(report((date(2026, 1, 1), date(2026, 12, 31))), "total") == 4 + 2
    assert achieved(whole, "inactive") == 1 and achieved(whole, "isced_5_8") == 1
    assert achieved(whole, "employed_on_leaving") == 2  # employed, self-employed
    creations = line(whole, "self_employment_creations")
    assert creations.achieved == 3 and creations.detail == {"principal": 2, "complementary": 1}
    assert sum(creations.breakdowns["gender"].values()) == 3
    # The same files again: nothing changes.
    imported(IMPORTED_PARTICIPANTS, "participants.csv")
    imported(IMPORTED_CREATIONS, "creations.csv")
    again = report()
    assert [(x.key, x.achieved) for x in again.lines] == [(x.key, x.achieved) for x in whole.lines]
    assert [(x.key, x.achieved) for x in again.esf] == [(x.key, x.achieved) for x in whole.esf]

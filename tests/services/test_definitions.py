"""Versions: a pathway keeps the definition it started on, an edited version is refused, and a
migration to another version is shown, then applied as events."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from crealux_core.models import (
    EventKind,
    Gender,
    ParticipantCreate,
    PathwayEvent,
    PathwayRun,
    StepStatus,
)
from crealux_core.rules import Rules, load_rules
from crealux_core.services.definitions import DefinitionChanged, register_definitions
from crealux_core.services.errors import Forbidden
from crealux_core.services.migrations import migrate_pathways
from crealux_core.services.participants import enroll_participant
from crealux_core.services.users import get_user
from crealux_core.settings import REPO_RULES_DIR
from tests.conftest import DASHBOARD_URL, T0
from tests.services.helpers import ASSESSMENT, FIRST, decide, orientation, steps_of

ASSESSMENT_V2 = {k: v for k, v in ASSESSMENT.items() if k != "has_qualification"}  # its form

ENV = {"CREALUX_SMTP_PORT": "8025"}


def rules_without(tmp_path: Path, name: str, *files: str) -> Rules:
    """The shipped rules without some pathway files, as they were before those were written
    (without version 3, also without the orientation advice, which reads its fields)."""
    target = tmp_path / name
    shutil.copytree(REPO_RULES_DIR, target)
    for file in files:
        (target / "pathways" / file).unlink()
    if "crealux.yaml" in files:
        (target / "orientation.yaml").unlink(missing_ok=True)
    return load_rules(target, env=ENV)


@pytest.fixture
def v1_only(tmp_path: Path) -> Rules:
    """The rules as they were before version 2 of the pathway was written."""
    return rules_without(
        tmp_path,
        "rules-v1",
        "crealux.yaml",
        "crealux-v4.yaml",
        "crealux-v3.yaml",
        "crealux-v2.yaml",
    )


@pytest.fixture
def up_to_v2(tmp_path: Path) -> Rules:
    """The rules as they were before version 3 of the pathway was written."""
    return rules_without(tmp_path, "rules-v2", "crealux.yaml", "crealux-v4.yaml", "crealux-v3.yaml")


def enrol_on(session: Session, rules: Rules, name: str = "Ana") -> PathwayRun:
    _, run = enroll_participant(
        session=session,
        rules=rules,
        data=ParticipantCreate(first_name=name, last_name="V1", gender=Gender.FEMALE),
        advisor=get_user(session=session, username="conseillere"),
        now=T0,
        orchestrator=None,
        dashboard_url=DASHBOARD_URL,
    )
    return run


def test_every_version_in_rules_stays_loaded_and_new_pathways_start_on_the_newest(
    rules: Rules,
) -> None:
    assert sorted(rules.versions["crealux"]) == [1, 2, 3, 4, 5]
    assert rules.pathway().version == 5
    assert rules.pathway_version("crealux", 2) is not None
    assert rules.pathway_version("crealux", 1) is not None


def test_a_pathway_keeps_its_version_when_a_new_one_arrives(
    session: Session, rules: Rules, v1_only: Rules
) -> None:
    run = enrol_on(session, v1_only)
    assert run.pathway_version == 1
    first = steps_of(session, run.id or 0)
    step_id = session.exec(select(PathwayEvent)).first()  # no event yet
    assert step_id is None and first[0][1] == "first_reception"
    opened = decide(session, rules, _open_step_id(session, run), FIRST)  # rules hold v1 to v3
    assert opened.current_step_id is not None
    session.refresh(run)
    assert run.pathway_version == 1


def test_a_version_2_pathway_goes_on_by_version_2_when_version_3_arrives(
    session: Session, rules: Rules, up_to_v2: Rules
) -> None:
    run = enrol_on(session, up_to_v2)
    assert run.pathway_version == 2
    decide(session, rules, _open_step_id(session, run), FIRST)  # rules hold v1 to v3
    session.refresh(run)
    assert run.pathway_version == 2
    # version 2 goes straight to the assessment; version 3 would ask the self-evaluation first
    assert [key for _, key, _ in steps_of(session, run.id or 0)] == [
        "first_reception",
        "socio_professional_assessment",
    ]


def _open_step_id(session: Session, run: PathwayRun) -> int:
    from crealux_core.services.events import current_step

    step = current_step(session, run.id or 0)
    assert step is not None and step.id is not None
    return step.id


def test_an_edit_without_a_new_version_is_refused_with_the_file(
    session: Session, rules: Rules, tmp_path: Path
) -> None:
    register_definitions(session=session, rules=rules, now=T0)
    edited = tmp_path / "edited"
    shutil.copytree(REPO_RULES_DIR, edited)
    pathway = edited / "pathways" / "crealux.yaml"
    pathway.write_text(pathway.read_text().replace("due: P21D", "due: P28D"))
    with pytest.raises(DefinitionChanged) as refused:
        register_definitions(session=session, rules=load_rules(edited, env=ENV), now=T0)
    assert "crealux.yaml" in str(refused.value) and "version 5" in str(refused.value)
    assert "(version: 6)" in str(refused.value)  # what to do instead


def test_a_definition_whose_file_is_gone_is_read_from_the_database(
    session: Session, rules: Rules, v1_only: Rules, tmp_path: Path
) -> None:
    register_definitions(session=session, rules=rules, now=T0)
    run = enrol_on(session, v1_only)
    later_rules = rules_without(tmp_path, "rules-v2-v3", "crealux-v1.yaml")
    submitted = decide(session, later_rules, _open_step_id(session, run), FIRST)
    assert submitted.current_step_id is not None


def test_a_migration_shows_then_applies_what_changes_for_each_pathway(
    session: Session, rules: Rules, v1_only: Rules
) -> None:
    register_definitions(session=session, rules=rules, now=T0)
    run = enrol_on(session, v1_only)
    advisor = get_user(session=session, username="coordination")
    kwargs = dict(
        session=session,
        rules=rules,
        pathway_key="crealux",
        to_version=2,
        actor=advisor,
        now=T0 + timedelta(hours=1),
    )
    planned = migrate_pathways(dry_run=True, **kwargs)  # type: ignore[arg-type]
    assert [plan.pathway_run_id for plan in planned] == [run.id]
    assert "step added: post_creation_3m" in planned[0].changes
    assert any(change.startswith("first_reception remind") for change in planned[0].changes)
    session.refresh(run)
    assert run.pathway_version == 1  # a dry run changes nothing
    applied = migrate_pathways(dry_run=False, **kwargs)  # type: ignore[arg-type]
    assert applied[0].applied
    session.refresh(run)
    v2 = rules.pathway_version("crealux", 2)
    assert v2 is not None
    assert run.pathway_version == 2 and run.definition_digest == v2.digest()
    event = session.exec(select(PathwayEvent).where(PathwayEvent.kind == EventKind.MIGRATION)).one()
    assert event.payload["from"] == 1 and event.payload["to"] == 2
    assert migrate_pathways(dry_run=False, **kwargs) == []  # type: ignore[arg-type]


def test_a_version_2_pathway_migrated_to_version_3_goes_on_by_version_3(
    session: Session, rules: Rules, up_to_v2: Rules
) -> None:
    register_definitions(session=session, rules=rules, now=T0)
    run = enrol_on(session, up_to_v2)
    step = decide(session, rules, _open_step_id(session, run), FIRST).current_step_id
    step = decide(session, rules, step or 0, ASSESSMENT_V2).current_step_id
    assert steps_of(session, run.id or 0)[-1][1] == "orientation"
    kwargs = dict(
        session=session,
        rules=rules,
        pathway_key="crealux",
        to_version=3,
        actor=get_user(session=session, username="coordination"),
        now=T0 + timedelta(hours=1),
    )
    [planned] = migrate_pathways(dry_run=True, **kwargs)  # type: ignore[arg-type]
    assert planned.blocked is None  # every step of version 2 has its key in version 3
    for added in ("self_evaluation_entry", "self_evaluation_mid", "self_evaluation_end", "exit"):
        assert f"step added: {added}" in planned.changes
    assert not any(change.startswith("step removed") for change in planned.changes)
    [applied] = migrate_pathways(dry_run=False, **kwargs)  # type: ignore[arg-type]
    assert applied.applied
    session.refresh(run)
    v3 = rules.pathway_version("crealux", 3)
    assert v3 is not None
    assert run.pathway_version == 3 and run.definition_digest == v3.digest()
    # an exit decided now goes by version 3: the end self-evaluation, not the end at once
    decide(session, rules, step or 0, orientation("exit"), now=T0 + timedelta(hours=2))
    assert steps_of(session, run.id or 0)[-1] == (4, "self_evaluation_end", StepStatus.OPEN)


def test_only_the_coordination_migrates(session: Session, rules: Rules) -> None:
    with pytest.raises(Forbidden):
        migrate_pathways(
            session=session,
            rules=rules,
            pathway_key="crealux",
            to_version=2,
            actor=get_user(session=session, username="conseillere"),
            now=T0,
            dry_run=True,
        )

"""Reports built by hand, as `services.reports.indicator_report` would fill them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from crealux_core.domain.indicators import Line, Report, Target

MALICIOUS = "=cmd|' /C calc'!A0"
MARKUP = '<b>Évasion</b> & <img src="http://127.0.0.1:9/x.png">'


def line(
    key: str,
    label: str,
    achieved: int,
    target: int | None = None,
    *,
    code: str | None = None,
    how: str = "programme",
    counts: str = "participants",
    detail: dict[str, int] | None = None,
    **breakdowns: dict[str, int],
) -> Line:
    return Line(
        key=key,
        code=code,
        label_fr=label,
        label_en=key.replace("_", " "),
        counts=counts,
        target=Target(target, how if target is not None else "none"),
        achieved=achieved,
        detail=detail or {},
        breakdowns=breakdowns,
    )


def sample_report(by: tuple[str, ...] = ("age_band", "organisation", "municipality")) -> Report:
    """Five programme lines, three ESF+ lines; a malicious municipality and organisation."""
    # As the report service fills them: a value nobody has is left out, so a line of zero has
    # no gender counts at all.
    gender = {"female": 7, "male": 4, "non_binary": 1}
    lines = (
        line(
            "candidates_sensitised",
            "Candidats potentiels sensibilisés",
            42,
            100,
            counts="people_reached",
            municipality={"Arlon": 30, MALICIOUS: 12},
        ),
        line(
            "first_line_structures",
            "Structures de 1ère ligne sensibilisées",
            25,
            25,
            counts="structures",
            organisation={"1": 20, "2": 5},
        ),
        line(
            "candidates_accompanied",
            "Candidats accompagnés",
            12,
            50,
            gender=gender,
            age_band={"18_29": 5, "30_54": 6, "unknown": 1},
            organisation={"1": 10, "2": 3},
            municipality={"Arlon": 8, "Habay": 4},
        ),
        line(
            "self_employment_creations",
            "(Auto) créations d'emploi",
            5,
            20,
            detail={"principal": 3, "complementary": 2},
            gender={"female": 3, "male": 2},
            age_band={"30_54": 5},
            organisation={"2": 5},
            municipality={"Arlon": 5},
        ),
        line("placed_in_employment", "Personnes mises à l'emploi", 0, 20),
        line(
            "prospective_workshops",
            "Ateliers de prospective (démarche prospective)",
            2,
            counts="actions",
        ),
    )
    esf = (
        line(
            "total",
            "Nombre total de participants",
            12,
            code="EECO01",
            gender=gender,
            age_band={"18_29": 5, "30_54": 6, "unknown": 1},
        ),
        line(
            "long_term_unemployed",
            "Chômeurs de longue durée",
            4,
            code="EECO03",
            gender={"female": 3, "male": 1},
        ),
        line(
            "employed_six_months",
            "En emploi, y compris indépendant, six mois après la sortie",
            0,
            code="EECR05",
        ),
    )
    return Report(
        title="CREALux - parcours individualisé vers l'emploi et la création d'activité",
        funder="Fonds social européen (FSE+)",
        period_start=date(2026, 1, 1),
        period_end=date(2027, 12, 31),
        generated_at=datetime(2026, 6, 30, 12, 5, tzinfo=UTC),
        lines=lines,
        esf=esf,
        by=by,
        value_labels={"organisation": {"1": "Integraplus", "2": MARKUP}},
    )

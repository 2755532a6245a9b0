"""The facts reports count, and which form fields may record them.

A form field says in the rules which fact its answer records (`records: entry.labour_status`).
Reports never read a step's answers: they count typed rows (models/facts.py) that the events
write. This vocabulary is what a field may record; the loader checks each `records:` against it
(the field's type, and for a choice that every choice is a value the fact knows), so a report
stays right across every version of every pathway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FactKind(StrEnum):
    BOOL = "bool"
    INT = "int"
    DATE = "date"
    CHOICE = "choice"
    COMPANY_NUMBER = "company_number"


@dataclass(frozen=True)
class FactSpec:
    """A fact a field may record: its type and, for a choice, the values reports know."""

    key: str
    kind: FactKind
    values: frozenset[str] | None = None  # None: any value (free choices such as a reason)
    label: str = ""


LABOUR_STATUSES = {
    "long_term_unemployed": "Demandeur d'emploi de longue durée",
    "unemployed": "Demandeur d'emploi",
    "inactive": "Inactif",
    "employed": "En emploi (y compris indépendant)",
}
EDUCATION_LEVELS = {
    "isced_0_2": "CITE 0-2",
    "isced_3_4": "CITE 3-4",
    "isced_5_8": "CITE 5-8",
}
# Special categories (GDPR art. 9) and other situations: answering is never forced.
DISCLOSURE = {"yes": "Oui", "no": "Non", "undisclosed": "Préfère ne pas répondre"}
SITUATIONS = {
    "employed": "En emploi",
    "self_employed": "Indépendant",
    "in_training": "En formation",
    "job_seeking": "Demandeur d'emploi",
    "inactive": "Inactif",
    "lost_to_follow_up": "Perdu de vue",
}
BUSINESS_STATUSES = {
    "principal": "Indépendant à titre principal",
    "complementary": "Indépendant à titre complémentaire",
    "not_started": "Activité pas encore lancée",
}
SUPPORT_KINDS = {
    "interview": "Entretiens",
    "information_session": "Séances d'information",
    "training": "Formation",
}

# The situations on entry a field may record, beside labour status and education.
DISADVANTAGES = (
    "disability",
    "foreign_background",
    "third_country_national",
    "minority",
    "homeless",
    "rural_area",
)


def _choice(key: str, values: dict[str, str] | None, label: str) -> FactSpec:
    return FactSpec(
        key=key,
        kind=FactKind.CHOICE,
        values=frozenset(values) if values is not None else None,
        label=label,
    )


FACTS: dict[str, FactSpec] = {
    spec.key: spec
    for spec in (
        _choice("entry.labour_status", LABOUR_STATUSES, "situation sur le marché du travail"),
        _choice("entry.education_level", EDUCATION_LEVELS, "niveau d'études"),
        *(_choice(f"entry.{name}", DISCLOSURE, "situation défavorisée") for name in DISADVANTAGES),
        FactSpec("exit.left_on", FactKind.DATE, label="date de sortie"),
        _choice("exit.reason", None, "raison de la sortie"),
        _choice("leaving.situation", SITUATIONS, "situation à la sortie"),
        FactSpec("leaving.qualification_gained", FactKind.BOOL, label="qualification obtenue"),
        _choice("six_months.situation", SITUATIONS, "situation six mois après"),
        FactSpec("six_months.improved", FactKind.BOOL, label="situation améliorée"),
        _choice("business.status", BUSINESS_STATUSES, "statut de l'activité"),
        FactSpec("business.started_on", FactKind.DATE, label="début d'activité"),
        _choice("business.sector", None, "secteur d'activité"),
        FactSpec("business.company_number", FactKind.COMPANY_NUMBER, label="numéro d'entreprise"),
        _choice("training.kind", None, "type de formation"),
        FactSpec("training.completed", FactKind.BOOL, label="formation terminée"),
        FactSpec("training.qualification", FactKind.BOOL, label="qualification obtenue"),
        FactSpec("training.hours", FactKind.INT, label="heures de formation"),
        FactSpec("placement.employed", FactKind.BOOL, label="mise à l'emploi"),
        _choice("placement.contract", None, "contrat"),
        FactSpec("placement.started_on", FactKind.DATE, label="début du contrat"),
        _choice("placement.sector", None, "secteur d'activité"),
    )
}


def fact_group(key: str) -> str:
    """Return the group (table) of a fact: `entry` for `entry.labour_status`."""
    return key.partition(".")[0]


def fact_name(key: str) -> str:
    return key.partition(".")[2]

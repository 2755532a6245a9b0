"""Cells of an import file read as typed values, each refusal said in French.

A parser takes a cell as the reader gives it (text, a number, a date or datetime from Excel, a
boolean) and returns the value, or raises CellError with what is wrong and what is expected:
« valeur « Z » inconnue ; attendu F, H, X ou ? ».
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic_core import PydanticCustomError

from crealux_core.rules.facts import (
    BUSINESS_STATUSES,
    DISCLOSURE,
    EDUCATION_LEVELS,
    LABOUR_STATUSES,
    SITUATIONS,
)
from crealux_core.rules.forms import enterprise_number
from crealux_core.services.import_layout import normalise

EXCEL_EPOCH = date(1899, 12, 30)
DATE_EXPECTED = "attendu une date comme 01/03/2026 ou 2026-03-01"
_DAY_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]00:00(?::00)?)?$")


class CellError(ValueError):
    """A cell refused: the message says what is wrong and what is expected (French)."""


def french_list(items: Iterable[str]) -> str:
    """Return « A, B ou C »."""
    listed = list(items)
    if len(listed) <= 1:
        return "".join(listed)
    return f"{', '.join(listed[:-1])} ou {listed[-1]}"


def shown(value: Any) -> str:
    """Return a cell as a message quotes it."""
    if isinstance(value, datetime):
        return f"{value:%d/%m/%Y}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def as_text(value: Any, *, most: int) -> str:
    """Return a cell as one line of text, at most `most` characters."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number typed in a text column (a reference, a phone number)
    if isinstance(value, datetime):
        value = f"{value:%d/%m/%Y}"
    text = " ".join(str(value).split())
    if len(text) > most:
        raise CellError(f"texte trop long : {len(text)} caractères, {most} au plus")
    return text


def as_date(value: Any) -> date:
    """Return a day: an Excel date, 01/03/2026 (day first), 2026-03-01, or an Excel day number."""
    if isinstance(value, datetime):
        if value.time() != datetime.min.time():
            raise CellError(f"« {value:%d/%m/%Y %H:%M} » a une heure ; {DATE_EXPECTED}")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        raise CellError(f"« {shown(value)} » n'est pas une date ; {DATE_EXPECTED}")
    if isinstance(value, (int, float)):
        if value == int(value) and 1 <= value <= 2958465:  # Excel's serial days
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise CellError(f"« {shown(value)} » n'est pas une date ; {DATE_EXPECTED}")
    text = str(value).strip()
    day_first, iso = _DAY_FIRST.match(text), _ISO.match(text)
    try:
        if day_first:
            return date(int(day_first[3]), int(day_first[2]), int(day_first[1]))
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
    except ValueError:
        raise CellError(f"date « {text} » impossible ; {DATE_EXPECTED}") from None
    raise CellError(f"« {text} » n'est pas une date ; {DATE_EXPECTED}")


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise CellError(f"« {shown(value)} » n'est pas un nombre")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip().replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        raise CellError(f"« {value} » n'est pas un nombre") from None
    if not math.isfinite(number):
        raise CellError(f"« {value} » n'est pas un nombre")
    return number


def as_int(value: Any, *, low: int, high: int) -> int:
    """Return a whole number from `low` to `high`."""
    number = _number(value)
    if not number.is_integer():
        raise CellError(f"« {shown(value)} » n'est pas un nombre entier")
    if not low <= number <= high:
        raise CellError(f"{int(number)} hors limites ; attendu de {low} à {high}")
    return int(number)


def as_hours(value: Any, *, high: float) -> float:
    """Return a number of hours from 0 to `high` (2,5 or 2.5)."""
    number = _number(value)
    if not 0 <= number <= high:
        raise CellError(f"{shown(value)} hors limites ; attendu de 0 à {high:g} heures")
    return number


def as_company_number(value: Any) -> str:
    """Return a Belgian enterprise number as 0123.456.749 (an Excel number lost its first 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == int(value):
        value = str(int(value)).zfill(10)
    try:
        return enterprise_number(str(value))
    except PydanticCustomError as error:
        if error.type == "company_number_check":
            raise CellError(
                f"numéro « {value} » : les deux derniers chiffres ne correspondent pas"
                " (modulo 97) ; une faute de frappe ?"
            ) from None
        raise CellError(
            f"numéro « {value} » invalide ; attendu 10 chiffres commençant par 0 ou 1"
            " (0123.456.749)"
        ) from None


@dataclass(frozen=True)
class Vocabulary:
    """The values a column accepts: each stored key, written as its key, its label or an
    alias (compared normalised); `expected` says them in a message."""

    accepted: Mapping[str, str]  # normalised spelling -> stored key
    expected: str

    @classmethod
    def of(
        cls,
        labels: Mapping[str, str],
        *,
        expected: str | None = None,
        aliases: Mapping[str, Iterable[str]] | None = None,
    ) -> Vocabulary:
        accepted: dict[str, str] = {}
        for key, label in labels.items():
            for spelling in (key, key.replace("_", " "), label, *(aliases or {}).get(key, ())):
                accepted.setdefault(normalise(spelling), key)
        return cls(accepted, expected or french_list(labels.values()))

    def parse(self, value: Any) -> str:
        if isinstance(value, bool):
            value = "oui" if value else "non"
        found = self.accepted.get(normalise(shown(value)))
        if found is None:
            raise CellError(f"valeur « {shown(value)} » inconnue ; attendu {self.expected}")
        return found


GENDERS = Vocabulary.of(
    {"female": "F", "male": "H", "non_binary": "X", "undisclosed": "?"},
    aliases={
        "female": ("femme", "féminin", "f"),
        "male": ("homme", "masculin", "h"),
        "non_binary": ("autre", "autre genre", "non binaire", "non-binaire"),
        "undisclosed": ("non précisé", "non precise", "ne souhaite pas répondre", "inconnu"),
    },
)
DISCLOSURES = Vocabulary.of(
    DISCLOSURE,
    expected="oui, non ou ne souhaite pas répondre",
    aliases={
        "yes": ("o",),
        "no": ("n",),
        "undisclosed": ("ne souhaite pas répondre", "non précisé", "?", "ne sait pas"),
    },
)
BOOLEANS = Vocabulary.of(
    {"yes": "oui", "no": "non"},
    aliases={"yes": ("o", "vrai", "true", "1", "x"), "no": ("n", "faux", "false", "0")},
)
LABOUR = Vocabulary.of(
    LABOUR_STATUSES,
    expected="demandeur d'emploi de longue durée, demandeur d'emploi, inactif ou en emploi",
    aliases={
        "long_term_unemployed": ("DELD", "chômeur de longue durée"),
        "unemployed": ("DE", "chômeur"),
        "employed": ("en emploi", "travailleur", "indépendant"),
    },
)
EDUCATION = Vocabulary.of(
    EDUCATION_LEVELS,
    expected="CITE 0-2, CITE 3-4 ou CITE 5-8",
    aliases={
        "isced_0_2": ("0-2", "ISCED 0-2", "secondaire inférieur"),
        "isced_3_4": ("3-4", "ISCED 3-4", "secondaire supérieur"),
        "isced_5_8": ("5-8", "ISCED 5-8", "supérieur"),
    },
)
SITUATION = Vocabulary.of(
    SITUATIONS,
    expected="en emploi, indépendant, en formation, demandeur d'emploi, inactif ou perdu de vue",
)
BUSINESS = Vocabulary.of(
    BUSINESS_STATUSES,
    expected="principal, complémentaire ou pas encore lancée",
    aliases={
        "principal": ("principal", "à titre principal"),
        "complementary": ("complémentaire", "à titre complémentaire"),
        "not_started": ("pas encore lancée", "pas lancée", "non lancée"),
    },
)
CATEGORIES = Vocabulary.of(
    {
        "candidates": "Sensibilisation de candidats",
        "training": "Information sur la formation",
        "prospective": "Atelier de prospective",
    },
    expected="candidats, formation ou prospective",
    aliases={
        "candidates": ("candidats", "candidat", "sensibilisation"),
        "training": ("formation", "information formation"),
        "prospective": ("prospective", "atelier prospectif"),
    },
)
OUTREACH_KINDS = Vocabulary.of(
    {
        "information_session": "Séance d'information",
        "fair": "Salon du parcours du créateur",
        "school_visit": "Visite d'école",
        "workshop": "Atelier",
        "other": "Autre action",
    },
    expected="séance d'information, salon, visite d'école, atelier ou autre",
    aliases={
        "fair": ("salon",),
        "school_visit": ("visite d'école", "école", "visite"),
        "other": ("autre",),
    },
)
STRUCTURE_KINDS = Vocabulary.of(
    {"first_line": "Structure de 1ère ligne", "professional": "Structure professionnelle"},
    expected="première ligne ou professionnelle",
    aliases={
        "first_line": ("première ligne", "1ère ligne", "1re ligne", "premiere ligne"),
        "professional": ("professionnelle", "professionnel"),
    },
)


def as_bool(value: Any) -> bool:
    """Return oui/non (vrai/faux, 1/0, an Excel TRUE/FALSE) as a boolean."""
    return BOOLEANS.parse(value) == "yes"

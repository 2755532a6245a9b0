"""The layout of an import file: its sheets and columns, how a file is read, the template.

An XLSX holds up to six sheets (« participants », « formations », « creations », « emplois »,
« sensibilisation », « structures »), each with its headers on the first row and one record per
row below. A CSV holds one of those kinds: it is the kind whose required columns are all in its
header. Headers are matched without regard to case, accents, spacing or a trailing « * » (the
template marks the required columns so); the English key of a column (`first_name`) is
accepted too. docs/import.md describes every column; the template (`template_bytes`) is the
same layout, empty.

Nothing here touches the database: `imports` validates the rows read here and writes them.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from pathlib import PurePath
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

ERRORS_HEADER = "Erreurs"  # the column a file of rejected rows adds; ignored when re-imported
README_SHEET = "lisez-moi"  # the template's explanations; ignored when imported


class Kind(StrEnum):
    PARTICIPANTS = "participants"
    TRAININGS = "trainings"
    CREATIONS = "creations"
    PLACEMENTS = "placements"
    OUTREACH = "outreach"
    STRUCTURES = "structures"


@dataclass(frozen=True)
class Column:
    """One column: its English key, its French header, and what it takes (for the template)."""

    key: str
    header: str
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()  # the template's drop-down list (French values)


@dataclass(frozen=True)
class Sheet:
    """One kind of record: its sheet's name and its columns, in the template's order."""

    kind: Kind
    name: str
    title: str
    columns: tuple[Column, ...]

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(column for column in self.columns if column.required)


YES_NO = ("oui", "non")
DISCLOSURE_CHOICES = ("oui", "non", "ne souhaite pas répondre")
GENDER_CHOICES = ("F", "H", "X", "?")
DATE_HELP = "une date : 01/03/2026, 2026-03-01 ou une date Excel"
REFERENCE = Column(
    "participant",
    "Référence participant",
    required=True,
    help="la référence du participant (feuille « participants », ou déjà importé)",
)
ORGANISATION_HELP = "la clé ou le nom d'une organisation partenaire (rules/organisations.yaml)"


def _disclosure(key: str, header: str) -> Column:
    return Column(
        key, header, help="oui, non ou ne souhaite pas répondre", choices=DISCLOSURE_CHOICES
    )


PARTICIPANTS = Sheet(
    Kind.PARTICIPANTS,
    "participants",
    "un participant, son entrée, son étape en cours ou sa sortie",
    (
        Column(
            "reference",
            "Référence",
            True,
            "unique dans le fichier ; le retrouve à un nouvel import",
        ),
        Column("first_name", "Prénom", True),
        Column("last_name", "Nom", True),
        Column(
            "gender",
            "Genre",
            True,
            "F (femme), H (homme), X (autre genre) ou ? (non précisé)",
            GENDER_CHOICES,
        ),
        Column("birth_year", "Année de naissance", help="quatre chiffres : 1988"),
        Column("municipality", "Commune"),
        Column("email", "E-mail"),
        Column("phone", "Téléphone"),
        Column("advisor", "Accompagnateur", True, "identifiant ou nom d'un accompagnateur"),
        Column("enrolled_on", "Date d'inscription", True, DATE_HELP),
        Column(
            "labour_status",
            "Situation à l'entrée",
            help="demandeur d'emploi de longue durée, demandeur d'emploi, inactif, en emploi",
        ),
        Column("education_level", "Niveau d'études", help="CITE 0-2, CITE 3-4 ou CITE 5-8"),
        _disclosure("disability", "Handicap"),
        _disclosure("foreign_background", "Origine étrangère"),
        _disclosure("third_country_national", "Ressortissant d'un pays tiers"),
        _disclosure("minority", "Minorité"),
        _disclosure("homeless", "Sans-abri"),
        _disclosure("rural_area", "Zone rurale"),
        Column("route", "Orientation", help="création, formation, emploi, social ou fin"),
        Column(
            "current_step",
            "Étape en cours",
            help="clé ou intitulé de l'étape du parcours où il en est ; vide : parcours terminé",
        ),
        Column("left_on", "Date de sortie", help=DATE_HELP + " ; obligatoire si parcours terminé"),
        Column("exit_reason", "Raison de la sortie"),
        Column(
            "leaving_situation",
            "Situation à la sortie",
            help="en emploi, indépendant, en formation, demandeur d'emploi, inactif, perdu de vue",
        ),
        Column(
            "qualification_gained",
            "Qualification obtenue à la sortie",
            help="oui ou non",
            choices=YES_NO,
        ),
        Column("six_months_situation", "Situation six mois après", help="comme à la sortie"),
        Column("improved", "Situation améliorée six mois après", help="oui ou non", choices=YES_NO),
        Column("interview_hours", "Heures d'entretiens", help="heures d'accompagnement individuel"),
        Column("information_hours", "Heures de séances d'information"),
    ),
)

TRAININGS = Sheet(
    Kind.TRAININGS,
    "formations",
    "une formation suivie par un participant",
    (
        REFERENCE,
        Column("kind", "Type de formation", help="sociale, pré-qualifiante, qualifiante"),
        Column("organisation", "Organisme", help=ORGANISATION_HELP),
        Column("ended_on", "Date de fin de formation", True, DATE_HELP),
        Column("completed", "Terminée", help="oui ou non", choices=YES_NO),
        Column("qualification", "Qualification obtenue", help="oui ou non", choices=YES_NO),
        Column("hours", "Heures", help="nombre entier d'heures suivies"),
    ),
)

CREATIONS = Sheet(
    Kind.CREATIONS,
    "creations",
    "une activité créée par un participant",
    (
        REFERENCE,
        Column(
            "status",
            "Statut",
            True,
            "principal, complémentaire ou pas encore lancée",
            ("principal", "complémentaire", "pas encore lancée"),
        ),
        Column("started_on", "Date de début d'activité", help=DATE_HELP),
        Column("sector", "Secteur d'activité"),
        Column("company_number", "Numéro d'entreprise", help="BCE : 0123.456.749 (modulo 97)"),
        Column("organisation", "Organisme", help=ORGANISATION_HELP),
    ),
)

PLACEMENTS = Sheet(
    Kind.PLACEMENTS,
    "emplois",
    "un emploi trouvé par un participant",
    (
        REFERENCE,
        Column("started_on", "Date de début de contrat", True, DATE_HELP),
        Column(
            "contract", "Contrat", help="durée indéterminée, durée déterminée, intérim, article 60"
        ),
        Column("sector", "Secteur d'activité"),
        Column("organisation", "Organisme", help=ORGANISATION_HELP),
    ),
)

OUTREACH = Sheet(
    Kind.OUTREACH,
    "sensibilisation",
    "une action de sensibilisation, d'information sur la formation ou un atelier de prospective",
    (
        Column("held_on", "Date", True, DATE_HELP),
        Column(
            "category",
            "Catégorie",
            True,
            "candidats, formation ou prospective",
            ("candidats", "formation", "prospective"),
        ),
        Column(
            "kind",
            "Type d'action",
            True,
            "séance d'information, salon, visite d'école, atelier ou autre",
            ("séance d'information", "salon", "visite d'école", "atelier", "autre"),
        ),
        Column("title", "Intitulé", True, "le thème, pour un atelier de prospective"),
        Column("organiser", "Organisateur", True, ORGANISATION_HELP),
        Column("municipality", "Commune"),
        Column("people_reached", "Personnes touchées", True, "nombre entier"),
        Column("became_candidates", "Devenues candidates", help="nombre entier ; vide : 0"),
        Column("hours", "Heures", help="durée de l'action en heures : 2,5"),
        Column("outputs", "Résultats", help="ce qu'un atelier de prospective a produit"),
    ),
)

STRUCTURES = Sheet(
    Kind.STRUCTURES,
    "structures",
    "une structure de première ligne ou professionnelle sensibilisée",
    (
        Column("name", "Structure", True, "son nom ; sensibilisée deux fois, elle compte une fois"),
        Column(
            "kind",
            "Type de structure",
            True,
            "première ligne ou professionnelle",
            ("première ligne", "professionnelle"),
        ),
        Column("municipality", "Commune"),
        Column("sensitised_on", "Date de sensibilisation", True, DATE_HELP),
        Column("by_organisation", "Sensibilisée par", True, ORGANISATION_HELP),
    ),
)

LAYOUT: tuple[Sheet, ...] = (PARTICIPANTS, TRAININGS, CREATIONS, PLACEMENTS, OUTREACH, STRUCTURES)
SHEETS: dict[Kind, Sheet] = {sheet.kind: sheet for sheet in LAYOUT}


def normalise(text: str) -> str:
    """Return text as compared: case folded, accents stripped, blanks collapsed, ’ as '."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(bare.split())


def _header_key(text: str) -> str:
    bare = normalise(text).removesuffix("(obligatoire)").strip().rstrip("*").strip()
    return bare.replace("_", " ")


_SHEET_NAMES: dict[str, Kind] = {
    _header_key(name): kind
    for kind, names in {
        Kind.PARTICIPANTS: ("participants",),
        Kind.TRAININGS: ("formations", "trainings"),
        Kind.CREATIONS: ("creations", "créations"),
        Kind.PLACEMENTS: ("emplois", "placements"),
        Kind.OUTREACH: ("sensibilisation", "outreach"),
        Kind.STRUCTURES: ("structures",),
    }.items()
    for name in names
}
_IGNORED_SHEETS = {_header_key(README_SHEET), "readme"}


def _headers_of(sheet: Sheet) -> dict[str, str]:
    """Return header text (normalised) -> column key, French headers and English keys."""
    known: dict[str, str] = {}
    for column in sheet.columns:
        known[_header_key(column.header)] = column.key
        known[_header_key(column.key)] = column.key
    return known


@dataclass(frozen=True)
class ImportProblem:
    """Something wrong in a file: where (sheet, row as the spreadsheet numbers it, column) and
    what, in French."""

    sheet: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = [f"Feuille « {self.sheet} »"]
        if self.line is not None:
            where.append(f"ligne {self.line}")
        if self.column is not None:
            where.append(f"colonne « {self.column} »")
        return f"{', '.join(where)} : {self.message}"

    @property
    def in_row(self) -> str:
        """The problem as the « Erreurs » cell of its row says it: its column and what."""
        where = f"Ligne {self.line}" + (f", colonne « {self.column} »" if self.column else "")
        return f"{where} : {self.message}"


@dataclass(frozen=True)
class RawRow:
    """A row as read: its line number, its values by column key, and its cells as they were."""

    line: int
    values: Mapping[str, Any]
    cells: tuple[Any, ...]


@dataclass
class RawSheet:
    sheet: Sheet
    name: str  # as the file names it
    headers: tuple[str, ...]  # as the file writes them
    rows: list[RawRow] = field(default_factory=list)


@dataclass
class RawFile:
    """A file as read: its sheets of known kinds, and what is wrong with its shape."""

    filename: str
    is_csv: bool
    sheets: list[RawSheet] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    delimiter: str = ";"

    @property
    def row_count(self) -> int:
        return sum(len(sheet.rows) for sheet in self.sheets)


class UnreadableFile(ValueError):
    """The file is neither an XLSX workbook nor a CSV text this reads (French message)."""


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _columns_of(
    sheet: Sheet, name: str, headers: Sequence[Any], problems: list[ImportProblem]
) -> dict[int, str]:
    """Return column position -> key for a sheet's header row; record unknown, repeated and
    missing required columns."""
    known = _headers_of(sheet)
    positions: dict[int, str] = {}
    seen: dict[str, str] = {}
    for index, header in enumerate(headers):
        if _blank(header):
            continue
        text = str(header).strip()
        if _header_key(text) == _header_key(ERRORS_HEADER):
            continue
        key = known.get(_header_key(text))
        if key is None:
            expected = ", ".join(f"« {column.header} »" for column in sheet.columns)
            problems.append(
                ImportProblem(name, 1, text, f"colonne inconnue ; les colonnes sont {expected}")
            )
        elif key in seen:
            problems.append(
                ImportProblem(name, 1, text, f"colonne en double (déjà « {seen[key]} »)")
            )
        else:
            positions[index] = key
            seen[key] = text
    for column in sheet.required:
        if column.key not in seen:
            problems.append(
                ImportProblem(name, 1, column.header, "colonne obligatoire absente de l'en-tête")
            )
    return positions


def _raw_sheet(
    sheet: Sheet, name: str, rows: Iterable[Sequence[Any]], problems: list[ImportProblem]
) -> RawSheet | None:
    iterator = iter(rows)
    headers = next(iterator, None)
    if headers is None or all(_blank(cell) for cell in headers):
        return None
    positions = _columns_of(sheet, name, headers, problems)
    raw = RawSheet(
        sheet=sheet, name=name, headers=tuple("" if h is None else str(h) for h in headers)
    )
    for line, cells in enumerate(iterator, start=2):
        if all(_blank(cell) for cell in cells):
            continue
        values = {
            key: (cells[index].strip() or None if isinstance(cells[index], str) else cells[index])
            for index, key in positions.items()
            if index < len(cells)
        }
        raw.rows.append(RawRow(line=line, values=values, cells=tuple(cells)))
    return raw


def _read_xlsx(data: bytes, filename: str) -> RawFile:
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise UnreadableFile(
            f"« {filename} » n'est pas un classeur XLSX lisible ({error})"
        ) from None
    raw = RawFile(filename=filename, is_csv=False)
    try:
        seen: dict[Kind, str] = {}
        for worksheet in workbook.worksheets:
            key = _header_key(worksheet.title)
            kind = _SHEET_NAMES.get(key)
            if kind is None:
                if key not in _IGNORED_SHEETS:
                    raw.notices.append(
                        f"Feuille « {worksheet.title} » ignorée : les feuilles lues sont "
                        + ", ".join(f"« {sheet.name} »" for sheet in LAYOUT)
                        + "."
                    )
                continue
            if kind in seen:
                raw.problems.append(
                    ImportProblem(
                        worksheet.title, None, None, f"feuille en double (déjà « {seen[kind]} »)"
                    )
                )
                continue
            seen[kind] = worksheet.title
            sheet = _raw_sheet(
                SHEETS[kind], worksheet.title, worksheet.iter_rows(values_only=True), raw.problems
            )
            if sheet is not None:
                raw.sheets.append(sheet)
    finally:
        workbook.close()
    return raw


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("fichier texte illisible : enregistrez-le en UTF-8")  # pragma: no cover


def _delimiter(first_line: str) -> str:
    """Return the delimiter of a CSV header line: the most frequent of ; , and tab."""
    return max((";", ",", "\t"), key=first_line.count)


def csv_kind(headers: Sequence[str]) -> Kind | list[Kind] | None:
    """Return the kind whose required columns are all in a CSV header; None if none is; the
    kinds that fit if several do."""
    found = {_header_key(header) for header in headers if header}
    fitting = [
        sheet.kind
        for sheet in LAYOUT
        if all(
            _header_key(column.header) in found or _header_key(column.key) in found
            for column in sheet.required
        )
    ]
    if not fitting:
        return None
    return fitting[0] if len(fitting) == 1 else fitting


def _read_csv(data: bytes, filename: str) -> RawFile:
    text = _decode(data)
    first_line = text.split("\n", 1)[0]
    delimiter = _delimiter(first_line)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    raw = RawFile(filename=filename, is_csv=True, delimiter=delimiter)
    name = PurePath(filename).name
    if not rows:
        return raw
    kind = csv_kind(rows[0])
    if kind is None:
        expected = " ; ".join(
            f"{sheet.name} : " + ", ".join(f"« {c.header} »" for c in sheet.required)
            for sheet in LAYOUT
        )
        message = (
            "en-tête non reconnu : aucune sorte de ligne n'y a toutes ses colonnes obligatoires"
            f" ({expected})"
        )
        raw.problems.append(ImportProblem(name, 1, None, message))
        return raw
    if isinstance(kind, list):
        fitting = ", ".join(f"« {SHEETS[k].name} »" for k in kind)
        raw.problems.append(
            ImportProblem(name, 1, None, f"en-tête ambigu : il convient à {fitting}")
        )
        return raw
    sheet = _raw_sheet(SHEETS[kind], SHEETS[kind].name, rows, raw.problems)
    if sheet is not None:
        raw.sheets.append(sheet)
    return raw


def read_file(data: bytes, filename: str) -> RawFile:
    """Read an XLSX workbook or a CSV file (recognised by its first bytes, then its name)."""
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data, filename)
    if data[:4] == b"\xd0\xcf\x11\xe0":  # the Excel 97-2003 format
        raise UnreadableFile(
            f"« {filename} » est un classeur Excel 97-2003 (.xls) : enregistrez-le au format"
            " .xlsx (Fichier > Enregistrer sous) et importez celui-là"
        )
    if PurePath(filename).suffix.lower() in (".xlsx", ".xlsm"):
        raise UnreadableFile(f"« {filename} » n'est pas un classeur XLSX lisible")
    return _read_csv(data, filename)


# --- writing: the template and the rejected rows -------------------------------------------------

_HEADER_FONT = Font(bold=True)
_REQUIRED_FILL = PatternFill("solid", fgColor="FCE4D6")
_OPTIONAL_FILL = PatternFill("solid", fgColor="DDEBF7")
_DATE_FORMAT = "DD/MM/YYYY"


def template_header(column: Column) -> str:
    """The header the template writes: required columns end with « * »."""
    return f"{column.header} *" if column.required else column.header


def _write_cell(worksheet: Any, row: int, column: int, value: Any) -> None:
    cell = worksheet.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # the text as it was, never a formula
    elif isinstance(value, (date, datetime)):
        cell.number_format = _DATE_FORMAT


def _header_row(worksheet: Any, headers: Sequence[str], columns: Sequence[Column | None]) -> None:
    for index, (header, column) in enumerate(zip(headers, columns, strict=True), start=1):
        _write_cell(worksheet, 1, index, header)
        cell = worksheet.cell(row=1, column=index)
        cell.font = _HEADER_FONT
        if column is not None:
            cell.fill = _REQUIRED_FILL if column.required else _OPTIONAL_FILL
            what = ("Obligatoire. " if column.required else "") + (column.help or "")
            if what.strip():
                cell.comment = Comment(what.strip(), "CREALux")
        worksheet.column_dimensions[get_column_letter(index)].width = max(14, len(header) + 4)
    worksheet.freeze_panes = "A2"


def template_workbook() -> Workbook:
    """Return the template: one sheet per kind with its headers (required ones marked « * »,
    each explained in a comment, choices in drop-down lists) and a « lisez-moi » sheet."""
    workbook = Workbook()
    readme = workbook.active
    assert readme is not None
    readme.title = README_SHEET
    for index, line in enumerate(README_LINES, start=1):
        readme.cell(row=index, column=1, value=line)
    readme.column_dimensions["A"].width = 110
    readme.cell(row=1, column=1).font = _HEADER_FONT
    for sheet in LAYOUT:
        worksheet = workbook.create_sheet(sheet.name)
        _header_row(worksheet, [template_header(c) for c in sheet.columns], sheet.columns)
        for index, column in enumerate(sheet.columns, start=1):
            if column.choices:
                letter = get_column_letter(index)
                listed = ",".join(column.choices)
                check = DataValidation(type="list", formula1=f'"{listed}"', allow_blank=True)
                check.error = (
                    "Choisissez une valeur de la liste (voir le commentaire de l'en-tête)."
                )
                check.showErrorMessage = False  # other accepted spellings stay possible
                worksheet.add_data_validation(check)
                check.add(f"{letter}2:{letter}5000")
    return workbook


README_LINES = (
    "Import CREALux : mode d'emploi",
    "",
    "Une feuille par sorte de ligne ; l'en-tête est la première ligne, une ligne par fiche.",
    "Les colonnes marquées * sont obligatoires ; le commentaire de chaque en-tête dit ce qu'elle"
    " accepte.",
    "Dates : 01/03/2026, 2026-03-01 ou une date Excel. Oui/non : oui, non.",
    "« Référence » identifie un participant : un second import du même fichier ne change rien.",
    "Les feuilles formations, creations et emplois renvoient à la référence d'un participant.",
    "« Étape en cours » : la clé ou l'intitulé de l'étape où le participant en est ; vide, son"
    " parcours est terminé (la date de sortie est alors obligatoire).",
    "Les feuilles inutiles peuvent rester vides ou être supprimées. Détails : docs/import.md.",
    "",
    "Feuilles : " + " ; ".join(f"{sheet.name} ({sheet.title})" for sheet in LAYOUT),
)


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_bytes() -> bytes:
    """Return the template as an XLSX file."""
    return workbook_bytes(template_workbook())


def rejected_file(raw: RawFile, messages: Mapping[tuple[str, int], Sequence[str]]) -> bytes:
    """Return the rejected rows in the file's own layout (its sheets, its headers, its cells as
    read) with an « Erreurs » column; `messages` are the errors by (sheet name, line)."""
    if raw.is_csv:
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=raw.delimiter)
        for sheet in raw.sheets:
            writer.writerow([*_without_errors(sheet.headers), ERRORS_HEADER])
            for row in sheet.rows:
                if (sheet.name, row.line) in messages:
                    cells = _without_errors_cells(sheet.headers, row.cells)
                    errors = " | ".join(messages[(sheet.name, row.line)])
                    writer.writerow([*("" if c is None else c for c in cells), errors])
        return buffer.getvalue().encode("utf-8-sig")
    workbook = Workbook()
    first = workbook.active
    assert first is not None
    workbook.remove(first)
    for sheet in raw.sheets:
        worksheet = workbook.create_sheet(sheet.name)
        headers = [*_without_errors(sheet.headers), ERRORS_HEADER]
        by_header = {_header_key(template_header(c)): c for c in sheet.sheet.columns} | {
            _header_key(c.header): c for c in sheet.sheet.columns
        }
        _header_row(worksheet, headers, [by_header.get(_header_key(h)) for h in headers])
        written = 1
        for row in sheet.rows:
            if (sheet.name, row.line) not in messages:
                continue
            written += 1
            cells = _without_errors_cells(sheet.headers, row.cells)
            for index, value in enumerate(cells, start=1):
                _write_cell(worksheet, written, index, value)
            _write_cell(
                worksheet, written, len(headers), "\n".join(messages[(sheet.name, row.line)])
            )
            worksheet.cell(row=written, column=len(headers)).alignment = Alignment(wrap_text=True)
        worksheet.column_dimensions[get_column_letter(len(headers))].width = 80
    return workbook_bytes(workbook)


def _errors_at(headers: Sequence[str]) -> int | None:
    for index, header in enumerate(headers):
        if header and _header_key(header) == _header_key(ERRORS_HEADER):
            return index
    return None


def _without_errors(headers: Sequence[str]) -> list[str]:
    """The headers without a former « Erreurs » column (a rejected file imported again)."""
    at = _errors_at(headers)
    return [h for i, h in enumerate(headers) if i != at]


def _without_errors_cells(headers: Sequence[str], cells: Sequence[Any]) -> list[Any]:
    at = _errors_at(headers)
    kept = [c for i, c in enumerate(cells) if i != at]
    width = len(_without_errors(headers))
    return (kept + [None] * width)[:width]

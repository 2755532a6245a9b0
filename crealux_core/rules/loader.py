"""Load a rules directory into frozen specs; every problem names its file, line and path."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from crealux_core.domain.channels import mask_url
from crealux_core.rules.channels import literal_secret
from crealux_core.rules.conditions import ConditionError, check_condition, compile_condition
from crealux_core.rules.indicators import IndicatorsSpec
from crealux_core.rules.notifications import NotificationsSpec, load_notifications
from crealux_core.rules.specs import (
    FieldSpec,
    FieldType,
    OfferKind,
    OrganisationSpec,
    OrientationSpec,
    PathwaySpec,
    Rules,
    StepSpec,
)

# Rules names these specs for type checkers only (their modules import specs.py): complete it.
Rules.model_rebuild(
    _types_namespace={"IndicatorsSpec": IndicatorsSpec, "NotificationsSpec": NotificationsSpec}
)

ORGANISATIONS_FILE = "organisations.yaml"
ORIENTATION_FILE = "orientation.yaml"
INDICATORS_FILE = "indicators.yaml"
NOTIFICATIONS_FILE = "notifications.yaml"
PATHWAYS_DIR = "pathways"
# References in organisations.yaml: ${NAME}, ${NAME:-default} (the environment), ${file:/path}.
_VARIABLE = re.compile(
    r"\$\{(?:file:(?P<file>[^}]+)|(?P<name>[A-Z][A-Z0-9_]*)(?::-(?P<default>[^}]*))?)\}"
)
_ANY_REFERENCE = re.compile(r"\$\{[^}]*\}?")
# Offer keys and channel tags: lower-case kebab or snake case.
_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
_NAME_HINT = "lower-case letters and digits, words joined by - or _: job-club, job_club"

YamlPath = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    file: Path
    path: YamlPath
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else str(self.file)
        inside = _dotted(self.path)
        return f"{where}: {inside + ': ' if inside else ''}{self.message}"


class RulesError(Exception):
    """The rules directory cannot be used; `problems` says what is wrong and where."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def _dotted(path: YamlPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Document:
    """A parsed YAML file that can tell the line of a path inside it."""

    def __init__(self, file: Path) -> None:
        self.file = file
        text = file.read_text(encoding="utf-8")
        try:
            self.node = yaml.compose(text, Loader=yaml.SafeLoader)
            self.data = yaml.safe_load(text)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            line = mark.line + 1 if mark is not None else None
            raise RulesError(
                [Problem(file, (), f"not valid YAML: {error.problem}", line)]
            ) from None

    def line_of(self, path: YamlPath) -> int | None:
        node = self.node
        line = node.start_mark.line + 1 if node is not None else None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                found = [value for key, value in node.value if key.value == part]
                if not found:
                    return line
                node = found[0]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if part >= len(node.value):
                    return line
                node = node.value[part]
            else:
                return line
            line = node.start_mark.line + 1
        return line

    def problem(self, path: YamlPath, message: str) -> Problem:
        return Problem(self.file, path, message, self.line_of(path))


def _validate(document: _Document, model: type[M], data: Any, prefix: YamlPath) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        problems = []
        for detail in error.errors():
            loc = prefix + _user_path(detail["loc"])
            problems.append(document.problem(loc, _message(detail)))
        raise RulesError(problems) from None


def _user_path(loc: Sequence[Any]) -> YamlPath:
    """Return the path as the YAML file has it: without pydantic's tags, and without the
    `span` that an anchored duration (`due: P3M after a.b`) holds inside."""
    path: list[str | int] = []
    for part in loc:
        if _is_pydantic_tag(part) or (part == "span" and path and path[-1] in ("due", "opens")):
            continue
        path.append(part)
    return tuple(path)


def _is_pydantic_tag(part: Any) -> bool:
    return isinstance(part, str) and part.startswith("function-")


def _message(detail: Mapping[str, Any]) -> str:
    message = str(detail["msg"]).removeprefix("Value error, ")
    if detail["type"] == "extra_forbidden":
        return "unknown key (is it misspelt?)"
    return message


class _Unresolved(Exception):
    """A reference that cannot be replaced; the message says why."""


def _secret_file(name: str) -> str:
    """Return the content of a secret file (`${file:/path}`), stripped."""
    path = Path(name.strip()).expanduser()
    if not path.is_absolute():
        raise _Unresolved(f"${{file:{name}}}: write the secret file's absolute path")
    try:
        content = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise _Unresolved(f"secret file {path} not found") from None
    except UnicodeDecodeError:
        raise _Unresolved(f"secret file {path} is not UTF-8 text") from None
    except OSError as error:
        raise _Unresolved(f"cannot read the secret file {path}: {error.strerror}") from None
    if not content:
        raise _Unresolved(f"secret file {path} is empty")
    if "\n" in content:
        raise _Unresolved(f"secret file {path} has several lines: write the secret alone")
    return content


def _substitute(text: str, env: Mapping[str, str]) -> str:
    """Replace the references in `text`: ${NAME}, ${NAME:-default}, ${file:/path}."""
    for found in _ANY_REFERENCE.finditer(text):
        if not _VARIABLE.fullmatch(found.group(0)):
            raise _Unresolved(
                f"{found.group(0)!r} is not a reference: write ${{NAME}}, ${{NAME:-default}}"
                " or ${file:/absolute/path}"
            )

    def substitute(match: re.Match[str]) -> str:
        if match.group("file") is not None:
            return _secret_file(match.group("file"))
        name, default = match.group("name"), match.group("default")
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise _Unresolved(f"variable ${{{name}}} is not set")

    return _VARIABLE.sub(substitute, text)


def _expand(
    value: Any, env: Mapping[str, str], document: _Document, path: YamlPath, problems: list[Problem]
) -> Any:
    """Replace ${NAME}, ${NAME:-default} (from `env`) and ${file:/path} (a file's content) in
    strings; an unset variable or an unreadable file is added to `problems` with its file, line
    and path (and the string is left as it was)."""
    if isinstance(value, str):
        try:
            return _substitute(value, env)
        except _Unresolved as error:
            problems.append(document.problem(path, str(error)))
            return value
    if isinstance(value, list):
        return [_expand(item, env, document, (*path, i), problems) for i, item in enumerate(value)]
    if isinstance(value, dict):
        return {
            key: _expand(item, env, document, (*path, key), problems) for key, item in value.items()
        }
    return value


def _channels_written(notify: Any) -> Iterable[tuple[YamlPath, Any, Any]]:
    """Yield each channel as written: its path (to its URL), its URL and its tags."""
    if not isinstance(notify, list):
        return
    for index, item in enumerate(notify):
        if isinstance(item, str):
            yield ("notify", index), item, None
        elif isinstance(item, dict):
            yield ("notify", index, "url"), item.get("url"), item.get("tags")


def _key_problem(document: _Document, path: YamlPath, message: str) -> Problem:
    """Return a problem with a mapping's key, on the key's line (`line_of` gives its value's)."""
    node, key_node = document.node, None
    for part in path:
        found = (
            [(key, value) for key, value in node.value if key.value == part]
            if isinstance(node, yaml.MappingNode)
            else []
        )
        if not found:
            return document.problem(path, message)
        key_node, node = found[0]
    line = key_node.start_mark.line + 1 if key_node is not None else None
    return Problem(document.file, path, message, line)


def _written_problems(
    document: _Document, body: Mapping[str, Any], path: YamlPath
) -> list[Problem]:
    """Check an organisation as written, before its references are replaced: its offer keys
    and channel tags are lower-case kebab or snake case, and no channel writes a secret out."""
    problems = []
    offers = body.get("offers")
    for name in offers if isinstance(offers, dict) else ():
        if not (isinstance(name, str) and _NAME.match(name)):
            problems.append(
                _key_problem(
                    document,
                    (*path, "offers", name),
                    f"offer key {name!r} is not lower-case kebab or snake case ({_NAME_HINT})",
                )
            )
    for where, url, tags in _channels_written(body.get("notify")):
        for index, tag in enumerate(tags if isinstance(tags, list) else ()):
            if isinstance(tag, str) and not _NAME.match(tag):
                problems.append(
                    document.problem(
                        (*path, *where[:2], "tags", index),
                        f"tag {tag!r} is not lower-case kebab or snake case ({_NAME_HINT})",
                    )
                )
        reason = literal_secret(url) if isinstance(url, str) else None
        if reason:
            problems.append(
                document.problem(
                    (*path, *where),
                    f"{reason} ({mask_url(url)}): secrets never live in rules/; write it as"
                    " ${NAME} (an environment variable) or ${file:/path} (a file outside the"
                    " repository), see docs/partners.md",
                )
            )
    return problems


def _organisation_problems(
    document: _Document, spec: OrganisationSpec, path: YamlPath
) -> Iterable[Problem]:
    """Check a loaded organisation: a training module says its hours, a channel is given once."""
    for key, offer in spec.offers.items():
        if offer.kind is OfferKind.TRAINING and offer.hours is None:
            yield _key_problem(
                document,
                (*path, "offers", key),
                "a training module says how long it lasts: add hours (for example hours: 60)",
            )
    first: dict[str, int] = {}
    for index, channel in enumerate(spec.notify):
        url = channel.url.strip()
        if url in first:
            yield document.problem(
                (*path, "notify", index),
                f"the same channel as notify[{first[url]}] ({mask_url(url)}): give it once,"
                " with all its tags",
            )
        first.setdefault(url, index)


def _load_organisations(
    file: Path, env: Mapping[str, str]
) -> tuple[dict[str, OrganisationSpec], _Document]:
    document = _Document(file)
    data = document.data
    if not isinstance(data, dict) or not isinstance(data.get("organisations"), dict):
        raise RulesError([document.problem((), "expected a mapping 'organisations:'")])
    organisations = {}
    problems: list[Problem] = []
    for key, body in data["organisations"].items():
        path: YamlPath = ("organisations", key)
        if not isinstance(body, dict):
            problems.append(document.problem(path, "expected a mapping"))
            continue
        written = _written_problems(document, body, path)
        if written:
            problems += written
            continue
        unresolved: list[Problem] = []
        expanded = _expand({"key": key, **body}, env, document, path, unresolved)
        if unresolved:
            problems += unresolved
            continue
        try:
            spec = _validate(document, OrganisationSpec, expanded, path)
        except RulesError as error:
            problems += error.problems
            continue
        found = list(_organisation_problems(document, spec, path))
        problems += found
        if not found:
            organisations[key] = spec
    if problems:
        raise RulesError(problems)
    return organisations, document


def _pathway_problems(
    document: _Document,
    pathway: PathwaySpec,
    organisations: Mapping[str, OrganisationSpec] | None,
) -> Iterable[Problem]:
    steps = pathway.steps
    if pathway.start not in steps:
        yield document.problem(("start",), f"unknown step {pathway.start!r} ({_known(steps)})")
    for key, step in steps.items():
        yield from _deadline_problems(document, pathway, step)
        if organisations is not None and step.concerns not in organisations:
            yield document.problem(
                ("steps", key, "concerns"),
                f"unknown organisation {step.concerns!r} ({_known(organisations)})",
            )
        if organisations is not None:
            yield from _referral_problems(document, ("steps", key), step, organisations)
        for index, transition in enumerate(step.next):
            where: YamlPath = ("steps", key, "next", index)
            if transition.to is not None and transition.to not in steps:
                yield document.problem(
                    (*where, "to"), f"unknown step {transition.to!r} ({_known(steps)})"
                )
            if transition.when is not None:
                try:
                    compile_condition(transition.when, step.form)
                except ConditionError as error:
                    yield document.problem((*where, "when"), str(error))
    yield from _optional_problems(document, pathway, organisations)


def _optional_problems(
    document: _Document,
    pathway: PathwaySpec,
    organisations: Mapping[str, OrganisationSpec] | None,
) -> Iterable[Problem]:
    """Check the catalogue of optional steps: they run alongside, so they lead nowhere."""
    for key, step in pathway.optional.items():
        where: YamlPath = ("optional", key)
        if key in pathway.steps:
            yield document.problem(where, f"{key!r} is already a step of the pathway")
        if step.next:
            yield document.problem((*where, "next"), "an optional step leads nowhere: no 'next'")
        if step.on_overdue is not None and step.on_overdue.to is not None:
            yield document.problem(
                (*where, "on_overdue", "to"), "an optional step's deadline cannot move the pathway"
            )
        if step.opens is not None or step.due.step is not None:
            yield document.problem(
                (*where, "due" if step.opens is None else "opens"),
                "an optional step opens when it is added and counts from then",
            )
        if organisations is not None and step.concerns not in organisations:
            yield document.problem(
                (*where, "concerns"),
                f"unknown organisation {step.concerns!r} ({_known(organisations)})",
            )
        if organisations is not None:
            yield from _referral_problems(document, where, step, organisations)


def _referral_problems(
    document: _Document,
    where: YamlPath,
    step: StepSpec,
    organisations: Mapping[str, OrganisationSpec],
) -> Iterable[Problem]:
    """Check that the offers a referral step lists exist (organisation/offer)."""
    if step.assign != "referral":
        return
    for index, name in enumerate(step.referral_settings.offers):
        organisation_key, _, offer_key = name.partition("/")
        organisation = organisations.get(organisation_key)
        if organisation is None:
            yield document.problem(
                (*where, "referral", "offers", index),
                f"unknown organisation {organisation_key!r} ({_known(organisations)})",
            )
        elif offer_key not in organisation.offers:
            yield document.problem(
                (*where, "referral", "offers", index),
                f"{organisation_key} has no offer {offer_key!r}"
                f" ({_known(organisation.offers) if organisation.offers else 'it has none'})",
            )


def _deadline_problems(
    document: _Document, pathway: PathwaySpec, step: StepSpec
) -> Iterable[Problem]:
    """Check that anchors name a date field of another step, and where overdue steps go."""
    where: YamlPath = ("steps", step.key)
    for name, anchored in (("due", step.due), ("opens", step.opens)):
        if anchored is None or anchored.step is None:
            continue
        anchor = pathway.steps.get(anchored.step)
        if anchor is None:
            yield document.problem(
                (*where, name), f"unknown step {anchored.step!r} ({_known(pathway.steps)})"
            )
        elif (
            anchored.field not in anchor.form
            or anchor.form[anchored.field].type is not FieldType.DATE
        ):
            dates = [field for field, spec in anchor.form.items() if spec.type is FieldType.DATE]
            yield document.problem(
                (*where, name),
                f"{anchored.step}.{anchored.field} is not a date field of that step"
                f" (date fields: {', '.join(dates) or 'none'})",
            )
    if step.on_overdue is not None and step.on_overdue.to not in (None, *pathway.steps):
        yield document.problem(
            (*where, "on_overdue", "to"),
            f"unknown step {step.on_overdue.to!r} ({_known(pathway.steps)})",
        )


def _known(keys: Iterable[str]) -> str:
    return "known: " + ", ".join(sorted(keys))


def _load_pathway(file: Path, organisations: Mapping[str, OrganisationSpec] | None) -> PathwaySpec:
    document = _Document(file)
    pathway = _validate(document, PathwaySpec, document.data, ())
    problems = list(_pathway_problems(document, pathway, organisations))
    if problems:
        raise RulesError(problems)
    return pathway


def _read_fields(
    document: _Document, spec: OrientationSpec, pathway: PathwaySpec
) -> tuple[dict[str, FieldSpec], list[Problem]]:
    """Return the fields the advice reads (those of its `reads` steps), and what is wrong."""
    fields: dict[str, FieldSpec] = {}
    owner: dict[str, str] = {}
    problems = []
    for index, key in enumerate(spec.reads):
        where: YamlPath = ("reads", index)
        if key not in pathway.steps:
            problems.append(
                document.problem(where, f"unknown step {key!r} ({_known(pathway.steps)})")
            )
            continue
        if key in owner.values():
            problems.append(document.problem(where, f"step {key!r} is read twice"))
            continue
        for name, field in pathway.steps[key].form.items():
            if name in owner:
                problems.append(
                    document.problem(
                        where,
                        f"field {name!r} is in both {owner[name]} and {key}: a condition could"
                        " not tell them apart",
                    )
                )
            fields[name], owner[name] = field, key
    return fields, problems


def _routes(
    document: _Document, spec: OrientationSpec, pathway: PathwaySpec
) -> tuple[dict[str, str], list[Problem]]:
    """Return the choices of the decided field (value -> label), and what is wrong."""
    step = pathway.steps.get(spec.decided_step)
    if step is None:
        return {}, [
            document.problem(
                ("decides",), f"unknown step {spec.decided_step!r} ({_known(pathway.steps)})"
            )
        ]
    field = step.form.get(spec.decided_field)
    if field is None or field.choices is None:
        choices = [name for name, found in step.form.items() if found.choices]
        return {}, [
            document.problem(
                ("decides",),
                f"{spec.decides} is not a choice field of that step"
                f" (choice fields: {', '.join(choices) or 'none'})",
            )
        ]
    return dict(field.choices), []


def _advice_problems(
    document: _Document,
    spec: OrientationSpec,
    fields: Mapping[str, FieldSpec] | None,
    routes: Mapping[str, str],
) -> Iterable[Problem]:
    seen: set[str] = set()
    for index, rule in enumerate(spec.advice):
        where: YamlPath = ("advice", index)
        if rule.key in seen:
            yield document.problem((*where, "key"), f"duplicate key {rule.key!r}")
        seen.add(rule.key)
        if routes and rule.route not in routes:
            yield document.problem(
                (*where, "route"),
                f"{rule.route!r} is not a choice of {spec.decides} ({_known(routes)})",
            )
        if fields is None:
            continue
        try:
            check_condition(rule.when, fields)
        except ConditionError as error:
            yield document.problem((*where, "when"), str(error))


def _asks_all(pathway: PathwaySpec, spec: OrientationSpec, fields: Mapping[str, FieldSpec]) -> bool:
    """Tell whether a version of the pathway asks every field the advice's conditions read, as
    typed, and offers every route it advises."""
    asked = {
        name: field.type
        for key in spec.reads
        if key in pathway.steps
        for name, field in pathway.steps[key].form.items()
    }
    decided = pathway.steps.get(spec.decided_step)
    field = decided.form.get(spec.decided_field) if decided else None
    offered = set(field.choices or ()) if field else set()
    # Only the fields a condition names: a later version may ask more (the situations on
    # entry of version 4) without taking the advice from runs on an earlier one.
    named = {
        name
        for name in fields
        if any(re.search(rf"\b{re.escape(name)}\b", rule.when) for rule in spec.advice)
    }
    return (
        all(asked.get(name) is fields[name].type for name in named)
        and {rule.route for rule in spec.advice} <= offered
    )


_FILLED_BY_LOADER = ("fields", "routes", "versions")


def _load_orientation(
    file: Path, versions: Mapping[str, Mapping[int, PathwaySpec]]
) -> OrientationSpec:
    """Load the orientation advice and check it against the newest version of its pathway."""
    document = _Document(file)
    data = document.data
    if not isinstance(data, dict):
        raise RulesError(
            [document.problem((), "expected a mapping (pathway, reads, decides, advice)")]
        )
    filled = [
        document.problem((key,), "unknown key (is it misspelt?)")
        for key in _FILLED_BY_LOADER
        if key in data
    ]
    if filled:
        raise RulesError(filled)
    spec = _validate(document, OrientationSpec, data, ())
    if spec.pathway not in versions:
        raise RulesError(
            [
                document.problem(
                    ("pathway",), f"unknown pathway {spec.pathway!r} ({_known(versions)})"
                )
            ]
        )
    by_version = versions[spec.pathway]
    newest = by_version[max(by_version)]
    fields, problems = _read_fields(document, spec, newest)
    routes, route_problems = _routes(document, spec, newest)
    # Conditions are checked only against a complete context: a missing step's fields would
    # read as unknown in every condition.
    context = None if problems else fields
    problems += route_problems
    problems += _advice_problems(document, spec, context, routes)
    if problems:
        raise RulesError(problems)
    applies = tuple(
        sorted(v for v, pathway in by_version.items() if _asks_all(pathway, spec, fields))
    )
    return spec.model_copy(update={"fields": fields, "routes": routes, "versions": applies})


def _load_indicators(file: Path) -> IndicatorsSpec:
    """Load the indicator definitions and targets (rules/indicators.yaml)."""
    document = _Document(file)
    if not isinstance(document.data, dict):
        raise RulesError([document.problem((), "expected a mapping (programme, indicators)")])
    return _validate(document, IndicatorsSpec, document.data, ())


def load_rules(directory: Path, env: Mapping[str, str]) -> Rules:
    """Load and check every rules file under `directory`; raise RulesError listing all problems."""
    directory = Path(directory)
    if not directory.is_dir():
        raise RulesError([Problem(directory, (), "rules directory not found")])
    organisations_file = directory / ORGANISATIONS_FILE
    if not organisations_file.is_file():
        raise RulesError([Problem(organisations_file, (), "file not found")])
    problems: list[Problem] = []
    organisations: dict[str, OrganisationSpec] | None = None  # None: unusable, not checked against
    try:
        organisations, _ = _load_organisations(organisations_file, env)
    except RulesError as error:
        problems.extend(error.problems)
    versions: dict[str, dict[int, PathwaySpec]] = {}
    sources: dict[str, str] = {}
    pathways_loaded = True  # every pathway file: the advice is checked against the newest
    for file in sorted((directory / PATHWAYS_DIR).glob("*.yaml")):
        try:
            pathway = _load_pathway(file, organisations)
        except RulesError as error:
            problems.extend(error.problems)
            pathways_loaded = False
            continue
        label = f"{pathway.key}@{pathway.version}"
        if label in sources:
            problems.append(
                Problem(
                    file,
                    ("version",),
                    f"pathway {pathway.key!r} version {pathway.version} is also defined in"
                    f" {sources[label]}: give each definition its own version",
                )
            )
        versions.setdefault(pathway.key, {})[pathway.version] = pathway
        sources[label] = str(file)
    if not problems and not versions:
        problems.append(Problem(directory / PATHWAYS_DIR, (), "no pathway file (*.yaml)"))
    orientation = None
    orientation_file = directory / ORIENTATION_FILE
    if orientation_file.is_file() and versions and pathways_loaded:
        try:
            orientation = _load_orientation(orientation_file, versions)
        except RulesError as error:
            problems.extend(error.problems)
    indicators = None
    indicators_file = directory / INDICATORS_FILE
    if indicators_file.is_file():
        try:
            indicators = _load_indicators(indicators_file)
        except RulesError as error:
            problems.extend(error.problems)
    notifications: NotificationsSpec | None = None
    notifications_file = directory / NOTIFICATIONS_FILE
    if notifications_file.is_file() and organisations is not None:
        try:
            notifications = load_notifications(notifications_file, organisations=organisations)
        except RulesError as error:
            problems.extend(error.problems)
    if problems:
        raise RulesError(problems)
    newest = {key: by_version[max(by_version)] for key, by_version in versions.items()}
    default = "crealux" if "crealux" in newest else sorted(newest)[0]
    return Rules(
        pathways=newest,
        versions=versions,
        sources=sources,
        organisations=organisations or {},
        default_pathway=default,
        orientation=orientation,
        indicators=indicators,
        notifications=notifications,
    )

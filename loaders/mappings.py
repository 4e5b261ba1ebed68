"""SQL of every code mapping, generated from the tables in ``loaders/schema.py`` (sqlglot trees).

The business rules (``loaders/rules/*.sql``) and the typed staging tables never spell a code list
as a SQL literal: they call one of these by name (``race_group(race)``), and ``loaders.rules``
replaces the call with the tree built here, so schema.py is the only place a mapping is written
(tests/test_rules_mappings.py runs each generated expression on chDB against schema.py).
"""

from __future__ import annotations

from typing import Callable, Iterable

from sqlglot import exp

from crosstrack.loaders import schema


def _strings(values: Iterable[str]) -> exp.Array:
    return exp.Array(expressions=[exp.Literal.string(v) for v in values])


def transform(value: exp.Expression, mapping: dict[str, str], default: exp.Expression | str) -> exp.Expression:
    """ClickHouse ``transform(value, [from...], [to...], default)`` of one mapping table."""
    other = exp.Literal.string(default) if isinstance(default, str) else default
    return exp.Anonymous(this="transform", expressions=[value, _strings(mapping), _strings(mapping.values()), other])


def agency_group(agency: exp.Expression) -> exp.Expression:
    """R5: the fact agency of a source agency code (Barnstable + Dukes, Franklin + Hampshire merged)."""
    return transform(agency, schema.SOURCE_AGENCIES, agency.copy())


def race_group(race: exp.Expression) -> exp.Expression:
    """R4: five races; Hispanic as a race, Other, Unknown and empty are Other / Unknown."""
    return transform(race, schema.SOURCE_RACES, schema.RACE_DEFAULT)


def ethnicity_group(ethnicity: exp.Expression) -> exp.Expression:
    """R4: three ethnicities; empty is Unavailable."""
    return transform(ethnicity, schema.SOURCE_ETHNICITIES, schema.ETHNICITY_DEFAULT)


def gender_code(label: exp.Expression) -> exp.Expression:
    """The extract carries gender identity labels; the facts carry codes (empty -> UNKNOWN)."""
    labels = {lab: code for code, lab in schema.GENDER_IDENTITIES.items() if code != schema.GENDER_DEFAULT}
    return transform(label, labels, schema.GENDER_DEFAULT)


def age_group_bounds() -> list[tuple[str, int]]:
    """(code, youngest age) of each R3 group, from the codes themselves ('18-24', ..., '60+')."""
    return [(code, int(code.rstrip("+").split("-")[0])) for code in schema.AGE_GROUPS]


def age_group(age: exp.Expression) -> exp.Expression:
    """R3: the group of an age in whole years (ages under the first group never reach a fact: R2)."""
    bounds = age_group_bounds()
    args: list[exp.Expression] = []
    for (code, _), (_, next_from) in zip(bounds, bounds[1:]):
        args += [exp.LT(this=age.copy(), expression=exp.Literal.number(next_from)), exp.Literal.string(code)]
    args.append(exp.Literal.string(bounds[-1][0]))
    return exp.Anonymous(this="multiIf", expressions=args)


def chapter_type(chapter: exp.Expression) -> exp.Expression:
    """R12: the offense type of an MGL chapter (the FAQ's chapter table); any other chapter: OTHER."""
    return transform(chapter, schema.CHAPTER_TYPES, "OTHER")


def other_subtype(offense_type: exp.Expression) -> exp.Expression:
    """R12: the "Other" sub-type of an offense type, for a statute the reference table lacks."""
    return transform(offense_type, schema.OTHER_SUBTYPE_OF_TYPE, "OTHER")


def codes(name: str) -> exp.Expression:
    """A code list of schema.py as an array literal: ``codes('COUNTED_STATUSES')``."""
    values = getattr(schema, name)
    return _strings(values)


# name in SQL -> builder from the call's arguments (``loaders.rules`` expands the calls)
MAPPINGS: dict[str, Callable[..., exp.Expression]] = {
    "agency_group": agency_group, "race_group": race_group, "ethnicity_group": ethnicity_group,
    "gender_code": gender_code, "age_group": age_group, "chapter_type": chapter_type,
    "other_subtype": other_subtype,
}

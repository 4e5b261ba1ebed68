"""The published fact tables: the contract between loaders/ (writes) and cube/ (reads).

Published data lives in an immutable, versioned database (``<database>_v<N>``) built and
checked in full before one row in ``<database>.load_history`` points readers at it. A reader
resolves the current version once per query and reads only that database, so it sees the old
data or the new, never a mix; a load killed at any moment leaves an unreferenced database
that the next load drops. No column holds a person id, name, birth date, docket number or
exact date: ``person_key`` is an HMAC of the person id and is only ever counted.
"""

from __future__ import annotations

# The fact tables' columns live one layer down (cube/ checks models against them and must not
# import loaders/; tests/test_layers.py); re-exported here beside the code lists.
from crosstrack.fact_tables import (  # noqa: F401
    CHARGE_FACTS,
    CHARGE_ORDER_BY,
    CUSTODY_FACTS,
    CUSTODY_ORDER_BY,
    FACT_TABLES,
    RECIDIVISM_EVENTS,
    RECIDIVISM_WINDOWS,
    RELEASE_FACTS,
    RELEASE_ORDER_BY,
)

# Codes every fact column may take; models/ carries the same lists with labels (a test
# checks they agree). Order is the display order.
AGENCIES = {  # R5: Barnstable + Dukes = Cape and Islands, Franklin + Hampshire = Northwestern
    "DOC": "Department of Correction",
    "BER": "Berkshire",
    "BRI": "Bristol",
    "CAI": "Cape and Islands",
    "ESS": "Essex",
    "HMD": "Hampden",
    "MID": "Middlesex",
    "NOR": "Norfolk",
    "NWT": "Northwestern",
    "PLY": "Plymouth",
    "SUF": "Suffolk",
    "WOR": "Worcester",
}
FACILITY_TYPES = {"PRISON": "State prison", "HOC": "House of Correction", "JAIL": "Jail"}
SECURITY_LEVELS = {
    "MAXIMUM": "Maximum",
    "MEDIUM": "Medium",
    "MINIMUM": "Minimum",
    "PRE_RELEASE": "Pre-release",
    "UNKNOWN": "Unknown",  # DOC placement with no level in the extract
    "NOT_APPLICABLE": "Not applicable",  # Sheriff's Office placements have no DOC level
}
OFFENDER_STATUSES = {"PRETRIAL": "Pretrial", "SENTENCED": "Sentenced"}
AGE_GROUPS = {  # R3
    "18-24": "18 to 24",
    "25-29": "25 to 29",
    "30-39": "30 to 39",
    "40-49": "40 to 49",
    "50-59": "50 to 59",
    "60+": "60 and above",
}
ASSIGNED_SEX = {"M": "Male", "F": "Female", "U": "Unknown"}
GENDER_IDENTITIES = {
    "MALE": "Male", "FEMALE": "Female", "AGENDER": "Agender", "BIGENDER": "Bigender",
    "CISGENDER": "Cisgender", "EXPANSIVE": "Expansive", "GENDER_FLUID": "Gender Fluid",
    "INTERSEX": "Intersex", "NONBINARY": "Nonbinary", "TRANSGENDER": "Transgender",
    "TWO_SPIRIT": "Two-Spirit", "VARIANTE": "Variante", "UNKNOWN": "Unknown",
}
RACES = {  # R4: five values; source "H" (Hispanic as a race), O, U and empty -> OU
    "AI": "American Indian / Alaska Native",
    "API": "Asian / Pacific Islander",
    "B": "Black / African American",
    "OU": "Other / Unknown",
    "W": "White",
}
ETHNICITIES = {"H": "Hispanic/Latino", "N": "Not Hispanic / Latino", "U": "Unavailable"}
SEVERITIES = {"F": "Felony", "M": "Misdemeanor", "NOT_APPLICABLE": "Not applicable"}
DISPOSITIONS = {
    "PENDING": "Pending", "CONVICTED": "Convicted", "DISMISSED": "Dismissed",
    "NOT_GUILTY": "Not guilty", "NOLLE_PROSEQUI": "Nolle prosequi",
}
OFFENSE_TYPES = {  # R12: the seven types of the FAQ's chapter table
    "PERSON": "Person",
    "PROPERTY": "Property",
    "DRUG": "Drug",
    "MOTOR_VEHICLE": "Motor Vehicle",
    "WEAPONS": "Weapons",
    "PUBLIC_ORDER": "Public Order",
    "OTHER": "Other",
    "NOT_APPLICABLE": "Not applicable",  # governing offense of a pretrial person, and vice versa
}
# R12: each sub-type belongs to exactly one type, as the FAQ's sub-type list places it,
# except that Public Order belongs to the type Public Order.
OFFENSE_SUBTYPES: dict[str, tuple[str, str]] = {
    "ASSAULT": ("Assault", "PERSON"),
    "ASSAULT_BATTERY": ("Assault & Battery", "PERSON"),
    "KIDNAP": ("Kidnap", "PERSON"),
    "MURDER_MANSLAUGHTER": ("Murder/Manslaughter", "PERSON"),
    "OTHER_PERSON": ("Other Person", "PERSON"),
    "ROBBERY": ("Robbery", "PERSON"),
    "SEX": ("Sex", "PERSON"),
    "ARSON_BURN": ("Arson/Burn", "PROPERTY"),
    "BNE_BURGLARY": ("B&E / Burglary", "PROPERTY"),
    "FORGERY": ("Forgery", "PROPERTY"),
    "FRAUD": ("Fraud", "PROPERTY"),
    "LARCENY": ("Larceny", "PROPERTY"),
    "MOTOR_VEHICLE_PROPERTY": ("Motor Vehicle", "PROPERTY"),
    "OTHER_PROPERTY": ("Other Property", "PROPERTY"),
    "SHOPLIFTING": ("Shoplifting", "PROPERTY"),
    "TRESPASSING": ("Trespassing", "PROPERTY"),
    "DISTRIBUTE_CLASS_A": ("Distribute Class A", "DRUG"),
    "DISTRIBUTE_CLASS_B": ("Distribute Class B", "DRUG"),
    "DISTRIBUTE_CLASS_C": ("Distribute Class C", "DRUG"),
    "DISTRIBUTE_CLASS_D": ("Distribute Class D", "DRUG"),
    "DISTRIBUTE_CLASS_E": ("Distribute Class E", "DRUG"),
    "DISTRIBUTE_SCHOOL_ZONE": ("Distribute School Zone", "DRUG"),
    "OTHER_DRUG": ("Other Drug", "DRUG"),
    "POSSESS_CLASS_A": ("Possess Class A", "DRUG"),
    "POSSESS_CLASS_B": ("Possess Class B", "DRUG"),
    "POSSESS_CLASS_C": ("Possess Class C", "DRUG"),
    "POSSESS_CLASS_D": ("Possess Class D", "DRUG"),
    "POSSESS_CLASS_E": ("Possess Class E", "DRUG"),
    "POSSESS_MARIJUANA": ("Possess Marijuana", "DRUG"),
    "TRAFFICK_CLASS_B_COCAINE": ("Traffick Class B/Cocaine", "DRUG"),
    "TRAFFICK_HEROIN": ("Traffick Heroin", "DRUG"),
    "TRAFFICK_MARIHUANA": ("Traffick Marihuana", "DRUG"),
    "MOTOR_VEHICLE_OTHER": ("Motor Vehicle Other", "MOTOR_VEHICLE"),
    "MV_HOMICIDE": ("MV Homicide", "MOTOR_VEHICLE"),
    "MV_OUI": ("MV OUI", "MOTOR_VEHICLE"),
    "DANGEROUS_WEAPON": ("Dangerous Weapon", "WEAPONS"),
    "FIREARM": ("Firearm", "WEAPONS"),
    "OTHER_WEAPON": ("Other Weapon", "WEAPONS"),
    "PUBLIC_ORDER": ("Public Order", "PUBLIC_ORDER"),
    "LICENSE_VIOLATION": ("License Violation", "OTHER"),
    "OTHER": ("Other", "OTHER"),
    "RESTRAINING_ORDER_VIOLATE": ("Restraining Order, Violate", "OTHER"),
    "NOT_APPLICABLE": ("Not applicable", "NOT_APPLICABLE"),
}
# R12: a statute missing from the reference table takes its chapter's type and that type's "Other".
OTHER_SUBTYPE_OF_TYPE = {
    "PERSON": "OTHER_PERSON",
    "PROPERTY": "OTHER_PROPERTY",
    "DRUG": "OTHER_DRUG",
    "MOTOR_VEHICLE": "MOTOR_VEHICLE_OTHER",
    "WEAPONS": "OTHER_WEAPON",
    "PUBLIC_ORDER": "PUBLIC_ORDER",
    "OTHER": "OTHER",
}
CHAPTER_TYPES = {"265": "PERSON", "266": "PROPERTY", "94C": "DRUG", "90": "MOTOR_VEHICLE",
                 "269": "WEAPONS", "272": "PUBLIC_ORDER"}
PSI_AREAS = {  # R8
    "BEH": "Behavioral Health / Mental Health / Substance Use",
    "EDU": "Educational and Vocational",
    "SUP": "Support / Mentorship",
    "WORK": "Work Assignment",
    "REINV": "Community Reinvestment",
    "RELIG": "Religious / Spiritual",
}

# --- source codes of the raw extracts (spec/extracts.md) and the fact code each becomes ---------
# loaders/mappings.py generates the SQL of every mapping below from these tables, and validation
# takes its allowed source codes from their keys (in this order, which error messages list).
SOURCE_AGENCIES = {  # R5: Barnstable + Dukes -> Cape and Islands, Franklin + Hampshire -> Northwestern
    "DOC": "DOC", "BAR": "CAI", "BER": "BER", "BRI": "BRI", "DUK": "CAI", "ESS": "ESS", "FRA": "NWT",
    "HMD": "HMD", "HMP": "NWT", "MID": "MID", "NOR": "NOR", "PLY": "PLY", "SUF": "SUF", "WOR": "WOR",
    "NAN": "CAI",  # R5: Nantucket holds no one (its people are in Barnstable's custody); a NAN row is rejected
}
SOURCE_RACES = {  # R4: "Hispanic" as a race (H), Other and Unknown -> Other / Unknown; empty -> OU too
    "AI": "AI", "AS": "API", "PI": "API", "B": "B", "W": "W", "H": "OU", "O": "OU", "U": "OU",
}
RACE_DEFAULT = "OU"
SOURCE_ETHNICITIES = {"H": "H", "N": "N", "U": "U"}  # R4: empty -> Unavailable
ETHNICITY_DEFAULT = "U"
GENDER_DEFAULT = "UNKNOWN"  # an empty gender identity (the extract carries labels: GENDER_IDENTITIES' values)
SOURCE_SECURITY_LEVELS = ("MAXIMUM", "MEDIUM", "MINIMUM", "PRE_RELEASE")  # DOC only; empty -> UNKNOWN
CUSTODY_STATUSES = ("PRETRIAL", "SENTENCED", "CIVIL", "SAFE_KEEP", "FEDERAL", "COMPACT_IN", "COMPACT_OUT")
# R2: placements of these statuses are counted; the others are excluded under their own name
COUNTED_STATUSES = tuple(OFFENDER_STATUSES)

# --- the release cohort (docs/recidivism.md, RC1-RC12) ------------------------------------------
STAY_BANDS = {  # RC9: length of the released placement, both ends counted (as R6)
    "0-30": "30 days or less",
    "31-90": "31 to 90 days",
    "91-180": "91 to 180 days",
    "181-365": "181 days to 1 year",
    "1-2Y": "More than 1 year, up to 2",
    "2-5Y": "More than 2 years, up to 5",
    "5Y+": "More than 5 years",
}
YES_NO = {"Y": "Yes", "N": "No"}

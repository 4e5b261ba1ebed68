"""The published fact tables' columns and sort keys: what loaders/ writes and cube/ reads.

Column name -> ClickHouse type. This is the one description of the published schema: the loader
builds and checks every version's tables from it, and the semantic layer checks every model
member's columns against it (cube/factcheck.py). It lives at the bottom layer because both of
them need it and neither may import the other (tests/test_layers.py); the code lists the
columns take stay in ``loaders/schema.py``. No column holds a person id, name, birth date,
docket number or exact date: ``person_key`` is an HMAC of the person id and is only ever counted.
"""

from __future__ import annotations

# Column name -> ClickHouse type. One row per person per snapshot (R1, R2).
CUSTODY_FACTS: dict[str, str] = {
    "snapshot_year": "UInt16",             # R1: the snapshot is January 1 of this year
    "person_key": "UInt64",                # HMAC(secret, person_id); counted, never returned
    "record_key": "UInt32",                # per-person random key: the cell key of people counts (P4)
    "row_key": "UInt32",                   # this record's own key: the cell key of record counts (K7)
    "enrollment_key": "UInt32",            # sum of this record's enrollments' own keys (K7, R8)
    "agency": "LowCardinality(String)",    # AGENCIES
    "facility_type": "LowCardinality(String)",
    "security_level": "LowCardinality(String)",
    "offender_status": "LowCardinality(String)",
    "age_group": "LowCardinality(String)",
    "assigned_sex": "LowCardinality(String)",
    "gender_identity": "LowCardinality(String)",
    "race": "LowCardinality(String)",
    "ethnicity": "LowCardinality(String)",
    "incarceration_days": "UInt32",        # R6
    "enrollments_total": "UInt16",         # R8
    "enrollments_beh": "UInt16",
    "enrollments_edu": "UInt16",
    "enrollments_sup": "UInt16",
    "enrollments_work": "UInt16",
    "enrollments_reinv": "UInt16",
    "enrollments_relig": "UInt16",
    "governing_offense_type": "LowCardinality(String)",     # R9, sentenced only
    "governing_offense_subtype": "LowCardinality(String)",
    "governing_offense_severity": "LowCardinality(String)",
    "leading_charge_type": "LowCardinality(String)",        # R10, pretrial only
    "leading_charge_subtype": "LowCardinality(String)",
    "leading_charge_severity": "LowCardinality(String)",
}
CUSTODY_ORDER_BY = ("snapshot_year", "agency", "offender_status", "person_key")

# One row per charge of a sentenced person in custody on a snapshot (the FAQ's
# charges-and-convictions view; R2 excludes pretrial people from it).
CHARGE_FACTS: dict[str, str] = {
    "snapshot_year": "UInt16",
    "person_key": "UInt64",
    "record_key": "UInt32",
    "row_key": "UInt32",                      # this charge record's own key (K7)
    "agency": "LowCardinality(String)",
    "facility_type": "LowCardinality(String)",
    "age_group": "LowCardinality(String)",
    "assigned_sex": "LowCardinality(String)",
    "gender_identity": "LowCardinality(String)",
    "race": "LowCardinality(String)",
    "ethnicity": "LowCardinality(String)",
    "offense_type": "LowCardinality(String)",
    "offense_subtype": "LowCardinality(String)",
    "severity": "LowCardinality(String)",     # F / M
    "disposition": "LowCardinality(String)",  # DISPOSITIONS
    "convicted": "UInt8",                     # 1 when disposition = CONVICTED
}
CHARGE_ORDER_BY = ("snapshot_year", "offense_type", "person_key")

FACT_TABLES = {"custody_facts": (CUSTODY_FACTS, CUSTODY_ORDER_BY),
               "charge_facts": (CHARGE_FACTS, CHARGE_ORDER_BY)}

RECIDIVISM_EVENTS = ("reincarcerated", "rearraigned", "reconvicted")  # RC4, RC5, RC6
RECIDIVISM_WINDOWS = (1, 2, 3)  # RC7: years from the release date

# One row per release to the community (RC1: a person released twice in a year is in that cohort
# twice). Day counts and flags only: no date, no identifier but the keyed hashes (P3).
RELEASE_FACTS: dict[str, str] = {
    "release_year": "UInt16",              # RC1: the cohort (calendar year of the release)
    "person_key": "UInt64",                # HMAC(secret, person_id); counted, never returned
    "record_key": "UInt32",                # per-person key: the cell key of people counts (P4)
    "row_key": "UInt32",                   # this release's own key: the cell key of release counts (K7)
    "agency": "LowCardinality(String)",    # AGENCIES (R5), the releasing agency
    "facility_type": "LowCardinality(String)",
    "security_level": "LowCardinality(String)",
    "age_group": "LowCardinality(String)",  # R3 bands of the age on the release date (RC3)
    "assigned_sex": "LowCardinality(String)",
    "gender_identity": "LowCardinality(String)",
    "race": "LowCardinality(String)",
    "ethnicity": "LowCardinality(String)",
    "governing_offense_type": "LowCardinality(String)",     # R9, R12 of the released placement (RC10)
    "governing_offense_severity": "LowCardinality(String)",  # R11
    "stay_band": "LowCardinality(String)",  # STAY_BANDS (RC9)
    "stay_days": "UInt32",                  # RC9: admission of the released placement to release, both ends
    "program_any": "LowCardinality(String)",  # RC11: any enrollment during the stay, Y/N
    "program_beh": "LowCardinality(String)",
    "program_edu": "LowCardinality(String)",
    "program_sup": "LowCardinality(String)",
    "program_work": "LowCardinality(String)",
    "program_reinv": "LowCardinality(String)",
    "program_relig": "LowCardinality(String)",
    # RC8: 1 when the cohort's n-year window has fully passed by the data's last date; the event
    # flags below are NULL where it has not (censored), and for court events when the extract had
    # no court_charges (unavailable, never 0)
    "followed_1y": "UInt8",
    "followed_2y": "UInt8",
    "followed_3y": "UInt8",
    "court_data": "UInt8",                  # 1 when the extract delivered court_charges (RC5, RC6)
    "days_to_reincarceration": "Nullable(UInt32)",  # RC4/RC7: both ends counted; NULL: none observed
    "days_to_rearraignment": "Nullable(UInt32)",
    "days_to_reconviction": "Nullable(UInt32)",
    **{f"{e}_{n}y": "Nullable(UInt8)" for e in RECIDIVISM_EVENTS for n in RECIDIVISM_WINDOWS},
}
RELEASE_ORDER_BY = ("release_year", "agency", "person_key")

FACT_TABLES["release_facts"] = (RELEASE_FACTS, RELEASE_ORDER_BY)

-- charge_facts: one row per charge of a counted placement, columns in the order of
-- schema.CHARGE_FACTS. R2: the charges-and-convictions view holds sentenced people only.
-- K7: each charge record carries its own key (person keys, snapshot, docket and charge number).
SELECT c.snapshot_year AS snapshot_year, c.person_key AS person_key, c.record_key AS record_key,
       toUInt32(sipHash64(c.person_key, c.record_key, c.snapshot_year, ch.docket, ch.charge_no) % 4294967296) AS row_key,
       c.agency AS agency, c.facility_type AS facility_type, c.age_group AS age_group,
       c.assigned_sex AS assigned_sex, c.gender_identity AS gender_identity, c.race AS race,
       c.ethnicity AS ethnicity, ch.otype AS offense_type, ch.osub AS offense_subtype,
       ch.severity AS severity, ch.disposition AS disposition,
       toUInt8(ch.disposition = 'CONVICTED') AS convicted
FROM stage.ch AS ch
INNER JOIN (SELECT * FROM stage.cust WHERE excluded = '' AND offender_status = 'SENTENCED') AS c ON c.eid = ch.eid

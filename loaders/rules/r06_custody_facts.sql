-- custody_facts: one row per counted person per snapshot (R1, R2), columns in the order of
-- schema.CUSTODY_FACTS (loaders/facts.py checks it). K7: each record carries its own fixed key
-- (a hash of the person's secret-keyed hashes and the record's identity), so record counts are
-- perturbed from the records they count and the same extract gets the same keys (K3).
-- R6: days from the placement's admission to S, both ends counted (admitted Dec 30, S = Jan 1 -> 3).
-- R9 applies to sentenced people with a governing charge, R10 to pretrial people with a charge;
-- everyone else shows NOT_APPLICABLE.
SELECT c.snapshot_year AS snapshot_year, c.person_key AS person_key, c.record_key AS record_key,
       toUInt32(sipHash64(c.person_key, c.record_key, c.snapshot_year) % 4294967296) AS row_key,
       toUInt32(n.ekey) AS enrollment_key,
       c.agency AS agency, c.facility_type AS facility_type, c.security_level AS security_level,
       c.offender_status AS offender_status, c.age_group AS age_group, c.assigned_sex AS assigned_sex,
       c.gender_identity AS gender_identity, c.race AS race, c.ethnicity AS ethnicity,
       toUInt32(dateDiff('day', c.adm, c.snap) + 1) AS incarceration_days,
       toUInt16(n.total) AS enrollments_total,
       toUInt16(n.beh) AS enrollments_beh, toUInt16(n.edu) AS enrollments_edu, toUInt16(n.sup) AS enrollments_sup,
       toUInt16(n.work) AS enrollments_work, toUInt16(n.reinv) AS enrollments_reinv,
       toUInt16(n.relig) AS enrollments_relig,
       if(c.offender_status = 'SENTENCED' AND g.n_gov > 0, tupleElement(g.gov, 1), 'NOT_APPLICABLE') AS governing_offense_type,
       if(c.offender_status = 'SENTENCED' AND g.n_gov > 0, tupleElement(g.gov, 2), 'NOT_APPLICABLE') AS governing_offense_subtype,
       if(c.offender_status = 'SENTENCED' AND g.n_gov > 0, tupleElement(g.gov, 3), 'NOT_APPLICABLE') AS governing_offense_severity,
       if(c.offender_status = 'PRETRIAL' AND g.n_all > 0, tupleElement(g.lead, 1), 'NOT_APPLICABLE') AS leading_charge_type,
       if(c.offender_status = 'PRETRIAL' AND g.n_all > 0, tupleElement(g.lead, 2), 'NOT_APPLICABLE') AS leading_charge_subtype,
       if(c.offender_status = 'PRETRIAL' AND g.n_all > 0, tupleElement(g.lead, 3), 'NOT_APPLICABLE') AS leading_charge_severity
FROM (SELECT * FROM stage.cust WHERE excluded = '') AS c
LEFT JOIN stage.enr AS n ON n.snapshot_year = c.snapshot_year AND n.pid = c.pid
LEFT JOIN stage.gl AS g ON g.eid = c.eid

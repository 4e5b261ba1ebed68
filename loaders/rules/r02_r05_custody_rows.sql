-- R2-R5: every placement chosen by R1 with the person's demographics and the reason it is not
-- counted (excluded = '' when it is). Codes are LowCardinality already, as the facts store them.
-- R3: the age in whole years on S; S is January 1, so a birthday on January 1 has happened.
-- R2: civil, safe keep, federal and compact (either direction) placements and juveniles (under
-- 18 on S) are not counted. R4 (race, ethnicity) and R5 (agency) were mapped in the typed
-- staging tables (loaders/validate.py, from loaders/schema.py).
SELECT toUInt16(toYear(x.snap)) AS snapshot_year, x.snap AS snap,
       k.person_key AS person_key, k.record_key AS record_key, x.pid AS pid, x.eid AS eid,
       toLowCardinality(e.agency5) AS agency, toLowCardinality(e.facility_type) AS facility_type,
       toLowCardinality(e.security) AS security_level, toLowCardinality(e.status) AS offender_status,
       e.adm AS adm, toLowCardinality(p.sex) AS assigned_sex, toLowCardinality(p.gi) AS gender_identity,
       toLowCardinality(p.race5) AS race, toLowCardinality(p.eth3) AS ethnicity,
       toInt32(toYear(x.snap)) - toInt32(toYear(p.dob))
           - if(toMonth(p.dob) = 1 AND toDayOfMonth(p.dob) = 1, 0, 1) AS age,
       toLowCardinality(age_group(age)) AS age_group,
       multiIf(NOT has(codes('COUNTED_STATUSES'), e.status), e.status, age < 18, 'JUVENILE', '') AS excluded
FROM stage.sel AS x
INNER JOIN stage.t_episodes AS e ON e.eid = x.eid
INNER JOIN stage.t_people AS p ON p.pid = x.pid
INNER JOIN stage.keys AS k ON k.pid = x.pid

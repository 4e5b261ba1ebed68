-- R5: the typed custody placements of the rows that passed validation. Agencies: the DOC and
-- each Sheriff's Office, Barnstable + Dukes = Cape and Islands, Franklin + Hampshire =
-- Northwestern (agency_group, generated from loaders/schema.py). Only DOC placements have a
-- security level (UNKNOWN when the extract leaves it empty). eid / pid are the collision-free
-- hashes of the ids that the staging tables join on (loaders.validate.id_hash).
SELECT episode_hash(episode_id) AS eid, person_hash(person_id) AS pid, episode_id, person_id, source_system,
       toLowCardinality(agency_group(agency)) AS agency5, toLowCardinality(facility_type) AS facility_type,
       toLowCardinality(multiIf(agency != 'DOC', 'NOT_APPLICABLE', security_level = '', 'UNKNOWN', security_level))
           AS security,
       toLowCardinality(custody_status) AS status, admission_type, toDate32(admission_date) AS adm,
       if(release_date = '', NULL, toDate32(release_date)) AS rel
FROM stage.raw_custody_episodes
WHERE _row NOT IN (SELECT `row` FROM stage.rejects WHERE `table` = 'custody_episodes')

-- R4: the typed people of the rows that passed validation. Race has five values (a source race
-- of "Hispanic", Other, Unknown or empty becomes Other / Unknown), ethnicity three (empty is
-- Unavailable); the extract's gender identity labels become codes. The mappings are generated
-- from loaders/schema.py (loaders/mappings.py). pid is the collision-free hash of person_id that
-- the staging tables join on (loaders.validate.id_hash).
SELECT person_hash(person_id) AS pid, person_id, toDate32(date_of_birth) AS dob,
       toLowCardinality(assigned_sex) AS sex, toLowCardinality(gender_code(gender_identity)) AS gi,
       toLowCardinality(race_group(race)) AS race5, toLowCardinality(ethnicity_group(ethnicity)) AS eth3
FROM stage.raw_people
WHERE _row NOT IN (SELECT `row` FROM stage.rejects WHERE `table` = 'people')

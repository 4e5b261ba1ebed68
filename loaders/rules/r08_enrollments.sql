-- R8: per counted person and snapshot, every program enrollment that started between the
-- placement's admission and S (current or completed): the total, and one count per PSI area
-- (loaders/facts.py adds a countIf column for each area of schema.PSI_AREAS). K7: ekey sums the
-- enrollments' own keys, so a count of enrollments is perturbed from the records it counts.
SELECT c.snapshot_year AS snapshot_year, c.pid AS pid, count() AS total,
       toUInt32(sum(sipHash64(c.person_key, c.record_key, pr.program, pr.psi, pr.start) % 4294967296)
                % 4294967296) AS ekey
FROM (SELECT * FROM stage.cust WHERE excluded = '') AS c
INNER JOIN stage.t_programs AS pr ON pr.pid = c.pid
WHERE pr.start >= c.adm AND pr.start <= c.snap
GROUP BY snapshot_year, pid

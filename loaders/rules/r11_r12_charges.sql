-- R11, R12: the charges of counted placements with their severity (as graded on the charge: a
-- felony when a state prison sentence could be imposed) and their statute's offense type and
-- sub-type (r12_statute_types).
SELECT c.eid AS eid, c.docket AS docket, c.filing AS filing, c.charge_no AS charge_no,
       toLowCardinality(c.severity) AS severity, toLowCardinality(c.disposition) AS disposition,
       c.sentence AS sentence, c.governing AS governing,
       toLowCardinality(st.otype) AS otype, toLowCardinality(st.osub) AS osub, st.tc AS tc,
       c.statute AS statute, st.known AS known
FROM (SELECT * FROM stage.t_charges WHERE eid IN (SELECT eid FROM stage.cust WHERE excluded = '')) AS c
INNER JOIN stage.statute_types AS st ON st.statute = c.statute

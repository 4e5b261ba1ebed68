-- R9 governing offense and R10 leading charge, once per placement (they depend only on its
-- charges). Dockets are ordered by earliest filing date then lowest docket number, charges by
-- lowest charge number; (episode, docket, charge number) is unique, so the smallest
-- charge_key(first, filing, docket, charge_no, tc, felony) is the one charge a rule picks, and
-- charge_key_tc and charge_key_felony read its statute's row in statute_types and whether it
-- is a felony (loaders/charge_order.py: a String key, as min over tuples is slow on chDB).
-- R9: the DOC system's (IMS) flag first; else the first charge sentenced to incarceration.
-- R10: the first felony; if none, the first misdemeanour.
SELECT a.eid AS eid, a.n_all AS n_all, a.n_gov AS n_gov,
       tuple(gt.otype, gt.osub, if(charge_key_felony(a.g) = 1, 'F', 'M')) AS gov,
       tuple(lt.otype, lt.osub, if(charge_key_felony(a.l) = 1, 'F', 'M')) AS lead
FROM (
    SELECT eid, count() AS n_all, countIf(governing = 'Y' OR sentence = 'INCARCERATION') AS n_gov,
           minIf(charge_key(governing != 'Y', filing, docket, charge_no, tc, severity = 'F'),
                 governing = 'Y' OR sentence = 'INCARCERATION') AS g,
           min(charge_key(severity != 'F', filing, docket, charge_no, tc, severity = 'F')) AS l
    FROM stage.ch
    GROUP BY eid
) AS a
LEFT JOIN stage.statute_types AS gt ON gt.tc = charge_key_tc(a.g)
LEFT JOIN stage.statute_types AS lt ON lt.tc = charge_key_tc(a.l)

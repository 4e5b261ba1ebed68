-- R1 (and R6's choice of placement): one row per snapshot S and person in custody on S, naming
-- the one placement that counts. In custody on S: admitted on or before S and not released
-- before S (released on S itself counts). Among such placements the latest admission counts; on
-- the same admission day a TRANSFER / STATUS_CHANGE / PAROLE_VIOLATION placement wins over a NEW
-- one (it replaced it), then the later release (open placements last), then the higher episode
-- id. So a transfer counts the newest facility, a sentence does not count the pretrial stay
-- before it (no jail credit) and a parole violator counts from the violation admission (FAQ).
SELECT snap, pid,
       argMax(eid, tuple(adm, rank, ifNull(rel, toDate32('2299-12-31')), episode_id)) AS eid
FROM (
    SELECT eid, pid, episode_id, adm, rel, toUInt8(admission_type != 'NEW') AS rank,
           arrayJoin(arrayFilter(x -> adm <= x AND ifNull(rel >= x, 1), snapshot_dates())) AS snap
    FROM stage.t_episodes
)
GROUP BY snap, pid

-- R12: the offense type and sub-type of every distinct statute cited, most specific entry of
-- the reference table (stage.statutes, loaders/reference/statutes.csv) first: as written (x),
-- its section with the subsection stripped (p, loaders.statutes.SECTION_PATTERN), its chapter's
-- wildcard (w); a statute in none of them takes its chapter's type (the FAQ's chapter table) and
-- that type's "Other" sub-type, and is reported by the loader (known = 0). tc numbers the rows so
-- R9/R10 can carry a charge's types as one integer.
SELECT c.statute AS statute, toUInt32(rowNumberInAllBlocks()) AS tc,
       multiIf(x.otype != '', x.otype, p.otype != '', p.otype, w.otype != '', w.otype,
               chapter_type(c.chapter)) AS otype,
       multiIf(x.osub != '', x.osub, p.osub != '', p.osub, w.osub != '', w.osub,
               other_subtype(otype)) AS osub,
       x.otype != '' OR p.otype != '' OR w.otype != '' AS known
FROM (
    SELECT statute, splitByChar('/', statute)[1] AS chapter, concat(chapter, '/*') AS wildcard,
           extract(statute, section_pattern()) AS section
    FROM (SELECT DISTINCT statute FROM stage.t_charges)
) AS c
LEFT JOIN stage.statutes AS x ON x.statute = c.statute
LEFT JOIN stage.statutes AS p ON p.statute = c.section
LEFT JOIN stage.statutes AS w ON w.statute = c.wildcard

"""K3 canonical URLs: any spelling of one question yields the same canonical URL, the same
bytes and the same ETag, and the canonical URL is a fixpoint (property test over HTTP)."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

DIMS = ["snapshot_year", "agency", "offender_status", "age_group", "race", "ethnicity"]
CODES = {"race": ["AI", "API", "B", "OU", "W"], "age_group": ["18-24", "25-29", "30-39", "40-49", "50-59", "60+"],
         "agency": ["DOC", "BRI", "ESS", "MID", "SUF"], "snapshot_year": ["2018", "2020", "2024"]}


@st.composite
def question_and_two_spellings(draw):
    dims = draw(st.lists(st.sampled_from(DIMS), max_size=3, unique=True))
    filters = {d: draw(st.lists(st.sampled_from(CODES[d]), min_size=1, max_size=3, unique=True))
               for d in draw(st.lists(st.sampled_from(sorted(CODES)), max_size=2, unique=True))}

    def spell() -> list[tuple[str, str]]:
        items: list[tuple[str, str]] = []
        ds = draw(st.permutations(dims))
        if ds or draw(st.booleans()):
            if draw(st.booleans()):
                items += [("dimensions", d) for d in ds]  # repeated
            else:
                items.append(("dimensions", ",".join(ds)))
        if draw(st.booleans()):
            items.append(("measures", "people"))  # the default, explicit
        for d, codes in filters.items():
            codes = list(draw(st.permutations(codes)))
            if draw(st.booleans()):
                codes.append(codes[0])  # a duplicate
            codes = [c.lower() if draw(st.booleans()) else c for c in codes]
            if draw(st.booleans()):
                items += [(d, c) for c in codes]
            else:
                items.append((d, ",".join(codes)))
        for key, default in (("limit", "1000"), ("offset", "0"), ("format", "json")):
            if draw(st.booleans()):
                items.append((key, default))
        return list(draw(st.permutations(items)))

    return spell(), spell()


def _url(items: list[tuple[str, str]]) -> str:
    return "/api/v1/population?" + "&".join(f"{quote(k)}={quote(v, safe=',')}" for k, v in items)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pair=question_and_two_spellings())
def test_k3_same_question_same_url_bytes_etag(api_live, pair):
    """K3: parameter order, repeated vs comma-separated, duplicates, code case, explicit defaults."""
    a, b = (api_live.get(_url(s)) for s in pair)
    assert a.status_code == 200, a.text
    assert b.status_code == 200, b.text
    assert a.content == b.content
    assert a.headers["etag"] == b.headers["etag"]
    canonical = a.json()["meta"]["canonical_url"]
    c = api_live.get(canonical)
    assert c.content == a.content and c.json()["meta"]["canonical_url"] == canonical


def test_k3_repetition_identical(api_live):
    """K3/attack 4: asking again never refines an answer."""
    url = "/api/v1/incarceration_time?dimensions=agency,race&measures=mean_days,median_days&snapshot_year=2021"
    first = api_live.get(url).content
    assert all(api_live.get(url).content == first for _ in range(10))


def test_canonical_url_sorted_and_explicit(api_live):
    meta = api_live.get("/api/v1/population?race=W&dimensions=race,agency").json()["meta"]
    assert meta["canonical_url"] == ("/api/v1/population?dimensions=agency,race&format=json&limit=1000"
                                     "&measures=people&offset=0&order=agency,race&race=W")
    plus = api_live.get("/api/v1/population?age_group=60%2B").json()["meta"]["canonical_url"]
    assert "age_group=60%2B" in plus
    typed = api_live.get("/api/v1/population?age_group=60+").json()["meta"]["canonical_url"]  # '+' became a space
    assert typed == plus

"""K9, P2: an internal analyst edits a model file (nothing in Python) and cannot weaken disclosure
control. The two edits found from outside: a ``max`` published as a count, and a second
people-kind measure published below k."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crosstrack.cube import load_model

MODELS = Path(__file__).resolve().parents[1] / "models"

LONGEST_STAY = """  - name: longest_stay
    type: max
    sql: '{CUBE}.incarceration_days'
    title: Longest stay
    description: The longest stay in the cell.
    meta:
      disclosure:
        kind: count
        governed_by: people
"""

IN_PROGRAMS = """  - name: people_in_programs
    type: count_distinct
    sql: '{CUBE}.person_key'
    filters:
    - sql: '{CUBE}.enrollments_total > 0'
    title: People in programs
    description: Distinct people with at least one program enrollment.
    meta:
      disclosure:
        kind: people
        governed_by: record_count
"""


def _edited(tmp: Path, measure: str, view_member: str, after: str) -> Path:
    out = tmp / "models"
    shutil.copytree(MODELS, out)
    custody = (out / "custody.yml").read_text()
    anchor = "  - name: cell_key\n"
    assert anchor in custody
    (out / "custody.yml").write_text(custody.replace(anchor, measure + anchor, 1))
    views = (out / "views.yml").read_text()
    assert after in views
    (out / "views.yml").write_text(views.replace(after, after + f"    - {view_member}\n", 1))
    return out


def _validate(models: Path) -> str:
    """``crosstrack model validate`` on ``models``, which must fail: its output."""
    run = subprocess.run([str(Path(sys.executable).parent / "crosstrack"), "model", "validate", str(models)],
                         capture_output=True, text=True)
    assert run.returncode != 0, run.stdout + run.stderr
    return run.stdout + run.stderr


def test_K9_a_max_as_a_count_is_refused_at_file_line(tmp_path):
    models = _edited(tmp_path, LONGEST_STAY, "longest_stay", "    - mean_days\n")
    line = 1 + (models / "custody.yml").read_text().splitlines().index("  - name: longest_stay")
    out = _validate(models)
    assert "error[model.disclosure_kind_mismatch]" in out and "measures[longest_stay].meta" in out, out
    assert f"custody.yml:{line + 5}:" in out, out  # the measure's meta
    assert "one person's value" in out and "P2" in out, out


def test_K9_a_second_people_measure_obeys_k_on_its_own_value(tmp_path, api_live):
    """3 of 6 people "in programs" is never published: the row is withheld whenever any people
    count it shows is in 1..k-1."""
    from crosstrack.api.cache import ResultCache
    from crosstrack.api.compose import build_service

    models = _edited(tmp_path, IN_PROGRAMS, "people_in_programs", "    - record_count\n")
    service = build_service(api_live.settings, engine=api_live.service.engine, model=load_model(models),
                            cache=ResultCache(0))
    params = [("dimensions", "agency,race,age_group"), ("snapshot_year", "2020"),
              ("measures", "record_count,people_in_programs"), ("limit", "10000")]
    published = service.answer("programs", params)
    ds = service.dataset("programs")
    version = service.version()
    res = service.query_engine.load(
        {"dimensions": [ds.dimensions[d].member for d in ("agency", "race", "age_group")],
         "measures": ["programs.people_in_programs", "programs.record_count"],
         "filters": [{"member": ds.dimensions["snapshot_year"].member, "operator": "equals", "values": ["2020"]}]},
        database=version.database, internal=True)
    small = {(r["programs.agency"], r["programs.race"], r["programs.age_group"]) for r in res.data
             if 0 < r["programs.people_in_programs"] < 5 and r["programs.record_count"] >= 5}
    assert len(small) >= 5, "the data must have cells the old rule published below k"
    seen = 0
    for row in published.rows:
        if (row["agency"], row["race"], row["age_group"]) in small:
            seen += 1
            assert row["suppressed"] and row["people_in_programs"] is None and row["record_count"] is None
        elif not row["suppressed"]:
            assert row["people_in_programs"] == 0 or row["people_in_programs"] >= 5
    assert seen == len(small)


@pytest.mark.parametrize("edit", ["type: min", "type: count_distinct_approx", "type: sum"])
def test_K9_every_kind_mismatch_is_an_error_not_a_warning(tmp_path, edit):
    """A mean measure retyped as a min, an approximate count or a sum is refused outright."""
    out = tmp_path / "models"
    shutil.copytree(MODELS, out)
    text = (out / "custody.yml").read_text()
    block = "  - name: mean_days\n    type: avg\n"
    assert block in text
    (out / "custody.yml").write_text(text.replace(block, f"  - name: mean_days\n    {edit}\n", 1))
    from crosstrack.cube.loader import collect

    _, diags = collect(out)
    assert any(d.code == "model.disclosure_kind_mismatch" and "mean_days" in d.path for d in diags), [str(d) for d in diags]


def _with_stream(tmp: Path, areas: tuple[str, ...], stream: str) -> Path:
    """The models with ``stream`` declared on the enrollments measures of ``areas``."""
    out = tmp / "models"
    shutil.copytree(MODELS, out)
    custody = (out / "custody.yml").read_text()
    anchor = "        key: enrollments_key\n"
    for area in areas:
        at = custody.index(anchor, custody.index(f"    sql: '{{CUBE}}.enrollments_{area}'\n")) + len(anchor)
        custody = custody[:at] + f"        stream: {stream}\n" + custody[at:]
    (out / "custody.yml").write_text(custody)
    return out


def test_K4_a_noise_stream_over_one_shared_key_is_refused_at_file_line(tmp_path):
    """meta.disclosure.stream gives counts of the same records the same noise; two counts keyed by
    one key (every PSI area's enrollments are keyed by all enrollments) would instead share one
    draw for different counts, so that their difference cancels the noise: refused at the line."""
    out = _with_stream(tmp_path, ("beh", "edu"), "enrollments")
    lines = (out / "custody.yml").read_text().splitlines()
    meta = lines.index("    meta:", lines.index("  - name: enrollments_edu")) + 1
    text = _validate(out)
    assert "error[model.bad_disclosure]" in text and "measures[enrollments_edu].meta" in text, text
    assert "stream 'enrollments': key 'enrollments_key' is also enrollments_beh's" in text, text
    assert f"custody.yml:{meta}:" in text, text  # the measure's meta


def test_K4_a_stream_key_summing_what_another_sums_is_refused(tmp_path):
    """Two differently named keys that compute the same sum (convictions_key without its CONVICTED
    filter is charges_key) would give charges and convictions one draw for different counts."""
    out = tmp_path / "models"
    shutil.copytree(MODELS, out)
    charges = (out / "charges.yml").read_text()
    keyed = "  - name: convictions_key\n    type: sum\n    sql: '{CUBE}.row_key'\n"
    assert keyed + "    filters:\n    - sql: '{CUBE}.convicted = 1'\n" in charges
    (out / "charges.yml").write_text(charges.replace(keyed + "    filters:\n    - sql: '{CUBE}.convicted = 1'\n",
                                                     keyed, 1))
    text = _validate(out)
    assert "measures[convictions].meta" in text and "key 'convictions_key' sums the same as charges's key" in text, text


def test_K4_a_stream_named_after_another_measure_is_refused(tmp_path):
    """Streams and measures share one label space: a stream called enrollments_edu on
    enrollments_beh would draw enrollments_edu's noise from the same enrollments key."""
    text = _validate(_with_stream(tmp_path, ("beh",), "enrollments_edu"))
    assert "measures[enrollments_beh].meta" in text, text
    assert "stream 'enrollments_edu' is the name of measure 'enrollments_edu', which is not in the stream" in text, text

"""Helpers for the browser tests of the web page (tests/test_web_*.py): wait for the page to
show the API's answer, read its table, compare it with the API's rows."""

from __future__ import annotations

from typing import Any


def settle(page: Any) -> str:
    """Wait until the URL shown at the top is the API's answer for the current choices."""
    page.wait_for_selector('#api-url[data-state="canonical"]')
    page.wait_for_function("() => !document.getElementById('results').hasAttribute('aria-busy')")
    return page.inner_text("#api-url").strip()


def choose_dataset(page: Any, name: str) -> str:
    """Pick a dataset and wait until the URL shown is an answer *for it*, not only an answer: a
    check that the page itself marks the bar pending the moment the dataset changes (before, the
    previous dataset's canonical URL stayed up while the new metadata loaded, seen on a slow
    machine; test_web_previous_datasets_answer_is_not_shown_while_the_next_loads_k2_k3)."""
    page.select_option("#dataset", name)
    page.wait_for_function(
        """p => { const a = document.getElementById('api-url');
                 return a.getAttribute('data-state') === 'canonical' && a.textContent.includes(p)
                        && !document.getElementById('results').hasAttribute('aria-busy'); }""",
        arg=f"/api/v1/{name}?")
    return page.inner_text("#api-url").strip()


def click_and_settle(page: Any, selector: str) -> str:
    page.click(selector)
    return settle(page)


def open_filter(page: Any, dim: str) -> None:
    details = page.locator(f'details.filter[data-name="{dim}"]')
    if details.get_attribute("open") is None:
        details.locator("summary").click()


def table_rows(page: Any) -> list[dict[str, list[str]]]:
    return page.eval_on_selector_all("#table tbody tr", """rows => rows.map(r => ({
        codes: Array.from(r.querySelectorAll('[data-code]')).map(c => c.getAttribute('data-code')),
        values: Array.from(r.querySelectorAll('td[data-value]')).map(c => c.getAttribute('data-value')),
        suppressed: r.getAttribute('data-suppressed')}))""")


def same_value(shown: str, published: Any) -> bool:
    if published is None:
        return shown == ""
    return shown != "" and float(shown) == float(published)


def assert_table_matches(page: Any, body: dict[str, Any]) -> None:
    """K2: every row, code and value in the page's table is the API's, in the API's order."""
    q = body["meta"]["query"]
    dims, measures = q["dimensions"], q["measures"]
    shown = table_rows(page)
    assert len(shown) == len(body["data"]) > 0
    for row, pub in zip(shown, body["data"]):
        assert row["codes"] == [str(pub[d]) for d in dims]
        assert row["suppressed"] == ("true" if pub["suppressed"] else "false")
        assert all(same_value(v, pub[m]) for v, m in zip(row["values"], measures)), (row, pub)


def settle_to(page: Any, url: str) -> str:
    """Wait until the URL shown is exactly ``url``, answered (after Back/Forward, say)."""
    page.wait_for_function(
        """u => { const a = document.getElementById('api-url');
                 return a.getAttribute('data-state') === 'canonical' && a.textContent.trim() === u
                        && !document.getElementById('results').hasAttribute('aria-busy'); }""", arg=url)
    return settle(page)

"""Injection (K6, XSS): the web page never turns text from the API into markup.

Labels and titles come from model files and API answers; the page must put them into the DOM
as text (textContent, setAttribute), never as HTML, and its CSP must forbid inline scripts so
that even a mistake could not run injected code."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "api" / "static"

# Every DOM sink that parses a string as HTML or code.
HTML_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\("
    r"|setTimeout\s*\(\s*['\"]|setInterval\s*\(\s*['\"]|createContextualFragment|DOMParser|\.srcdoc\s*="
)


def test_page_scripts_have_no_html_sinks():
    """XSS: no script served under /static uses innerHTML, document.write, eval or similar."""
    scripts = sorted(STATIC.rglob("*.js"))
    assert scripts, "the page's scripts are missing"
    for js in scripts:
        text = js.read_text(encoding="utf-8")
        hits = [m.group(0) for m in HTML_SINKS.finditer(text)]
        assert not hits, f"{js.name} uses HTML/code sinks: {hits}"
    # The modules that build DOM nodes set their text with textContent (dom.js el() and svg()).
    assert all("textContent" in js.read_text(encoding="utf-8") for js in scripts
               if "createElement" in js.read_text(encoding="utf-8")), "text goes in with textContent"


def test_page_has_no_inline_script_or_handlers():
    """XSS: index.html loads scripts from same-origin files only; no inline code or on* handlers."""
    html = (STATIC / "index.html").read_text(encoding="utf-8")
    for m in re.finditer(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S | re.I):
        assert "src=" in m.group(1) and not m.group(2).strip(), "inline <script> in index.html"
    assert not re.search(r"\son[a-z]+\s*=", html, flags=re.I), "inline event handler in index.html"


def test_page_csp_forbids_inline_scripts():
    """XSS: the page's Content-Security-Policy allows only same-origin scripts (no unsafe-inline/eval)."""
    from crosstrack.api.web import CONTENT_SECURITY_POLICY

    csp = CONTENT_SECURITY_POLICY
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src and script_src.group(1).strip() == "'self'"
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "object-src 'none'" in csp

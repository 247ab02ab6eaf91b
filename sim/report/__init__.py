"""The audit report of a study: report.html, report.md and report.pdf, from summary.json alone.

Modelled on an inspector general's audit report: a title page with highlights (why the study
was done, what it found with intervals, what alternative rules do), numbered sections of
results with captioned tables and figures, and appendices (scope and methodology, every
parameter, the calibration, the limitations, the provenance). The pipeline is:

1. :func:`context` (``sim.report.context``): the summary dict -> every number, table and
   sentence the report shows, formatted once (formats in ``sim.report.format``, the names of
   codes in ``sim.report.labels``, the paragraphs' words in ``templates/prose.j2``). Pure, so
   what the report claims is testable.
2. :func:`render_html` / :func:`render_markdown`: the context through the Jinja templates in
   ``templates/`` (HTML autoescaped; Markdown escaped cell by cell), with the figures
   (``sim.report.figures``) inlined as SVG ``data:`` URIs. Pure and deterministic: with
   ``SOURCE_DATE_EPOCH`` set, re-renders are byte-identical.
3. :func:`write_report`: the files, each written atomically, never over existing ones unless
   asked; report.pdf printed from the HTML by headless Chromium (:func:`find_chromium`) through
   Playwright, with JavaScript off and every network request refused.

report.html is one self-contained file: inline CSS and figures, system fonts, a Content Security
Policy that forbids scripts and any fetch. Everything from the summary (policy descriptions,
parameter notes) is user text and is escaped.

>>> from sim.common.summaries import read_summary                                        # doctest: +SKIP
>>> write_report(read_summary("out/august-2025", "study"), "out/august-2025", force=True)  # doctest: +SKIP
[PosixPath('out/august-2025/report.html'), PosixPath('out/august-2025/report.md'), PosixPath('out/august-2025/report.pdf')]
"""

from __future__ import annotations

import contextlib
import html as _html
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path

from sim.common.errors import MissingToolError, OutputExistsError
from sim.common.io import atomic_write_text
from sim.report.context import TITLE, context, report_date

HTML_FILE = "report.html"
MD_FILE = "report.md"
PDF_FILE = "report.pdf"
#: Programs tried, in order, on PATH when MATCHSIM_CHROMIUM is not set.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_ENV = "MATCHSIM_CHROMIUM"
_FIX = ("install Debian's chromium (apt-get install chromium), set MATCHSIM_CHROMIUM=/path/to/chrome, "
        "or pass --no-pdf")


# --------------------------------------------------------------------------------------------
# Chromium


def find_chromium() -> str:
    """The Chromium or Chrome binary that prints report.pdf: ``$MATCHSIM_CHROMIUM`` if set,
    else the first of :data:`CHROMIUM_NAMES` on PATH.

    Raises :class:`MissingToolError` (exit code 3) saying what is missing, what was looked for
    and how to fix it. Called before any slow work, so a missing browser fails a run early.
    """
    configured = os.environ.get(CHROMIUM_ENV, "")
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file() or not os.access(path, os.X_OK):
            why = "does not exist" if not path.exists() else "is not an executable file"
            raise MissingToolError(
                f"Chromium, needed to print report.pdf, was not found: {CHROMIUM_ENV}={configured!r} {why}; {_FIX} "
                f"(or unset {CHROMIUM_ENV} to search PATH for {', '.join(CHROMIUM_NAMES)})")
        return str(path)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise MissingToolError(
        f"Chromium, needed to print report.pdf, was not found: {CHROMIUM_ENV} is not set and none of "
        f"{', '.join(CHROMIUM_NAMES)} is on PATH; {_FIX}")


# --------------------------------------------------------------------------------------------
# Rendering


def environment(kind: str):
    """The Jinja environment of one format, templates loaded from this package's folder."""
    import jinja2

    from sim.report.format import TEMPLATES

    loader = jinja2.FileSystemLoader(str(TEMPLATES))
    common = {"loader": loader, "undefined": jinja2.StrictUndefined, "keep_trailing_newline": True}
    if kind == "html":
        return jinja2.Environment(autoescape=True, **common)
    env = jinja2.Environment(autoescape=False, finalize=md_escape, **common)
    env.filters["code"] = md_code
    return env


def render_html(summary: Mapping) -> str:
    """report.html: one self-contained HTML document (inline CSS, inline SVG figures, no script,
    no external resource). Pure; byte-identical for the same summary and report date."""
    from sim.report import figures

    ctx = context(summary)
    svgs = {"funnel": figures.funnel_svg(ctx["funnel"]), "tradeoff": figures.tradeoff_svg(ctx["tradeoff"])}
    if ctx["address_class_figure"]:
        svgs["address_class"] = figures.address_class_svg(ctx["address_class_figure"])
    if ctx["frontier"]:
        svgs["frontier"] = figures.frontier_svg(ctx["frontier"])
    uris = {k: figures.data_uri(v) for k, v in svgs.items()}
    return environment("html").get_template("report.html.j2").render(ctx=ctx, figures=uris)


def render_markdown(summary: Mapping) -> str:
    """report.md: the same content as GitHub-flavoured Markdown tables; figures by caption
    only. Pure; byte-identical for the same summary and report date."""
    text = environment("md").get_template("report.md.j2").render(ctx=context(summary))
    return re.sub(r"\n{3,}", "\n\n", text)     # the templates' optional blocks leave blank runs


_MD_INLINE = re.compile(r"([\\`*_\[\]|~$])")
_MD_LEADING = re.compile(r"^(\s*)(?:([#+=>-])|(\d+)([.)])(?=\s|$))")


def md_escape(value) -> str:
    """Text made inert for a Markdown table cell or paragraph: whitespace collapsed (a cell is
    one line), ``&`` and ``<`` as entities (no raw HTML can open), Markdown punctuation and a
    leading list, heading or quote marker backslash-escaped. A :class:`markupsafe.Markup`
    (``|safe`` in the template: numbers the context formatted) passes unchanged.

    >>> print(md_escape('<script>alert(1)</script> | *x* >= 1'))
    &lt;script>alert(1)&lt;/script> \\| \\*x\\* >= 1
    """
    from markupsafe import Markup

    if isinstance(value, Markup):
        return str(value)
    if value is None:
        return ""
    text = " ".join(str(value).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;")
    text = _MD_INLINE.sub(r"\\\1", text)
    # a heading, quote or list marker at the start becomes text: \# \- \> 1\.
    return _MD_LEADING.sub(lambda m: m.group(1) + (f"\\{m.group(2)}" if m.group(2) else f"{m.group(3)}\\{m.group(4)}"), text)


def md_code(value) -> str:
    """A code span for a key or a hash; a ``|`` inside is escaped (GFM splits cells first)."""
    from markupsafe import Markup

    text = " ".join(str(value).split()).replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


# --------------------------------------------------------------------------------------------
# Writing


def write_report(summary: Mapping, out_dir: str | Path, *, pdf: bool = True, force: bool = False) -> list[Path]:
    """Write report.html, report.md and (``pdf``) report.pdf into ``out_dir``; return their paths.

    Existing report files are refused (:class:`OutputExistsError`, naming them) unless ``force``,
    before anything is written. With ``pdf``, Chromium is found first (:class:`MissingToolError`
    if absent) and the PDF is printed before the other files are replaced, so a failure leaves
    the directory as it was. Each file is replaced atomically. Re-rendered without a PDF, an
    older report.pdf is removed (with ``force``), since it would no longer match.
    """
    out = Path(out_dir)
    paths = [out / HTML_FILE, out / MD_FILE] + ([out / PDF_FILE] if pdf else [])
    existing = [p for p in paths if p.exists()]
    if existing and not force:
        raise OutputExistsError(
            f"report file{'s' if len(existing) > 1 else ''} already in '{out}': {', '.join(p.name for p in existing)}; "
            f"pass --force to replace {'them' if len(existing) > 1 else 'it'}, or choose another directory")
    chromium = find_chromium() if pdf else None
    html = render_html(summary)
    markdown = render_markdown(summary)
    out.mkdir(parents=True, exist_ok=True)
    pdf_tmp = None
    try:
        if chromium is not None:
            pdf_tmp = out / f".{PDF_FILE}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
            print_pdf(html, pdf_tmp, chromium=chromium)
        atomic_write_text(out / HTML_FILE, html)
        atomic_write_text(out / MD_FILE, markdown)
        if pdf_tmp is not None:
            os.replace(pdf_tmp, out / PDF_FILE)
            pdf_tmp = None
        elif force and (out / PDF_FILE).exists():
            (out / PDF_FILE).unlink()   # an older PDF would no longer match the new HTML
    finally:
        if pdf_tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                pdf_tmp.unlink()
    return paths


def print_pdf(html: str, path: str | Path, *, chromium: str | None = None) -> Path:
    """Print ``html`` to ``path`` (US Letter, backgrounds, page numbers in the footer) with
    headless Chromium. JavaScript is off, the context is offline and every request other than
    ``data:`` is aborted, so printing fetches nothing."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    chromium = chromium or find_chromium()
    footer = ('<div style="width:100%;font-size:7.5px;font-family:Arial,Helvetica,sans-serif;color:#555;'
              'padding:0 0.75in;display:flex;justify-content:space-between;">'
              f'<span>{_html.escape(TITLE)}</span>'
              '<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span></div>')
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium)
            try:
                page = browser.new_context(java_script_enabled=False, offline=True).new_page()
                page.route("**/*", _only_local)
                page.set_content(html, wait_until="load")
                page.pdf(path=str(path), format="Letter", print_background=True, prefer_css_page_size=True,
                         display_header_footer=True, header_template="<div></div>", footer_template=footer)
            finally:
                browser.close()
    except PlaywrightError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MissingToolError(f"Chromium at '{chromium}' could not print report.pdf: {first}; "
                               f"check that it starts (`{chromium} --headless --version`), {_FIX}") from None
    return Path(path)


def _only_local(route) -> None:
    """Let ``data:`` (the figures) and ``about:`` through; abort everything else."""
    if route.request.url.startswith(("data:", "about:")):
        route.continue_()
    else:
        route.abort()


__all__ = ["find_chromium", "write_report", "render_html", "render_markdown", "context", "report_date",
           "print_pdf", "md_escape", "HTML_FILE", "MD_FILE", "PDF_FILE", "CHROMIUM_NAMES"]

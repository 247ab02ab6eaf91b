"""The audit report (sim.report): what it says is the summary's, it is escaped, deterministic,
self-contained, and it opens and prints in a real Chromium.

The study is a real tiny run (scale 0.001, two replicates, the scenario's alternatives), built
once for the module. The browser tests drive the Chromium the report itself uses
(:func:`sim.report.find_chromium`); if it is missing they fail, with the fix, rather than skip:
CI installs Chromium, and a report that cannot be printed is a broken product.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from pathlib import Path

import pytest

from sim.common.errors import InputError, MissingToolError, OutputExistsError
from sim.report import context, find_chromium, render_html, render_markdown, write_report
from sim.report.format import cell
from sim.report.labels import TITLE
from sim.common.summaries import check_summary, read_summary
from tests.browser import chromium_or_fail, launch, open_page

HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_MARKUP = '"quotes" & <b>tags</b>'
EPOCH = "1767225600"          # 2026-01-01 00:00:00 UTC
EPOCH_DATE = "January 1, 2026"


# --------------------------------------------------------------------------------------------
# Fixtures: one real study, one written report, one browser


@pytest.fixture(scope="module")
def summary(baseline_config_path: Path) -> dict:
    """The summary of a real tiny study: scale 0.001, 2 replicates, every alternative."""
    from sim.config import load_config
    from sim.report.notes import parameter_notes
    from sim.studies.study import run_study

    overrides = ["world.scale=0.001", "study.replicates=2"]
    config = load_config(baseline_config_path, overrides)
    assert len(config.study.alternatives) >= 2, "the scenario's alternatives are part of the report"
    return run_study(config, jobs=1, notes=parameter_notes(baseline_config_path, overrides)).summary


@pytest.fixture(scope="module")
def hostile(summary: dict) -> dict:
    """The summary with user text that would run or render if it were not escaped."""
    bad = copy.deepcopy(summary)
    bad["policies"][1]["description"] = f"{HOSTILE_SCRIPT} {HOSTILE_MARKUP}"
    bad["parameters"][0]["note"] = f"{HOSTILE_MARKUP} {HOSTILE_SCRIPT} | *bold* # not a heading"
    return bad


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_fail("the report's browser tests")


@pytest.fixture(scope="module")
def written(summary: dict, chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """report.html, report.md and report.pdf of the tiny study."""
    out = tmp_path_factory.mktemp("report")
    paths = write_report(summary, out, pdf=True)
    assert [p.name for p in paths] == ["report.html", "report.md", "report.pdf"]
    return out


@pytest.fixture(scope="module")
def browser(chromium: str):
    yield from launch(chromium)


# --------------------------------------------------------------------------------------------
# What the report says is the summary's


def test_context_figures_are_the_summary_numbers(summary):
    ctx = context(summary)
    base = next(p for p in summary["policies"] if p["name"] == summary["baseline_policy"])
    est = base["aggregate"]["estimates"]

    stages = {s["key"]: s for s in ctx["funnel"]["stages"]}
    assert ctx["funnel"]["disclosed"] == est["disclosed"]["mean"]
    assert stages["disclosed"]["total"]["mean"] == est["disclosed"]["mean"]
    assert stages["requests"]["total"]["mean"] == est["requests"]["mean"] == summary["n_requests"]
    assert stages["wrong_person_disclosures"]["total"]["text"] == f"{est['wrong_person_disclosures']['mean']:,.0f}"
    # the per-path stages add up to the total (breakdown means are means of scaled counts)
    for s in ctx["funnel"]["stages"]:
        assert sum(c["mean"] for c in s["by_path"]) == pytest.approx(s["total"]["mean"], abs=0.5)
    passed = est["requests"]["mean"] - est["gated"]["mean"] - est["no_path"]["mean"]
    assert stages["passed_gate"]["total"]["mean"] == pytest.approx(passed, abs=2)     # estimates are rounded per seed
    # the derived stages carry the per-seed interval of the summary's funnel, not a bare mean
    funnel = base["aggregate"]["funnel"]["all"]
    for key in ("passed_gate", "matched"):
        assert not stages[key]["derived"]
        assert (stages[key]["total"]["lo"], stages[key]["total"]["hi"]) == (max(funnel[key]["lo"], 0), funnel[key]["hi"])
    assert stages["matched"]["total"]["mean"] == pytest.approx(est["disclosed"]["mean"] + est["ambiguous"]["mean"], abs=2)

    rows = {r["name"]: r for r in ctx["policies"]["rows"]}
    assert list(rows) == [p["name"] for p in summary["policies"]]
    for p in summary["policies"]:
        agg = p["aggregate"]
        assert rows[p["name"]]["disclosed"]["mean"] == agg["estimates"]["disclosed"]["mean"]
        assert rows[p["name"]]["wrong"]["mean"] == agg["estimates"]["wrong_person_disclosures"]["mean"]
        assert rows[p["name"]]["precision"]["mean"] == agg["rates"]["precision"]["mean"]
    points = {p["name"]: p for p in ctx["tradeoff"]["points"]}
    assert points[base["name"]]["y"]["mean"] == est["wrong_person_disclosures"]["mean"]

    # whose address the wrong-person disclosures gave out: the kinds add up to the total
    kinds = ctx["wrong_person"]["rows"]
    assert [k["code"] for k in kinds][:4] == ["ssn_owner", "household_member", "same_name_neighbour", "other"]
    assert sum(k["mean"] for k in kinds) == pytest.approx(est["wrong_person_disclosures"]["mean"], abs=0.5)

    published = {r["metric"]: r for r in ctx["published"]["rows"]}
    for row in summary["published"]:
        shown = published[row["metric"]]
        assert shown["simulated"]["mean"] == row["simulated"]["mean"]
        assert shown["verdict"] == {True: "Within target", False: "Outside target", None: "Shown only"}[row["within"]]

    # every parameter is listed once, with its value
    listed = [r for g in ctx["parameters"]["groups"] for r in g["rows"]]
    assert [r["key"] for r in listed] == [p["key"] for p in summary["parameters"]]
    assert ctx["study"]["replicates"] == 2 and ctx["study"]["has_interval"]
    assert ctx["calibration"]["present"] == (summary["calibration"] is not None)


def test_the_address_section_is_the_summarys_ages_and_shares(summary):
    """Section 4 answers how old the addresses were and how many were new to ICE: its sentences
    and tables are the summary's figures, and a summary from before the world was dated (no
    address ages) renders without it, the sections after it keeping their numbers."""
    ctx = context(summary)
    base = next(p for p in summary["policies"] if p["name"] == summary["baseline_policy"])
    agg = base["aggregate"]
    section = ctx["addresses"]
    assert section["present"]
    tables = {t["name"]: t for t in section["tables"]}
    assert [t["table"]["number"] for t in section["tables"]] == [5, 6, 7]     # after the wrong-person section's two
    new = tables["new"]
    first = dict(zip(new["columns"], new["rows"][0]["cells"]))
    assert first["Disclosed"]["mean"] == agg["estimates"]["disclosed"]["mean"]
    assert first["Share new to ICE"]["mean"] == agg["rates"]["updated_address_rate"]["mean"]
    assert first["Share current on August 7"]["mean"] == agg["rates"]["current_address_rate"]["mean"]
    tin = dict(zip(new["columns"], next(r for r in new["rows"] if r["label"] == "TIN path")["cells"]))
    assert tin["Share new to ICE"]["mean"] == agg["breakdowns"]["path"]["tin"]["updated_address_rate"]["mean"]
    # every request falls in one band of the age of ICE's address and one year of final order
    ages = tables["ages"]
    at = {c: i for i, c in enumerate(ages["columns"])}
    total = sum(r["cells"][at["Requests, by the age of ICE's address"]]["mean"] for r in ages["rows"])
    assert total == pytest.approx(agg["estimates"]["requests"]["mean"], rel=1e-3)
    disclosed = sum(r["cells"][at["Disclosed, by the age of the IRS's address"]]["mean"] for r in ages["rows"])
    assert disclosed == pytest.approx(agg["estimates"]["disclosed"]["mean"], abs=1)
    years = tables["years"]
    assert [r["label"] for r in years["rows"]] == sorted(r["label"] for r in years["rows"])
    assert sum(r["cells"][0]["mean"] for r in years["rows"]) == pytest.approx(agg["estimates"]["requests"]["mean"], rel=1e-3)
    median = agg["address_ages"]["ice_requests"]["median"]["mean"]
    text = " ".join(section["text"])
    assert f"a median of {median:.1f} years" in text
    assert f"a median of {agg['address_ages']['irs_disclosed']['median']['mean']:.1f} years" in text
    assert any("new to ICE" in f for f in ctx["highlights"]["found"])
    md = render_markdown(summary)
    assert "## 4. How old the addresses were, and how many were new to ICE" in md and "## 6. What alternative" in md

    old = copy.deepcopy(summary)
    for p in old["policies"]:
        p["aggregate"].pop("address_ages")
        for name in ("ice_address_age", "irs_address_age", "final_order_year"):
            p["aggregate"]["breakdowns"].pop(name)
    assert not context(old)["addresses"]["present"]
    md = render_markdown(old)
    assert "## 4. How old" not in md and "## 5. Disclosures by address quality" in md and "were new to ICE" not in md


def test_cell_formats_counts_rates_and_intervals():
    c = cell({"mean": 47289.4, "lo": 46800.2, "hi": 47700.0})
    assert c["compact"] == "47,289 [46,800-47,700]"
    assert c["long"] == "47,289 (95% interval 46,800 to 47,700)"
    assert cell({"mean": 0.047, "lo": 0.04, "hi": 0.055}, rate=True)["compact"] == "4.7% [4.0%-5.5%]"
    # a count's interval is shown from 0, a rate's up to 100%
    assert cell({"mean": 12.0, "lo": -8.0, "hi": 32.0})["compact"] == "12 [0-32]"
    assert cell({"mean": 0.99, "lo": 0.97, "hi": 1.01}, rate=True)["range"] == "97.0%-100.0%"
    # one replicate: the value alone
    one = cell({"mean": 52348.3, "lo": None, "hi": None})
    assert one["compact"] == one["long"] == "52,348" and one["range"] == ""
    assert cell(None)["text"] == "n/a"


def test_single_replicate_and_missing_keys_render(summary):
    """One replicate (no interval anywhere), a calibration record with keys missing and a
    policy without breakdowns still render, saying what is not there."""
    one = copy.deepcopy(summary)

    def drop_intervals(node):
        if isinstance(node, dict):
            if "lo" in node and "hi" in node:
                node["lo"] = node["hi"] = None
            for v in node.values():
                drop_intervals(v)
        elif isinstance(node, list):
            for v in node:
                drop_intervals(v)

    drop_intervals(one)
    one["replicates"], one["seeds"] = 1, one["seeds"][:1]
    one["calibration"] = {"date": "2026-03-01", "parameters": [{"key": "world.requested.in_master_file_share", "fitted": 0.05}],
                          "targets": [{"name": "disclosures", "metric": "estimates.disclosed", "published": 47289}],
                          "confirm": {"targets": [{"name": "disclosures", "metric": "estimates.disclosed",
                                                   "simulated": {"mean": 47000.0, "lo": None, "hi": None}}]}}
    del one["policies"][0]["aggregate"]["breakdowns"]        # the baseline's: no breakdown tables, n/a
    md = render_markdown(one)
    assert "single replicate, so no figure has an interval" in md
    disclosures = next(line for line in md.splitlines() if line.startswith("| Disclosures |"))
    assert "[" not in disclosures and "(95% interval" not in md
    assert "| world.requested.in\\_master\\_file\\_share | n/a | 0.05 | n/a | none |" in md
    assert "| Household member | n/a | n/a |" in md and "Table 4. Requests and disclosures by the SSN" not in md
    html = render_html(one)
    # the funnel, the trade-off and the probabilistic model's frontier (no address-class figure without breakdowns)
    assert "Fitted parameters" in html and "Confirming run" in html and html.count('src="data:image/svg+xml;base64,') == 3
    assert "Figure 2. The trade-off" in html and "Figure 3. Precision against recall" in html


def test_the_summary_a_run_writes_passes_its_schema(summary, tmp_path):
    write_study_summary(summary, tmp_path)
    assert read_summary(tmp_path, "study") == summary


def write_study_summary(summary: dict, folder: Path) -> Path:
    path = folder / "summary.json"
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return path


def test_a_summary_of_the_wrong_shape_is_one_error_naming_each_key(summary, tmp_path):
    """Issue 13: `matchsim report` on a damaged summary.json crashed deep in the report
    (AttributeError, TypeError); it is now checked against its schema first. The last three
    damages here each crashed the report before."""
    bad = copy.deepcopy(summary)
    bad["scale"] = "0.001"
    bad["policies"][0]["role"] = [1]
    del bad["policies"][1]["aggregate"]["rates"]
    bad["policies"][1]["aggregate"]["breakdowns"]["address_class"]["complete"] = []
    bad["policies"][2]["aggregate"]["breakdowns"]["name_commonness"]["rarer"]["disclosed"] = True
    path = write_study_summary(bad, tmp_path)
    with pytest.raises(InputError) as info:
        read_summary(tmp_path, "study")
    assert info.value.exit_code == 2
    assert str(info.value) == "\n".join([
        f"'{path}' is not a study summary matchsim can read: 5 problems",
        "  - scale: input should be a valid number; got '0.001'",
        "  - policies.0.role: input should be 'baseline' or 'alternative'; got [1]",
        "  - policies.1.aggregate.rates: missing",
        "  - policies.1.aggregate.breakdowns.address_class.complete: input should be a valid dictionary; got []",
        "  - policies.2.aggregate.breakdowns.name_commonness.rarer.disclosed: input should be a valid dictionary or "
        "instance of Stat; got True",
        "run `matchsim run` again to rewrite it, or restore the file as it was written",
    ])
    bad = copy.deepcopy(summary)
    bad["baseline_policy"] = "nope"
    write_study_summary(bad, tmp_path)
    with pytest.raises(InputError, match=r"  - \(top level\): baseline_policy is 'nope' but the policies with role "
                                         r"'baseline' are \['irs-2025'\]; exactly that one policy must have it"):
        read_summary(tmp_path, "study")


@pytest.mark.parametrize("seed", range(4))
def test_every_damaged_summary_is_refused_or_renders(summary, seed):
    """A summary with one key deleted or given a value of another type (null, text, a list, a
    table, a negative or huge number, a boolean) is either refused by the schema or rendered
    without an exception: never a traceback. 25 damages a seed; before the schema, about 1 in 75
    crashed the report."""
    import random

    paths: list[tuple] = []

    def walk(node, at):
        if at:
            paths.append(at)
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, (*at, key))
        elif isinstance(node, list):
            for i, value in enumerate(node[:2]):
                walk(value, (*at, i))

    walk(summary, ())
    rng = random.Random(seed)
    refused = 0
    for _ in range(25):
        damaged = copy.deepcopy(summary)
        at = rng.choice(paths)
        parent = damaged
        for key in at[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and rng.random() < 0.3:
            del parent[at[-1]]
        else:
            parent[at[-1]] = rng.choice([None, "x", [], {}, -1, 1e308, True, [1], {"a": 1}])
        try:
            check_summary(damaged, "summary.json", "study")
        except InputError:
            refused += 1
            continue
        render_html(damaged)
        render_markdown(damaged)
    assert refused > 0


def test_markdown_has_the_published_table_and_no_raw_markup(summary, hostile):
    md = render_markdown(summary)
    table = md.split("Published and simulated figures")[1].split("\n\n")[1]
    for row in summary["published"]:
        rate = row["metric"].startswith("rates.")
        fmt = (lambda x: f"{100 * x:.1f}%") if rate else (lambda x: f"{x:,.0f}")
        sim = row["simulated"]
        expected = f"{fmt(sim['mean'])} [{fmt(max(sim['lo'], 0))}-{fmt(min(sim['hi'], 1) if rate else sim['hi'])}]"
        line = next(l for l in table.splitlines() if l.startswith(f"| {row['name'][:1].upper()}{row['name'][1:]} |"))
        assert f"| {fmt(row['published'])} | {expected} |" in line, line
    assert "<" not in md and TITLE in md
    # the GitHub-flavoured tables are well formed: every row of a table has its header's cells
    for block in re.findall(r"(?:^\|.*\|$\n?)+", md, flags=re.M):
        lines = block.strip().splitlines()
        widths = {len(re.split(r"(?<!\\)\|", line)) for line in lines}
        assert len(widths) == 1, lines[:3]

    bad = render_markdown(hostile)
    assert "<script" not in bad and "<b>" not in bad
    assert "&lt;script>alert(1)&lt;/script>" in bad
    assert "\\| \\*bold\\* # not a heading" in bad          # the note stays inside its cell


def test_html_escapes_user_text(hostile):
    html = render_html(hostile)
    assert HOSTILE_SCRIPT not in html and "<b>tags</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&#34;quotes&#34; &amp; &lt;b&gt;tags&lt;/b&gt;" in html
    assert "<script" not in html.lower()
    # self-contained: nothing is fetched from anywhere
    refs = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert refs and all(r.startswith(("data:", "#")) for r in refs), [r[:40] for r in refs if not r.startswith(("data:", "#"))]
    assert "@import" not in html and "url(" not in html


def test_render_is_deterministic_with_source_date_epoch(summary, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    html, md = render_html(summary), render_markdown(summary)
    assert render_html(summary) == html
    assert render_markdown(summary) == md
    assert EPOCH_DATE in html and EPOCH_DATE in md
    # `matchsim report DIR` re-renders from summary.json: the same bytes as from the run's dict
    reread = json.loads(json.dumps(summary))
    assert render_markdown(reread) == md and render_html(reread) == html
    assert context(summary)["date_iso"] == "2026-01-01"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "not-a-number")
    from sim.common.errors import InputError

    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        render_markdown(summary)
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    before = dt.datetime.now(dt.timezone.utc).date().isoformat()
    shown = context(summary)["date_iso"]
    assert shown in (before, dt.datetime.now(dt.timezone.utc).date().isoformat())   # today, UTC


# --------------------------------------------------------------------------------------------
# Writing: never over existing files, and Chromium found or clearly missing


def test_write_report_refuses_existing_files_unless_forced(summary, tmp_path):
    (tmp_path / "report.html").write_text("old report\n")
    with pytest.raises(OutputExistsError, match=r"report\.html.*--force") as excinfo:
        write_report(summary, tmp_path, pdf=False)
    assert "report.md" not in str(excinfo.value)
    assert (tmp_path / "report.html").read_text() == "old report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]

    written = write_report(summary, tmp_path, pdf=False, force=True)
    assert written == [tmp_path / "report.html", tmp_path / "report.md"]
    assert (tmp_path / "report.html").read_text().startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]   # no temporary left

    # re-rendered without a PDF, a stale report.pdf from an earlier render goes
    (tmp_path / "report.pdf").write_bytes(b"%PDF- stale")
    write_report(summary, tmp_path, pdf=False, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html", "report.md"]


def test_find_chromium_reports_a_missing_binary(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-chrome"
    monkeypatch.setenv("MATCHSIM_CHROMIUM", str(missing))
    with pytest.raises(MissingToolError) as excinfo:
        find_chromium()
    message = str(excinfo.value)
    assert str(missing) in message and "does not exist" in message
    assert "apt-get install chromium" in message and "MATCHSIM_CHROMIUM=/path/to/chrome" in message and "--no-pdf" in message
    assert excinfo.value.exit_code == 3

    monkeypatch.delenv("MATCHSIM_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingToolError) as excinfo:
        find_chromium()
    message = str(excinfo.value)
    assert "chromium, chromium-browser, google-chrome" in message and "MATCHSIM_CHROMIUM is not set" in message
    assert "apt-get install chromium" in message and "--no-pdf" in message


def test_write_report_checks_chromium_before_writing(summary, monkeypatch, tmp_path):
    monkeypatch.setenv("MATCHSIM_CHROMIUM", str(tmp_path / "no-such-chrome"))
    out = tmp_path / "out"
    with pytest.raises(MissingToolError):
        write_report(summary, out)
    assert not out.exists() or not any(out.iterdir())


# --------------------------------------------------------------------------------------------
# In a real browser, and on paper


def test_report_opens_in_chromium_without_errors_or_requests(written, browser, tmp_path):
    url = (written / "report.html").resolve().as_uri()
    page, seen = open_page(browser, url=url)
    try:
        shot = tmp_path / "report-screenshot.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nscreenshot of report.html: {shot}")
        assert shot.stat().st_size > 50_000

        assert seen["errors"] == []
        assert seen["dialogs"] == []
        assert seen["requests"] and seen["requests"][0] == url
        assert all(u == url or u.startswith("data:") for u in seen["requests"]), seen["requests"]

        for heading in ("Highlights", "1. Simulated and published figures", "2. From requests to disclosures",
                        "3. Wrong-person disclosures and who received them",
                        "4. How old the addresses were, and how many were new to ICE", "6. What alternative rules would have done",
                        "Appendix A. Scope and methodology", "Appendix E. Provenance"):
            assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
        assert page.title() == TITLE

        figures = page.eval_on_selector_all(
            "figure img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().width, e.getBoundingClientRect().height])")
        assert len(figures) == 4          # funnel, address classes, trade-off, the frontier
        for complete, natural, width, height in figures:
            assert complete and natural > 0 and width > 300 and height > 100
        assert page.eval_on_selector_all("script", "els => els.length") == 0
    finally:
        page.close()


def test_hostile_text_does_not_run_in_chromium(hostile, browser):
    page, seen = open_page(browser, html=render_html(hostile))
    try:
        assert seen["dialogs"] == [] and seen["errors"] == []
        assert page.eval_on_selector_all("script", "els => els.length") == 0
        assert page.eval_on_selector_all("b", "els => els.filter(e => e.textContent === 'tags').length") == 0
        text = page.inner_text("body")
        assert HOSTILE_SCRIPT in text and HOSTILE_MARKUP in text      # shown as the text it is
    finally:
        page.close()


def test_pdf_has_the_report_on_letter_pages(written, summary):
    from pypdf import PdfReader

    path = written / "report.pdf"
    assert path.read_bytes()[:5] == b"%PDF-"
    reader = PdfReader(str(path))
    n = len(reader.pages)
    assert 10 < n < 35, n
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (612, 792)          # US Letter, in points
    texts = [" ".join(p.extract_text().split()) for p in reader.pages]
    assert TITLE in texts[0] and "Highlights".upper() in texts[0].upper()
    assert f"Page 1 of {n}" in texts[0]
    provenance = next(i for i, t in enumerate(texts) if "Appendix E. Provenance" in t)
    rest = "".join("".join(t.split()) for t in texts[provenance:])
    assert summary["config_sha256"] in rest
    appendix = next(i for i, t in enumerate(texts) if "Appendix A. Scope and methodology" in t)
    assert appendix > 3 and texts[appendix].startswith("Appendix A. Scope and methodology")   # on a new page


def test_every_paragraph_macro_is_used_and_an_undefined_name_is_an_error():
    """The reports' words live in templates/prose.j2 and sweep_prose.j2: each macro is called by
    the context that owns the template (none left behind by an edit), and a macro given a name
    it does not know fails instead of printing a blank."""
    import re

    import jinja2

    from sim.report.format import TEMPLATES, paragraphs, prose

    sources = {"prose.j2": "context.py", "sweep_prose.j2": "sweep.py"}
    for template, module in sources.items():
        defined = set(re.findall(r"{% macro (\w+)\(", (TEMPLATES / template).read_text()))
        code = (TEMPLATES.parent / module).read_text()
        used = set(re.findall(r"PROSE\.(\w+)\(", code)) | set(re.findall(r"{{ (\w+)\(", (TEMPLATES / template).read_text()))
        assert defined and defined <= used, f"{template}: macros never called: {sorted(defined - used)}"
    with pytest.raises(jinja2.UndefinedError):
        paragraphs(prose("prose.j2").estimates({"scale_percent": "5%"}))

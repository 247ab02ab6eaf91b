"""The sweep report (sim.report.sweep): what it says is the summary's, one figure per metric and
parameter (and a heatmap for a two-parameter grid), escaped, deterministic, self-contained, and
it opens in a real Chromium.

The summaries are built here, by the contract of a sweep's summary.json, with figures chosen so
that the right answer is known: a two-parameter grid with a failed unit, an undefined rate and a
point none of whose units ran; a one-parameter categorical sweep on a single seed; and a Latin
hypercube over two ranges and a categorical choice. The browser tests fail, with the fix, when
Chromium is missing, as the audit report's do.
"""

from __future__ import annotations

import copy
import json
import re
import shlex

import pytest

from sim.errors import InputError, OutputExistsError
from sim.report.sweep import render_sweep_html, sweep_context, toml_value, write_sweep_report
from tests.browser import chromium_or_fail, launch, open_page

ZIP = "world.requests.address.classes.zip_only"
PLACE = "world.requests.address.classes.placeholder"
COMPLETE = "world.requests.address.classes.complete"
GATE = "policy.paths.1.address_gate"
POLICY = "study.policy"
SEEDS = [20250627, 20250628, 20250629]
EPOCH = "1767225600"          # 2026-01-01 00:00:00 UTC
HOSTILE_SCRIPT = "<script>alert(1)</script>"
HOSTILE_MARKUP = '"quotes" & <b>tags</b>'


# --------------------------------------------------------------------------------------------
# Summaries


def iv(mean: float | None, half: float | None = None, n: int = 3) -> dict:
    """A metric of a point: the mean over ``n`` seeds, with a symmetric interval if ``half``."""
    if mean is None:
        return {"n": n, "mean": None, "lo": None, "hi": None, "sd": None, "min": None, "max": None}
    if half is None:
        return {"n": n, "mean": mean, "lo": None, "hi": None, "sd": None, "min": mean, "max": mean}
    return {"n": n, "mean": mean, "lo": mean - half, "hi": mean + half, "sd": half / 2,
            "min": mean - half / 2, "max": mean + half / 2}


def disclosed(z: float, p: float) -> float:
    return 50000 - 100000 * z - 200000 * p


def wrong(z: float, p: float) -> float:
    return 2000 + 40000 * z + 100000 * p


def grid_summary() -> dict:
    """zip_only x placeholder (3 x 2), three seeds. Point 4 lost one seed; point 5's config was
    invalid, so all its units failed and it has no metrics; point 1's precision is undefined."""
    points = []
    for i, (z, p) in enumerate((z, p) for z in (0.0, 0.023, 0.05) for p in (0.0, 0.01)):
        points.append({
            "point": i, "values": {ZIP: z, PLACE: p, COMPLETE: round(0.625 - z - p, 6)},
            "config_sha256": f"{i:02d}" + "c0ffee" * 10 + "ab", "ok": 3, "failed": 0,
            "metrics": {"estimates.disclosed": iv(disclosed(z, p), 900.0),
                        "estimates.wrong_person_disclosures": iv(wrong(z, p), 150.0),
                        "rates.precision": iv(1 - wrong(z, p) / disclosed(z, p), 0.01)}})
    points[1]["metrics"]["rates.precision"] = iv(None)
    points[4].update(ok=2, failed=1)
    points[4]["metrics"] = {k: {**v, "n": 2} for k, v in points[4]["metrics"].items()}
    points[5].update(ok=0, failed=3, metrics={}, config_sha256=None)
    failures = [{"point": 4, "seed": SEEDS[1], "error": "EngineError: worker lost"}]
    failures += [{"point": 5, "seed": s, "error": "ConfigError: world.requests.address.classes.complete must be >= 0"}
                 for s in SEEDS]
    return {
        "kind": "sweep", "sweep": "address-quality",
        "description": "How wrong-person disclosures move as ICE's addresses get worse.",
        "sweep_file": "configs/sweeps/address-quality.toml", "base": "configs/august-2025.toml",
        "scenario": "august-2025", "base_config_sha256": "9f2c" * 16, "sweep_sha256": "ab12" * 16, "version": "0.1.0",
        "design": {"kind": "grid", "points": None, "seed": 0, "digits": 6},
        "set": {"world.scale": 0.01},
        "command_line_set": ["world.requests.ssn.share_if_on_file=0.9"],
        "parameters": [{"key": ZIP, "values": [0.0, 0.023, 0.05], "range": None, "balance": COMPLETE},
                       {"key": PLACE, "values": [0.0, 0.01], "range": None, "balance": COMPLETE}],
        "columns": [ZIP, PLACE, COMPLETE],
        "seeds": SEEDS,
        "metrics": ["estimates.disclosed", "estimates.wrong_person_disclosures", "rates.precision"],
        "interval": "mean over replicate seeds, 95% Student-t interval of the mean",
        "units": {"total": 18, "ok": 14, "failed": 4},
        "points": points,
        "failures": failures,
        "provenance": {"version": "0.1.0", "data_sha256": "d474" * 16,
                       "libraries": {"numpy": "2.4.6", "pyarrow": "26.0.1"}},
    }


GATES = ["nonblank", "zip_regex", "sufficient"]


def categorical_summary() -> dict:
    """The address path's gate, one seed: no intervals, and a rate undefined at every point."""
    points = [{"point": i, "values": {GATE: g}, "config_sha256": f"{i}" * 64, "ok": 1, "failed": 0,
               "metrics": {"estimates.disclosed": iv(47000.0 - 3000 * i, n=1),
                           "rates.wrong_person_rate": iv(0.05 + 0.02 * (i % 2), n=1),
                           "rates.precision": iv(None, n=1)}}
              for i, g in enumerate(GATES)]
    s = grid_summary()
    s.update(sweep="gates", description="Each address gate.", sweep_file="configs/sweeps/gates.toml", set={},
             parameters=[{"key": GATE, "values": GATES, "range": None, "balance": None}], columns=[GATE],
             seeds=SEEDS[:1], metrics=["estimates.disclosed", "rates.wrong_person_rate", "rates.precision"],
             units={"total": 3, "ok": 3, "failed": 0}, points=points, failures=[])
    return s


LHS_POINTS = [(0.0031, 0.0112, "irs-2025"), (0.0447, 0.0031, "statute-6103"), (0.0178, 0.0190, "irs-2025"),
              (0.0282, 0.0007, "statute-6103"), (0.0093, 0.0154, "statute-6103"), (0.0391, 0.0068, "irs-2025")]


def lhs_summary() -> dict:
    """A Latin hypercube of 6 points over two ranges and a choice of policy, two seeds."""
    points = [{"point": i, "values": {ZIP: z, PLACE: p, POLICY: pol, COMPLETE: round(0.625 - z - p, 6)},
               "config_sha256": f"{i}" * 64, "ok": 2, "failed": 0,
               "metrics": {"estimates.disclosed": iv(disclosed(z, p), 500.0, n=2),
                           "rates.recall": iv(0.8 - 2 * z, 0.02, n=2)}}
              for i, (z, p, pol) in enumerate(LHS_POINTS)]
    s = grid_summary()
    s.update(sweep="address-lhs", design={"kind": "lhs", "points": 6, "seed": 7, "digits": 6},
             parameters=[{"key": ZIP, "values": None, "range": [0.0, 0.05], "balance": COMPLETE},
                         {"key": PLACE, "values": None, "range": [0.0, 0.02], "balance": COMPLETE},
                         {"key": POLICY, "values": ["irs-2025", "statute-6103"], "range": None, "balance": None}],
             columns=[ZIP, PLACE, POLICY, COMPLETE], seeds=SEEDS[:2], metrics=["estimates.disclosed", "rates.recall"],
             units={"total": 12, "ok": 12, "failed": 0}, points=points, failures=[])
    return s


SUMMARIES = {"grid": grid_summary, "categorical": categorical_summary, "lhs": lhs_summary}


def slug(key: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", key.lower()).strip("-")


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    """Each summary's report.html, rendered once for the module."""
    return {name: render_sweep_html(build()) for name, build in SUMMARIES.items()}


# --------------------------------------------------------------------------------------------
# What the report says is the summary's


def test_grid_context_is_the_summary_numbers():
    summary = grid_summary()
    ctx = sweep_context(summary)
    metrics = {m["key"]: m for m in ctx["metrics"]}
    assert list(metrics) == summary["metrics"]

    # lowest and highest point of each metric, by mean: point 5 (no metrics) is left out
    d = metrics["estimates.disclosed"]["range"]
    assert (d["low"]["point"], d["high"]["point"]) == (4, 0)
    assert d["low"]["mean"] == disclosed(0.05, 0.0) and d["high"]["mean"] == disclosed(0.0, 0.0)
    assert d["low"]["values"] == "zip_only = 0.05, placeholder = 0"
    assert d["text"] == ("Disclosures: from 45,000 [44,100-45,900] at zip_only = 0.05, placeholder = 0 (point 4) "
                         "to 50,000 [49,100-50,900] at zip_only = 0, placeholder = 0 (point 0).")
    w = metrics["estimates.wrong_person_disclosures"]["range"]
    assert (w["low"]["point"], w["high"]["point"]) == (0, 4)
    p = metrics["rates.precision"]["range"]            # point 1's precision is undefined, not 0
    assert (p["low"]["point"], p["high"]["point"]) == (4, 0)
    assert p["low"]["cell"]["text"] == f"{100 * (1 - wrong(0.05, 0) / disclosed(0.05, 0)):.1f}%"
    assert ctx["highlights"]["moved"] == [m["range"]["text"] for m in ctx["metrics"]]

    assert ctx["units"]["text"] == ("18 units (a point on one seed): 14 ran, 4 failed; 1 point (5) has no result, "
                                    "every unit of it failed.")
    assert ctx["design"]["text"] == "a grid of 6 points, every combination of the values (3 x 2)"
    assert ctx["grid2"] and ctx["seeds"]["text"] == "20250627-20250629"
    assert [p["short"] for p in ctx["parameters"]] == ["zip_only", "placeholder"]
    assert ctx["highlights"]["swept"][0] == (f"zip_only ({ZIP}): values 0, 0.023, 0.05; {COMPLETE} gives way, "
                                             "so the shares still sum to 1")

    # the table of every point: every column, the units, each metric as mean [lo-hi] or n/a
    assert [c["short"] for c in ctx["table_columns"]] == ["zip_only", "placeholder", "complete"]
    assert [c["balance"] for c in ctx["table_columns"]] == [False, False, True]
    rows = ctx["points"]["rows"]
    assert [r["point"] for r in rows] == list(range(6))
    assert rows[3]["column_values"] == ["0.023", "0.01", "0.592"]
    assert [c["compact"] for c in rows[4]["cells"]][:2] == ["45,000 [44,100-45,900]", "4,000 [3,850-4,150]"]
    assert rows[1]["cells"][2]["text"] == "n/a" and rows[1]["cells"][2]["range"] == ""
    assert rows[5]["empty"] and [c["text"] for c in rows[5]["cells"]] == ["n/a"] * 3
    assert (rows[4]["ok"], rows[4]["failed"], rows[5]["ok"], rows[5]["failed"]) == (2, 1, 0, 3)

    failures = ctx["failures"]
    assert [(f["point"], f["seed"]) for f in failures["rows"]] == [(f["point"], f["seed"]) for f in summary["failures"]]
    assert failures["rows"][0]["values_text"] == "zip_only = 0.05, placeholder = 0" and not failures["rows"][0]["invalid"]
    assert all(f["invalid"] for f in failures["rows"][1:])
    assert failures["text"].startswith("4 units of 18 failed.")

    prov = dict(ctx["provenance"]["facts"])
    assert prov["Sweep file sha256"] == summary["sweep_sha256"]
    assert prov["Base config sha256"] == summary["base_config_sha256"]
    assert prov["Reference data sha256"] == summary["provenance"]["data_sha256"]
    assert prov["Fixed overrides (set)"] == "world.scale = 0.01"
    assert prov["Libraries"] == "numpy 2.4.6, pyarrow 26.0.1"
    assert prov["Design"] == "grid, 6 points, design seed 0"
    assert prov["Command-line overrides (--set)"] == "world.requests.ssn.share_if_on_file=0.9"
    assert ctx["provenance"]["sweep_command"] == ("matchsim sweep configs/sweeps/address-quality.toml -o DIR "
                                                  "--set world.requests.ssn.share_if_on_file=0.9")
    configs = {c["point"]: c["sha256"] for c in ctx["provenance"]["configs"]}
    assert configs[0] == summary["points"][0]["config_sha256"] and configs[5].startswith("none")


def test_grid_figures_hold_each_point_once_and_skip_the_empty_one():
    ctx = sweep_context(grid_summary())
    metric = ctx["metrics"][0]                     # estimates.disclosed
    by_zip, by_place = metric["figures"]
    # against zip_only: one line per placeholder value, x the zip_only values
    assert by_zip["kind"] == "numeric" and by_zip["lines"] and by_zip["legend"]
    assert [s["label"] for s in by_zip["series"]] == ["placeholder = 0", "placeholder = 0.01"]
    for s, p in zip(by_zip["series"], (0.0, 0.01)):
        assert [q["x"] for q in s["points"]] == [0.0, 0.023, 0.05]
        assert [q["mean"] for q in s["points"][:2]] == [disclosed(z, p) for z in (0.0, 0.023)]
    assert by_zip["series"][1]["points"][2]["point"] == 5 and by_zip["series"][1]["points"][2]["mean"] is None
    assert by_zip["n_defined"] == 5
    assert by_zip["xlim"] == [0.0, 0.05]        # the axis keeps a place for every value, run or not
    # against placeholder: one line per zip_only value
    assert [s["label"] for s in by_place["series"]] == ["zip_only = 0", "zip_only = 0.023", "zip_only = 0.05"]
    assert by_zip["ylim"] == by_place["ylim"] and by_zip["ylim"][0] < 44100 and by_zip["ylim"][1] > 50900

    heat = metric["heatmap"]
    assert heat["x"]["categories"] == ["0", "0.023", "0.05"] and heat["y"]["categories"] == ["0", "0.01"]
    assert [[c["text"] for c in row] for row in heat["cells"]] == [["50,000", "47,700", "45,000"],
                                                                   ["48,000", "45,700", "n/a"]]
    precision = ctx["metrics"][2]["heatmap"]["cells"]
    assert precision[1][0]["text"] == "n/a" and precision[0][0]["text"] == "96.0%"


def test_categorical_and_lhs_contexts():
    ctx = sweep_context(categorical_summary())
    (param,) = ctx["parameters"]
    assert param["kind"] == "categorical" and param["short"] == "address_gate"
    fig = ctx["metrics"][0]["figures"][0]
    assert fig["categories"] == GATES and not fig["lines"]
    assert [q["x"] for q in fig["series"][0]["points"]] == [0, 1, 2]
    assert not ctx["grid2"] and all(m["heatmap"] is None for m in ctx["metrics"])
    # one seed: the mean alone, no interval; a rate undefined everywhere says so
    d = ctx["metrics"][0]["range"]
    assert d["text"] == "Disclosures: from 41,000 at address_gate = sufficient (point 2) to 47,000 at address_gate = nonblank (point 0)."
    assert ctx["metrics"][1]["range"]["low"]["point"] == 0     # a tie at 5.0%: the first point
    assert ctx["metrics"][2]["range"]["text"] == "Precision: n/a, no point has a value."
    assert ctx["failures"]["text"] == "None of the 3 units failed." and ctx["failures"]["table"] is None
    assert "single seed" in ctx["highlights"]["did"] and "the same seed (20250627)" in ctx["highlights"]["did"]

    ctx = sweep_context(lhs_summary())
    assert ctx["design"]["text"].startswith("a Latin hypercube of 6 points") and "design seed 7" in ctx["design"]["text"]
    assert [p["kind"] for p in ctx["parameters"]] == ["numeric", "numeric", "categorical"]
    assert ctx["parameters"][0]["what"] == "drawn from 0 to 0.05"
    for fig in ctx["metrics"][0]["figures"]:
        assert len(fig["series"]) == 1 and not fig["lines"] and not fig["legend"]
        assert sorted(q["point"] for q in fig["series"][0]["points"]) == list(range(len(LHS_POINTS)))
    assert [q["x"] for q in ctx["metrics"][0]["figures"][0]["series"][0]["points"]] == sorted(z for z, _, _ in LHS_POINTS)
    assert ctx["metrics"][0]["figures"][2]["categories"] == ["irs-2025", "statute-6103"]
    assert ctx["metrics"][0]["figures"][1]["xlim"] == [0.0, 0.02]      # a drawn parameter: its range
    means = [disclosed(z, p) for z, p, _ in LHS_POINTS]
    r = ctx["metrics"][0]["range"]
    assert (r["low"]["point"], r["high"]["point"]) == (means.index(min(means)), means.index(max(means)))
    assert r["low"]["values"] == "zip_only = 0.0178, placeholder = 0.019, policy = irs-2025"
    assert not ctx["grid2"]


def test_a_summary_that_is_not_a_sweep_is_refused_and_a_sparse_one_renders():
    with pytest.raises(InputError, match="not a sweep's"):
        sweep_context({"kind": "study", "policies": []})
    sparse = {"kind": "sweep", "sweep": "bare", "parameters": [{"key": ZIP, "values": [0.0, 0.05]}],
              "metrics": ["estimates.disclosed"], "columns": [ZIP],
              "points": [{"point": 0, "values": {ZIP: 0.0}, "metrics": {}},
                         {"point": 1, "values": {ZIP: 0.05}, "metrics": {"estimates.disclosed": {"mean": 10.0}}}]}
    html = render_sweep_html(sparse)
    assert "Parameter sweep: bare" in html and "No unit failed." in html
    assert html.count('src="data:image/svg+xml;base64,') == 1


# --------------------------------------------------------------------------------------------
# The document


@pytest.mark.parametrize("name", list(SUMMARIES))
def test_html_has_a_figure_per_metric_and_parameter_and_heatmaps_only_for_two_parameter_grids(name, rendered):
    summary, html = SUMMARIES[name](), rendered[name]
    keys = [p["key"] for p in summary["parameters"]]
    expected = {f"figure-{slug(m)}-{slug(k)}" for m in summary["metrics"] for k in keys}
    heatmaps = {f"figure-{slug(m)}-heatmap" for m in summary["metrics"]} if name == "grid" else set()
    figures = set(re.findall(r'<figure id="([^"]+)"', html))
    assert figures == expected | heatmaps
    assert html.count('<img src="data:image/svg+xml;base64,') == len(expected) + len(heatmaps)
    assert ("heatmap" in " ".join(figures)) == (name == "grid")
    # the table of every point has a row per point and a column per key of summary["columns"]
    table = html.split('id="table-points"')[1].split("</table>")[0]
    assert table.count("<tr") == 1 + len(summary["points"])
    assert all(f'title="{c}"' in table for c in summary["columns"])


def test_html_failures_and_how_to_reproduce(rendered):
    html = rendered["grid"]
    failures = html.split('id="sec-failures"')[1].split("</section>")[0]
    assert "EngineError: worker lost" in failures and failures.count("<tr>") == 1 + 4
    assert "None of the" in rendered["lhs"].split('id="sec-failures"')[1] and "table-failures" not in rendered["lhs"]
    assert "matchsim sweep configs/sweeps/address-quality.toml -o DIR --set" in html
    assert "study.replicates=1" in html and "ab12" * 16 in html and "9f2c" * 16 in html


@pytest.mark.parametrize("name", ["grid", "categorical"])
def test_the_unit_command_reruns_the_unit(name):
    """The appendix's command sets exactly the unit's config: parsed as a shell would and read
    back as --set does, it gives the sweep's fixed overrides, the point's values and one seed."""
    from sim.config import apply_overrides

    summary = SUMMARIES[name]()
    ctx = sweep_context(summary)
    args = shlex.split(ctx["provenance"]["unit_command"].replace("\\\n", " "))
    assert args[:5] == ["matchsim", "run", summary["base"], "-o", "DIR"]
    sets = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
    assert len(sets) == (len(args) - 5) // 2
    applied = apply_overrides({}, sets)

    def get(key):
        node = applied
        for part in key.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        return node

    failure = (summary["failures"] or [None])[0]
    point = summary["points"][failure["point"]] if failure else summary["points"][0]
    seed = failure["seed"] if failure else summary["seeds"][0]
    given = dict(line.split("=", 1) for line in summary.get("command_line_set", []))
    expected = {**summary["set"], **{k: json.loads(v) for k, v in given.items()}, **point["values"]}
    for key, value in expected.items():
        got = get(key)
        assert got == value and type(got) is type(value), (key, got, value)
    assert (get("seed"), get("study.replicates"), get("study.alternatives")) == (seed, 1, [])
    # a string that reads as another TOML type stays a string
    assert apply_overrides({}, [f"x={toml_value('true')}", f"y={toml_value('1.5')}"]) == {"x": "true", "y": "1.5"}


def test_html_escapes_user_text():
    bad = grid_summary()
    bad["sweep"] = f"q {HOSTILE_SCRIPT}"
    bad["description"] = f"{HOSTILE_MARKUP} {HOSTILE_SCRIPT}"
    bad["failures"][0]["error"] = f"ValueError: {HOSTILE_SCRIPT}\n{HOSTILE_MARKUP}"
    bad["set"] = {"scenario": HOSTILE_MARKUP, "world.scale": 0.01}
    cat = categorical_summary()
    cat["parameters"][0]["values"] = ["nonblank", HOSTILE_MARKUP]
    cat["points"] = cat["points"][:2]
    cat["points"][1]["values"][GATE] = HOSTILE_MARKUP
    for html in (render_sweep_html(bad), render_sweep_html(cat)):
        assert HOSTILE_SCRIPT not in html and "<b>tags</b>" not in html and "<script" not in html.lower()
        assert "&#34;quotes&#34; &amp; &lt;b&gt;tags&lt;/b&gt;" in html
        refs = re.findall(r'(?:src|href)="([^"]*)"', html)
        assert refs and all(r.startswith(("data:", "#")) for r in refs)
        assert "@import" not in html and "url(" not in html
        assert "default-src 'none'" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in render_sweep_html(bad)


def test_render_is_deterministic_with_source_date_epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    summary = grid_summary()
    html = render_sweep_html(summary)
    assert render_sweep_html(summary) == html
    assert render_sweep_html(json.loads(json.dumps(summary))) == html      # as re-read from summary.json
    assert "January 1, 2026" in html and '<meta name="date" content="2026-01-01">' in html
    changed = copy.deepcopy(summary)
    changed["points"][0]["metrics"]["estimates.disclosed"]["mean"] = 50500.0
    assert render_sweep_html(changed) != html


def test_write_sweep_report(monkeypatch, tmp_path):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    summary = categorical_summary()
    path = write_sweep_report(summary, tmp_path / "out")
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text(encoding="utf-8") == render_sweep_html(summary)
    with pytest.raises(OutputExistsError, match=r"report\.html.*--force"):
        write_sweep_report(summary, tmp_path / "out", force=False)
    path.write_text("old\n")
    assert write_sweep_report(summary, tmp_path / "out") == path and path.read_text() != "old\n"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html"]      # no temporary left


# --------------------------------------------------------------------------------------------
# In a real browser


@pytest.fixture(scope="module")
def browser():
    yield from launch(chromium_or_fail("the sweep report's browser tests"))


@pytest.mark.parametrize("name", ["grid", "lhs"])
def test_report_opens_in_chromium_without_errors_or_requests(name, rendered, browser, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(rendered[name], encoding="utf-8")
    url = path.resolve().as_uri()
    page, seen = open_page(browser, url=url)
    try:
        assert seen["errors"] == [] and seen["dialogs"] == []
        assert seen["requests"] and seen["requests"][0] == url
        assert all(u == url or u.startswith("data:") for u in seen["requests"]), seen["requests"]
        summary = SUMMARIES[name]()
        assert page.title() == f"Parameter sweep: {summary['sweep']}"
        for heading in ("Highlights", "1. The metrics against the parameters", "2. Every point", "3. Failed units",
                        "Appendix A. Provenance and how to reproduce"):
            assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
        images = page.eval_on_selector_all(
            "figure img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().width])")
        assert len(images) == rendered[name].count("<figure id=")
        for complete, natural, width in images:
            assert complete and natural > 0 and width > 250
        assert page.eval_on_selector_all("script", "els => els.length") == 0
    finally:
        page.close()


def test_hostile_text_does_not_run_in_chromium(browser):
    bad = grid_summary()
    bad["description"] = f"{HOSTILE_SCRIPT} {HOSTILE_MARKUP}"
    bad["failures"][0]["error"] = f"<img src=x onerror=alert(2)> {HOSTILE_MARKUP}"
    page, seen = open_page(browser, html=render_sweep_html(bad))
    try:
        assert seen["dialogs"] == [] and seen["errors"] == []
        assert all(u.startswith(("data:", "about:")) for u in seen["requests"]), seen["requests"]
        assert page.eval_on_selector_all("script", "els => els.length") == 0
        assert page.eval_on_selector_all("b", "els => els.filter(e => e.textContent === 'tags').length") == 0
        text = page.inner_text("body")
        assert HOSTILE_SCRIPT in text and HOSTILE_MARKUP in text and "<img src=x onerror=alert(2)>" in text
    finally:
        page.close()

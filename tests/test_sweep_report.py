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

from sim.common.errors import InputError, OutputExistsError
from sim.report.format import difference_cell, toml_value
from sim.report.sweep import render_sweep_html, sweep_context, write_sweep_report
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


def precision(z: float, p: float) -> float:
    return 1 - wrong(z, p) / disclosed(z, p)


DIFFERENCE = "point minus reference within each seed (the seeds both ran), mean over seeds, 95% Student-t interval of the mean"
#: The grid's reference point (zip_only = 0.023, placeholder = 0), named by its sweep file.
GRID_REF = 2


def grid_summary() -> dict:
    """zip_only x placeholder (3 x 2), three seeds. Point 4 lost one seed; point 5's config was
    invalid, so all its units failed and it has no metrics; point 1's precision is undefined.
    Point 2 is the reference: every other point's paired difference from it is its mean minus
    point 2's, with an interval much narrower than the points' own (120 disclosures either side
    against 900)."""
    points = []
    rz, rp = 0.023, 0.0
    for i, (z, p) in enumerate((z, p) for z in (0.0, 0.023, 0.05) for p in (0.0, 0.01)):
        points.append({
            "point": i, "values": {ZIP: z, PLACE: p, COMPLETE: round(0.625 - z - p, 6)},
            "config_sha256": f"{i:02d}" + "c0ffee" * 10 + "ab", "ok": 3, "failed": 0,
            "metrics": {"estimates.disclosed": iv(disclosed(z, p), 900.0),
                        "estimates.wrong_person_disclosures": iv(wrong(z, p), 150.0),
                        "rates.precision": iv(precision(z, p), 0.01)},
            "vs_reference": None if i == GRID_REF else {
                "estimates.disclosed": iv(disclosed(z, p) - disclosed(rz, rp), 120.0),
                "estimates.wrong_person_disclosures": iv(wrong(z, p) - wrong(rz, rp), 30.0),
                "rates.precision": iv(precision(z, p) - precision(rz, rp), 0.002)}})
    points[1]["metrics"]["rates.precision"] = iv(None)
    points[1]["vs_reference"]["rates.precision"] = iv(None, n=0)
    points[4].update(ok=2, failed=1)
    points[4]["metrics"] = {k: {**v, "n": 2} for k, v in points[4]["metrics"].items()}
    points[4]["vs_reference"] = {k: {**v, "n": 2} for k, v in points[4]["vs_reference"].items()}
    points[5].update(ok=0, failed=3, metrics={}, config_sha256=None, vs_reference=None)
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
        "reference": {"point": GRID_REF, "values": points[GRID_REF]["values"],
                      "reason": "named by the sweep file's reference", "difference": DIFFERENCE},
        "units": {"total": 18, "ok": 14, "failed": 4},
        "points": points,
        "failures": failures,
        "provenance": {"version": "0.1.0", "data_sha256": "d474" * 16,
                       "libraries": {"numpy": "2.4.6", "pyarrow": "26.0.1"}},
    }


GATES = ["nonblank", "zip_regex", "sufficient"]


def categorical_summary() -> dict:
    """The address path's gate, one seed: no intervals, and a rate undefined at every point.
    Point 0 (nonblank, the August 2025 gate) is the base scenario itself, so the reference; its
    differences, from one seed, have no interval."""
    points = [{"point": i, "values": {GATE: g}, "config_sha256": f"{i}" * 64, "ok": 1, "failed": 0,
               "metrics": {"estimates.disclosed": iv(47000.0 - 3000 * i, n=1),
                           "rates.wrong_person_rate": iv(0.05 + 0.02 * (i % 2), n=1),
                           "rates.precision": iv(None, n=1)},
               "vs_reference": None if i == 0 else {"estimates.disclosed": iv(-3000.0 * i, n=1),
                                                    "rates.wrong_person_rate": iv(0.02 * (i % 2), n=1),
                                                    "rates.precision": iv(None, n=0)}}
              for i, g in enumerate(GATES)]
    s = grid_summary()
    s.update(sweep="gates", description="Each address gate.", sweep_file="configs/sweeps/gates.toml", set={},
             parameters=[{"key": GATE, "values": GATES, "range": None, "balance": None}], columns=[GATE],
             seeds=SEEDS[:1], metrics=["estimates.disclosed", "rates.wrong_person_rate", "rates.precision"],
             reference={"point": 0, "values": {GATE: "nonblank"}, "reason": "the base scenario's own values",
                        "difference": DIFFERENCE},
             units={"total": 3, "ok": 3, "failed": 0}, points=points, failures=[])
    return s


LHS_POINTS = [(0.0031, 0.0112, "irs-2025"), (0.0447, 0.0031, "statute-6103"), (0.0178, 0.0190, "irs-2025"),
              (0.0282, 0.0007, "statute-6103"), (0.0093, 0.0154, "statute-6103"), (0.0391, 0.0068, "irs-2025")]


def lhs_summary() -> dict:
    """A Latin hypercube of 6 points over two ranges and a choice of policy, two seeds. No point
    is the base scenario and the sweep file names none: no reference."""
    points = [{"point": i, "values": {ZIP: z, PLACE: p, POLICY: pol, COMPLETE: round(0.625 - z - p, 6)},
               "config_sha256": f"{i}" * 64, "ok": 2, "failed": 0,
               "metrics": {"estimates.disclosed": iv(disclosed(z, p), 500.0, n=2),
                           "rates.recall": iv(0.8 - 2 * z, 0.02, n=2)},
               "vs_reference": None}
              for i, (z, p, pol) in enumerate(LHS_POINTS)]
    s = grid_summary()
    s.update(sweep="address-lhs", design={"kind": "lhs", "points": 6, "seed": 7, "digits": 6},
             parameters=[{"key": ZIP, "values": None, "range": [0.0, 0.05], "balance": COMPLETE},
                         {"key": PLACE, "values": None, "range": [0.0, 0.02], "balance": COMPLETE},
                         {"key": POLICY, "values": ["irs-2025", "statute-6103"], "range": None, "balance": None}],
             columns=[ZIP, PLACE, POLICY, COMPLETE], seeds=SEEDS[:2], metrics=["estimates.disclosed", "rates.recall"],
             reference=None, units={"total": 12, "ok": 12, "failed": 0}, points=points, failures=[])
    return s


def old_summary() -> dict:
    """The grid as a summary written before sweeps had a reference: no ``reference`` key, no
    point with ``vs_reference``."""
    s = grid_summary()
    del s["reference"]
    for p in s["points"]:
        del p["vs_reference"]
    return s


SUMMARIES = {"grid": grid_summary, "categorical": categorical_summary, "lhs": lhs_summary, "old": old_summary}


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
                         "to 50,000 [49,100-50,900] at zip_only = 0, placeholder = 0 (point 0). Each minus the "
                         "reference point 2, seed by seed: -2,700 [-2,820 to -2,580] at point 4, "
                         "+2,300 [+2,180 to +2,420] at point 0.")
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
    assert [r["index"] for r in rows] == list(range(6))
    assert [r["point"] for r in rows] == ["0", "1", "2 (reference)", "3", "4", "5"]
    assert [r["reference"] for r in rows] == [False, False, True, False, False, False]
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
    assert d["text"] == ("Disclosures: from 41,000 at address_gate = sufficient (point 2) to 47,000 at address_gate = "
                         "nonblank (point 0). Point 0 is the reference; point 2 minus it, on the same seed: -6,000.")
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
# The reference point and the paired differences from it


def test_difference_cell_is_signed_and_keeps_negative_bounds():
    c = difference_cell({"n": 3, "mean": -2700.0, "lo": -2820.0, "hi": -2580.0})
    assert (c["text"], c["range"], c["compact"]) == ("-2,700", "-2,820 to -2,580", "-2,700 [-2,820 to -2,580]")
    assert c["long"] == "-2,700 (95% interval -2,820 to -2,580)" and (c["lo"], c["hi"], c["n"]) == (-2820.0, -2580.0, 3)
    # an interval across 0 keeps its negative end (a level's would be cut at 0)
    assert difference_cell({"mean": 40.0, "lo": -35.4, "hi": 115.4})["compact"] == "+40 [-35 to +115]"
    # rates in percentage points; two decimals only when every figure is under one point
    assert difference_cell({"mean": 0.021216, "lo": 0.019216, "hi": 0.023216}, rate=True)["compact"] == \
        "+2.1 points [+1.9 to +2.3]"
    assert difference_cell({"mean": 0.0004, "lo": -0.0001, "hi": 0.0009}, rate=True)["compact"] == \
        "+0.04 points [-0.01 to +0.09]"
    assert difference_cell({"mean": 0.0, "lo": None, "hi": None}, rate=True)["compact"] == "0.0 points"
    assert difference_cell({"mean": -0.3, "lo": None, "hi": None})["text"] == "0"         # no "-0"
    assert difference_cell({"mean": 0.9, "lo": 0.5, "hi": 1.3}, rate=True)["range"] == "+50.0 to +100.0"
    assert difference_cell({"n": 0, "mean": None, "lo": None, "hi": None}, rate=True)["compact"] == "n/a"


def test_grid_context_has_the_reference_and_each_points_paired_difference():
    summary = grid_summary()
    ctx = sweep_context(summary)
    ref = ctx["reference"]
    assert (ref["point"], ref["reason"], ref["method"]) == (2, "named by the sweep file's reference", DIFFERENCE)
    assert ref["text"] == ("The reference point is point 2 (zip_only = 0.023, placeholder = 0), named by the sweep "
                           "file's reference.")
    assert ref["text"] in ctx["highlights"]["did"] and "(Section 2.1)" in ctx["highlights"]["did"]
    assert "each one's difference from the reference point 2, seed by seed" in ctx["highlights"]["moved_lead"]
    assert dict(ctx["provenance"]["facts"])["Reference point"] == (
        f"point 2 (zip_only = 0.023, placeholder = 0), named by the sweep file's reference; difference: {DIFFERENCE}")

    diff = ctx["differences"]
    assert diff["table"]["label"] == "Table 2" and ctx["failures"]["table"]["label"] == "Table 3"
    assert diff["caption"].startswith("Difference from the reference point, seed by seed: each point minus point 2")
    rows = diff["rows"]
    assert [r["point"] for r in rows] == ["0", "1", "2 (reference)", "3", "4", "5"]
    assert [r["reference"] for r in rows] == [False, False, True, False, False, False]
    assert rows[2]["cells"] == [] and rows[4]["param_values"] == ["0.05", "0"]
    # point 4 (one seed lost): the mean of its own 2 seeds minus the reference's on the same 2
    assert rows[4]["seeds"] == 2
    assert [c["compact"] for c in rows[4]["cells"]] == ["-2,700 [-2,820 to -2,580]", "+1,080 [+1,050 to +1,110]",
                                                       "-2.8 points [-3.0 to -2.6]"]
    assert [c["compact"] for c in rows[0]["cells"]] == ["+2,300 [+2,180 to +2,420]", "-920 [-950 to -890]",
                                                       "+2.1 points [+1.9 to +2.3]"]
    assert rows[0]["cells"][0]["mean"] == disclosed(0.0, 0.0) - disclosed(0.023, 0.0) == 2300
    # point 1's precision is undefined, so is its difference; point 5 never ran
    assert rows[1]["cells"][2]["text"] == "n/a" and rows[1]["cells"][0]["text"] == "+300" and not rows[1]["empty"]
    assert rows[5]["empty"] and rows[5]["seeds"] == "n/a" and [c["text"] for c in rows[5]["cells"]] == ["n/a"] * 3

    # the highlights compare each end with the reference, never the two ends with each other
    wrong_range = {m["key"]: m for m in ctx["metrics"]}["estimates.wrong_person_disclosures"]["range"]
    assert wrong_range["low"]["difference"]["compact"] == "-920 [-950 to -890]"
    assert wrong_range["text"].endswith("Each minus the reference point 2, seed by seed: -920 [-950 to -890] at "
                                        "point 0, +1,080 [+1,050 to +1,110] at point 4.")


def test_html_shows_the_paired_differences_and_marks_the_reference(rendered):
    html = rendered["grid"]
    points = html.split('id="table-points"')[1].split("</table>")[0]
    assert '<td class="text">2 (reference)</td>' in points and points.count("(reference)") == 1
    section = html.split('id="sec-points"')[1].split("</section>")[0]
    assert '<h3 id="sec-reference">2.1 Difference from the reference point, seed by seed</h3>' in section
    assert "The reference point is point 2 (zip_only = 0.023, placeholder = 0), named by the sweep file&#39;s " \
           "reference." in section
    table = section.split('id="table-differences"')[1].split("</table>")[0]
    assert "<caption>Table 2. Difference from the reference point, seed by seed" in table
    rows = {re.sub(r"<[^>]+>", "", body.split("</td>")[0]): attrs + ">" + body
            for attrs, body in re.findall(r"<tr([^>]*)>(.*?)</tr>", table)[1:]}
    assert list(rows) == ["0", "1", "2 (reference)", "3", "4", "5"]
    assert rows["2 (reference)"].startswith(' class="reference">') and "The reference: every other row" in rows["2 (reference)"]
    assert ('<td>2</td><td><span class="v">-2,700</span><span class="iv">[-2,820 to -2,580]</span></td>'
            '<td><span class="v">+1,080</span><span class="iv">[+1,050 to +1,110]</span></td>'
            '<td><span class="v">-2.8 points</span><span class="iv">[-3.0 to -2.6]</span></td>') in rows["4"]
    assert rows["5"].startswith(' class="empty"')
    assert "-2,700 [-2,820 to -2,580] at point 4" in html.split('aria-label="Highlights"')[1].split("</section>")[0]
    # the failures table is numbered after the differences
    assert "<caption>Table 3. Failed units" in html and "<caption>Table 4. The config of each point" in html


def test_single_seed_differences_have_no_interval(rendered):
    ctx = sweep_context(categorical_summary())
    assert ctx["reference"]["point"] == 0 and ctx["reference"]["reason"] == "the base scenario's own values"
    rows = ctx["differences"]["rows"]
    assert [r["point"] for r in rows] == ["0 (reference)", "1", "2"]
    assert [[c["compact"] for c in r["cells"]] for r in rows[1:]] == [["-3,000", "+2.0 points", "n/a"],
                                                                      ["-6,000", "0.0 points", "n/a"]]
    assert "one seed, so no interval" in ctx["differences"]["caption"]
    assert ctx["metrics"][1]["range"]["text"].endswith("Point 0 is the reference; point 1 minus it, on the same seed: "
                                                       "+2.0 points.")
    assert '<span class="v">-6,000</span></td>' in rendered["categorical"]


def test_a_sweep_without_a_reference_says_so_and_how_to_name_one(rendered):
    ctx = sweep_context(lhs_summary())
    ref = ctx["reference"]
    assert ref["point"] is None and ctx["differences"]["table"] is None and ctx["differences"]["rows"] == []
    assert ref["text"] == ("The sweep has no reference point: none of its points is the base scenario itself and the "
                           "sweep file names none, so points are compared here only by their own intervals, side by side.")
    # the example names point 0 by its swept values, as the sweep file's reference reads them
    assert ref["example"] == (f'reference = {{"{ZIP}" = 0.0031, "{PLACE}" = 0.0112, "{POLICY}" = "irs-2025"}}')
    assert ref["text"] in ctx["highlights"]["did"] and 'reference = { "<swept key>" = value, ... }' in ctx["highlights"]["did"]
    assert all(m["range"]["low"]["difference"] is None for m in ctx["metrics"])
    assert "Each minus the reference" not in " ".join(ctx["highlights"]["moved"])
    assert dict(ctx["provenance"]["facts"])["Reference point"] == "none"
    assert "(reference)" not in " ".join(r["point"] for r in ctx["points"]["rows"])
    html = rendered["lhs"]
    assert "table-differences" not in html and "<caption>Table 2. The config of each point" in html
    section = html.split('id="sec-points"')[1].split("</section>")[0]
    assert "The sweep has no reference point: none of its points is the base scenario itself" in section
    assert f"reference = {{&#34;{ZIP}&#34; = 0.0031," in section


def test_an_old_summary_without_reference_keys_renders(rendered):
    old, new = sweep_context(old_summary()), sweep_context(grid_summary())
    assert old["reference"]["point"] is None and old["differences"]["rows"] == []
    assert old["reference"]["text"].startswith("The summary names no reference point (a summary written before sweeps")
    # everything else is as the summary says, without a paired claim
    assert old["highlights"]["moved"][0] == ("Disclosures: from 45,000 [44,100-45,900] at zip_only = 0.05, "
                                             "placeholder = 0 (point 4) to 50,000 [49,100-50,900] at zip_only = 0, "
                                             "placeholder = 0 (point 0).")
    assert new["highlights"]["moved"][0].startswith(old["highlights"]["moved"][0])
    assert [r["point"] for r in old["points"]["rows"]] == [str(i) for i in range(6)]
    assert [r["cells"] for r in old["points"]["rows"]] == [r["cells"] for r in new["points"]["rows"]]
    html = rendered["old"]
    assert "table-differences" not in html and "(reference)" not in html
    assert "The summary names no reference point" in html and "<caption>Table 2. Failed units" in html
    # a summary that names a reference but whose reference point never ran: no difference is claimed
    broken = grid_summary()
    broken["points"][2].update(ok=0, failed=3, metrics={})
    for p in broken["points"]:
        p["vs_reference"] = None
    ctx = sweep_context(broken)
    assert ctx["reference"]["point"] == 2 and ctx["differences"]["table"] is None
    assert ctx["reference"]["text"].endswith("It has no result (every unit of it failed), so no point could be "
                                             "compared with it.")
    assert "Each minus the reference" not in " ".join(ctx["highlights"]["moved"])


# --------------------------------------------------------------------------------------------
# The document


@pytest.mark.parametrize("name", list(SUMMARIES))
def test_html_has_a_figure_per_metric_and_parameter_and_heatmaps_only_for_two_parameter_grids(name, rendered):
    summary, html = SUMMARIES[name](), rendered[name]
    keys = [p["key"] for p in summary["parameters"]]
    expected = {f"figure-{slug(m)}-{slug(k)}" for m in summary["metrics"] for k in keys}
    grid2 = summary["design"]["kind"] == "grid" and len(keys) == 2          # the grid, old or new
    heatmaps = {f"figure-{slug(m)}-heatmap" for m in summary["metrics"]} if grid2 else set()
    figures = set(re.findall(r'<figure id="([^"]+)"', html))
    assert figures == expected | heatmaps
    assert html.count('<img src="data:image/svg+xml;base64,') == len(expected) + len(heatmaps)
    assert ("heatmap" in " ".join(figures)) == grid2
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
    bad["reference"]["reason"] = f"{HOSTILE_SCRIPT} {HOSTILE_MARKUP}"
    cat = categorical_summary()
    cat["parameters"][0]["values"] = ["nonblank", HOSTILE_MARKUP]
    cat["points"] = cat["points"][:2]
    cat["points"][1]["values"][GATE] = HOSTILE_MARKUP
    for html in (render_sweep_html(bad), render_sweep_html(cat)):
        # the reference point's section too: the hostile gate value is in a row of the differences
        assert "&#34;quotes&#34; &amp; &lt;b&gt;tags&lt;/b&gt;" in html.split('id="sec-reference"')[1]
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
        for heading in ("Highlights", "1. The metrics against the parameters", "2. Every point",
                        "2.1 Difference from the reference point, seed by seed", "3. Failed units",
                        "Appendix A. Provenance and how to reproduce"):
            assert page.get_by_role("heading", name=heading, exact=True).is_visible(), heading
        if name == "grid":
            row = page.locator("#table-differences tr.reference")
            assert row.is_visible() and row.inner_text().startswith("2 (reference)")
            assert page.locator("#table-differences").inner_text().count("[-2,820 to -2,580]") == 1
        else:
            assert page.locator("#table-differences").count() == 0
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

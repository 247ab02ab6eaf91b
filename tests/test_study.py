"""sim.studies.study: the main job over replicate seeds and alternative policies. Every unit is the
single run it claims to be; the aggregates are the statistics of the units; the outputs do not
depend on how many processes ran them."""

from __future__ import annotations

import json
import math

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sim.cli import cli
from sim.config import load_config
from sim.report.notes import parameter_notes
from sim.common.errors import ConfigError
from sim.common.metrics import COUNT_KEYS, RATE_KEYS
from sim.runs.pipeline import DECISIONS_FILE, run
from sim.common.stats import interval
from sim.common.summaries import SUMMARY_FILE
from sim.studies.study import run_and_write_study, run_study, unit_dir, write_study

SCALE = ["world.scale=0.0005"]
# two replicates, the baseline and one alternative: small, and enough to test everything
SMALL = [*SCALE, "study.replicates=2", 'study.alternatives=[]']


@pytest.fixture(scope="module")
def study(baseline_config_path):
    # the baseline and its first alternative (statute-6103) over two seeds
    config = load_config(baseline_config_path, [*SCALE, "study.replicates=2"])
    config = config.model_copy(update={"study": config.study.model_copy(update={"alternatives": config.study.alternatives[:1]})})
    return run_study(config, jobs=1)


def test_every_unit_is_the_single_run_of_its_seed_and_policy(study, baseline_config_path):
    assert [(u.summary["policy"], u.summary["seed"]) for u in study.units] == [
        ("irs-2025", 20250627), ("statute-6103", 20250627), ("irs-2025", 20250628), ("statute-6103", 20250628)]
    for unit in study.units:
        alone = load_config(baseline_config_path, [*SCALE, f"seed={unit.summary['seed']}", f"policy={unit.summary['policy']}"])
        single = run(alone)
        assert json.dumps(single.summary) == json.dumps(unit.summary)
        assert _bytes(single.decisions) == _bytes(unit.decisions)     # NaN scores compare equal as bytes


def _bytes(table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return sink.getvalue().to_pybytes()


def test_aggregates_are_the_statistics_of_the_units(study):
    for policy in study.summary["policies"]:
        units = [u.summary for u in study.units if u.summary["policy"] == policy["name"]]
        agg = policy["aggregate"]
        for key in COUNT_KEYS:
            values = [u["estimates"][key] for u in units]
            assert agg["estimates"][key]["mean"] == pytest.approx(sum(values) / len(values), abs=0.05)
            assert agg["estimates"][key]["min"] == min(values) and agg["estimates"][key]["max"] == max(values)
            iv = agg["estimates"][key]
            assert iv["lo"] <= iv["mean"] <= iv["hi"]
        for key in RATE_KEYS:
            values = [u["rates"][key] for u in units if u["rates"][key] is not None]
            if values:
                assert agg["rates"][key]["mean"] == pytest.approx(sum(values) / len(values), abs=1e-6)
        # a breakdown's categories add up to the whole
        by_path = agg["breakdowns"]["path"]
        assert sum(c["disclosed"]["mean"] for c in by_path.values()) == pytest.approx(agg["estimates"]["disclosed"]["mean"], abs=1)
        assert [u["seed"] for u in policy["units"]] == [20250627, 20250628]


def test_interval_is_the_student_t_interval_of_the_mean():
    iv = interval([10.0, 12.0, 14.0])
    half = 4.302652729911275 * 2.0 / math.sqrt(3)     # t(0.975, 2) * sd / sqrt(n)
    assert iv["mean"] == 12.0 and iv["sd"] == 2.0
    assert iv["lo"] == pytest.approx(12 - half, abs=1e-6) and iv["hi"] == pytest.approx(12 + half, abs=1e-6)
    one = interval([5.0])
    assert one["mean"] == 5.0 and one["lo"] is None and one["hi"] is None
    assert interval([None, None])["mean"] is None and interval([None, 3.0])["n"] == 1


def test_published_figures_sit_beside_the_baseline_with_their_verdict(study):
    rows = {r["name"]: r for r in study.summary["published"]}
    row = rows["disclosures"]
    baseline = study.summary["policies"][0]["aggregate"]["estimates"]["disclosed"]
    assert row["published"] == 47_289 and row["simulated"]["mean"] == pytest.approx(baseline["mean"], abs=0.05)
    assert row["difference"] == pytest.approx(row["simulated"]["mean"] - 47_289, abs=1e-6)
    lo, hi = row["bounds"]
    assert (lo, hi) == pytest.approx((47_289 * 0.985, 47_289 * 1.015))
    assert row["within"] == (lo <= row["simulated"]["mean"] <= hi)
    assert rows["share of disclosures on a deficient address"]["bounds"] == [0.04, 0.05]
    assert rows["disclosures through address matching"]["within"] is None      # derived: shown only


def test_the_summary_traces_to_config_seeds_and_version(study):
    s = study.summary
    assert s["seeds"] == [20250627, 20250628] and s["replicates"] == 2 and s["baseline_policy"] == "irs-2025"
    assert s["config_sha256"] == study.config.sha256(without=("policy.matcher", "study.alternatives.*.matcher", "calibration"))
    assert set(s["world_sha256"]) == {"20250627", "20250628"}
    units = s["policies"][0]["units"]
    assert units[0]["dir"] == unit_dir("irs-2025", 20250627).as_posix() == "runs/irs-2025/seed-20250627"


def test_replicates_in_parallel_give_the_same_summary(baseline_config_path):
    config = load_config(baseline_config_path, SMALL)
    assert json.dumps(run_study(config, jobs=2).summary) == json.dumps(run_study(config, jobs=1).summary)


def test_written_as_it_runs_the_study_is_the_one_written_at_the_end(baseline_config_path, study, tmp_path):
    """run_and_write_study (what matchsim run does: each replicate's units written as it
    arrives, their decisions then dropped) writes exactly what write_study writes."""
    streamed = run_and_write_study(study.config, tmp_path / "streamed", jobs=2)
    assert all(u.decisions is None for u in streamed.units)
    write_study(study, tmp_path / "held")
    files = sorted(p.relative_to(tmp_path / "held") for p in (tmp_path / "held").rglob("*") if p.is_file())
    assert len(files) == 1 + 2 * 2 * len(study.config.policies())
    for f in files:
        assert (tmp_path / "streamed" / f).read_bytes() == (tmp_path / "held" / f).read_bytes(), f


def test_a_policy_that_is_also_an_alternative_runs_once(baseline_config_path):
    config = load_config(baseline_config_path, ["policy=statute-6103"])
    names = [p.name for p in config.policies()]
    assert names[0] == "statute-6103" and names.count("statute-6103") == 1


def test_alternatives_are_resolved_renamed_and_changed(baseline_config_path):
    config = load_config(baseline_config_path)
    by_name = {p.name: p for p in config.study.alternatives}
    assert by_name["probabilistic"].paths[0].fellegi_sunter.match_probability_threshold == 0.99
    assert by_name["careful-deterministic"].paths[0].rules == ({"name_control": "exact", "date_of_birth": "one_part"},)
    entity = by_name["irs-2025-entity-check"]
    assert entity.paths[1].rules == ({"name_control": "exact", "street6": "exact", "zip5": "exact"},)
    assert entity.description.startswith("IRS August 2025, with the address path's rule the bare entity check")
    assert config.study.published.file == "published-2025"


def test_a_bad_alternative_is_a_clear_problem(tmp_path, baseline_config_path):
    for shipped in baseline_config_path.parent.glob("*.toml"):
        (tmp_path / shipped.name).write_bytes(shipped.read_bytes())
    scenario = tmp_path / "s.toml"

    def problems_with(alternative: str) -> list[str]:
        """The problems of the baseline with one more [[study.alternatives]] entry."""
        scenario.write_text((tmp_path / "august-2025.toml").read_text() + "\n[[study.alternatives]]\n" + alternative)
        with pytest.raises(ConfigError) as info:
            load_config(scenario)
        return info.value.problems

    problems = problems_with('name = "typo"\npolicy = "statute-6013"\n')
    assert "policy: no policy file" in problems[0] and "statute-6103" in problems[0]
    problems = problems_with('name = "probabilistic-lax"\npolicy = "probabilistic"\nset = { "paths.7.address_gate" = "none" }\n')
    assert problems == ["study.alternatives.4.set: 'paths.7' is not an item of the list 'paths' (it has 1, numbered from 0)"]
    problems = problems_with('name = "statute-6103"\npolicy = "statute-6103"\nset = { "paths.0.address_gate" = "none" }\n')
    assert "must have distinct names" in problems[0] and "give each alternative its own name" in problems[0]


def test_every_parameter_carries_the_note_of_the_config_file(study, baseline_config_path):
    notes = parameter_notes(baseline_config_path)
    assert notes["world.scale"].startswith("(0, 1]: share of the country simulated")
    assert "ACS 2023" in notes["world.households.renter_share_general"]
    assert notes["policy.paths.0.address_gate"].startswith("none | nonblank | zip_regex | sufficient")
    from sim.studies.study import parameters

    rows = {r["key"]: r for r in parameters(study.config, notes)}
    assert rows["world.scale"]["value"] == 0.0005
    assert rows["world.requests.address.classes.zip_only"]["note"]   # inherits its table's note
    assert rows["policy.paths.1.rules.0.first_name"]["value"] == 0.92


# --- the command line ----------------------------------------------------------------------


def test_run_command_writes_every_unit_and_the_study_summary(baseline_config_path, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["run", str(baseline_config_path), "-o", str(out), *sum((["--set", s] for s in SMALL), []),
                                      "--no-report", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert sorted(p.name for p in out.iterdir()) == ["runs", "summary.json"]
    for seed in (20250627, 20250628):
        unit = out / unit_dir("irs-2025", seed)
        unit_summary = json.loads((unit / SUMMARY_FILE).read_text())
        assert pq.read_table(unit / DECISIONS_FILE).num_rows == unit_summary["simulated"]["requests"]
        assert pq.read_schema(unit / DECISIONS_FILE).metadata[b"matchsim.config_sha256"].decode() == unit_summary["config_sha256"]
    lines = result.output.splitlines()
    assert lines[0].startswith("scenario 'august-2025' at scale 0.0005, 2 replicates (seeds 20250627..20250628)")
    assert any(line.lstrip().startswith("irs-2025 ") for line in lines)
    assert any("published" in line and "47,289" in line for line in lines)
    assert summary["policies"][0]["name"] == "irs-2025"


def test_a_unit_reproduced_alone_has_the_hash_the_study_reported(baseline_config_path, tmp_path):
    study_cfg = load_config(baseline_config_path, SMALL)
    alone = load_config(baseline_config_path, [*SCALE, "seed=20250628", "study.replicates=1"])
    assert run(study_cfg.model_copy(update={"seed": 20250628})).summary["config_sha256"] == alone.sha256(
        without=("policy.matcher", "study", "calibration"))


def test_thresholds_of_one_model_share_its_fit_and_decide_as_alone(baseline_config_path):
    from sim.runs.pipeline import _matching_key, run_policies

    config = load_config(baseline_config_path, SCALE)
    model = next(p for p in config.study.alternatives if p.name == "probabilistic")

    def at(threshold: dict, name: str):
        path = model.paths[0]
        fs = path.fellegi_sunter.model_copy(update={"match_probability_threshold": None, "match_weight_threshold": None, **threshold})
        return model.model_copy(update={"name": name, "paths": (path.model_copy(update={"fellegi_sunter": fs}),)})

    low, high = at({"match_probability_threshold": 0.5}, "p50"), at({"match_weight_threshold": 12.0}, "w12")
    assert _matching_key(low) == _matching_key(high) != _matching_key(config.policy)
    together = run_policies(config, [low, high])
    alone = run(config.model_copy(update={"policy": high}))
    assert json.dumps(together[1].summary) == json.dumps(alone.summary)
    assert together[0].summary["simulated"]["disclosed"] > together[1].summary["simulated"]["disclosed"]
    assert together[0].summary["fellegi_sunter"] == together[1].summary["fellegi_sunter"]


def test_replicate_seeds_must_stay_seeds(baseline_config_path):
    with pytest.raises(ConfigError) as info:
        load_config(baseline_config_path, [f"seed={2**63 - 3}", "study.replicates=5"])
    assert info.value.problems == [f"(top level): seed {2**63 - 3} with 5 replicates (seeds seed..seed+4) passes the "
                                   "largest seed, 2**63 - 1; lower the seed"]
    assert load_config(baseline_config_path, [f"seed={2**63 - 3}", "study.replicates=3"]).study.replicates == 3


def test_funnel_stages_get_intervals_from_each_seed(study):
    agg = study.summary["policies"][0]["aggregate"]
    e = agg["estimates"]
    funnel = agg["funnel"]
    assert set(funnel) == {"all", "address", "tin"}
    passed = e["requests"]["mean"] - e["gated"]["mean"] - e["no_path"]["mean"]
    assert funnel["all"]["passed_gate"]["mean"] == pytest.approx(passed, abs=2)   # estimates are rounded per seed
    assert funnel["all"]["matched"]["mean"] == pytest.approx(e["disclosed"]["mean"] + e["ambiguous"]["mean"], abs=2)
    assert funnel["all"]["matched"]["lo"] is not None
    by_path = sum(funnel[p]["matched"]["mean"] for p in ("tin", "address"))
    assert by_path == pytest.approx(funnel["all"]["matched"]["mean"], abs=0.5)


def test_a_fellegi_sunter_alternative_is_compared_at_the_baseline_volume(baseline_config_path):
    """The model's frontier, over seeds, and its point at the IRS's number of disclosures on each
    world: the comparison at the same volume that the report quotes."""
    config = load_config(baseline_config_path, [*SCALE, "study.replicates=2"])
    model = next(p for p in config.study.alternatives if p.name == "probabilistic")
    config = config.model_copy(update={"study": config.study.model_copy(update={"alternatives": (model,)})})
    study = run_study(config, jobs=1)
    baseline, fs = study.summary["policies"]
    assert baseline["same_volume"] is None and baseline["frontier"] == []
    units = {u.summary["seed"]: u for u in study.units if u.summary["policy"] == "irs-2025"}
    volume = fs["same_volume"]
    assert volume["reference"] == "irs-2025" and [u["seed"] for u in volume["units"]] == [20250627, 20250628]
    for point in volume["units"]:
        reference = units[point["seed"]].summary["simulated"]
        assert point["volume"] == reference["disclosed"] >= point["disclosed"]
        assert point["reference_wrong_person_disclosures"] == reference["wrong_person_disclosures"]
    assert volume["fewer_wrong_person_disclosures"]["mean"] == pytest.approx(
        volume["reference_wrong_person_disclosures"]["mean"] - volume["wrong_person_disclosures"]["mean"], abs=0.2)
    # the frontier: one interval per weight, the mean the mean of the seeds' national estimates
    mine = [u.summary for u in study.units if u.summary["policy"] == "probabilistic"]
    k = len(fs["frontier"]) // 2
    want = sum(u["frontier"][k]["disclosed"] * u["estimate_factor"] for u in mine) / 2
    assert fs["frontier"][k]["disclosed"]["mean"] == pytest.approx(want, abs=0.05)


def test_no_policys_matcher_changes_a_studys_hash(baseline_config_path):
    """The matchers give identical results, so which one a policy or an alternative names is not
    part of a study's identity (the alternatives' once was)."""
    from sim.studies.study import NOT_STUDY

    with_alternatives = [*SCALE, "study.replicates=2"]
    base = load_config(baseline_config_path, with_alternatives)
    assert len(base.study.alternatives) >= 2
    for change in ("policy.matcher=recordlinkage", "study.alternatives.0.matcher=recordlinkage"):
        other = load_config(baseline_config_path, [*with_alternatives, change])
        assert other != base and other.sha256(without=NOT_STUDY) == base.sha256(without=NOT_STUDY), change
    assert load_config(baseline_config_path, [*with_alternatives, "study.alternatives.0.paths.0.address_gate=none"]).sha256(
        without=NOT_STUDY) != base.sha256(without=NOT_STUDY)

"""The main job: a scenario over several seeds, matched under its policy and the alternatives.

One run (:func:`sim.runs.pipeline.run`) is one world under one policy. An audit needs more: the
same world under the rules the IRS could have used instead, and figures with an interval rather
than a single draw. :func:`run_study` generates ``study.replicates`` worlds (seeds ``seed``,
``seed + 1``, ...: each draws its own sample of ZIP areas at scale < 1, and its own people), and
matches each under the scenario's policy and every ``study.alternatives`` policy. Every
(policy, seed) is a *unit*, identical to ``matchsim run CONFIG --set seed=S --set policy=...``
and written as such under ``runs/<policy>/seed-<S>/``. The study summary aggregates the units:
for each figure the mean over seeds with a 95% Student-t interval (the uncertainty of the mean
from seed-to-seed variation: sampling of areas, people and errors; not the uncertainty of the
assumptions, which the sweeps explore), and the published figures beside the simulated ones.

Replicates run one after another, each world's blocks spread over the engine's workers
(:mod:`sim.common.parallel`); every block is deterministic, so the number of workers changes nothing in
the outputs.

>>> from sim.config import load_config                                           # doctest: +SKIP
>>> study = run_study(load_config("configs/august-2025.toml", ["world.scale=0.001"]))  # doctest: +SKIP
>>> study.summary["policies"][0]["aggregate"]["estimates"]["disclosed"]["mean"]   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sim import evaluate
from sim.common import metrics
from sim.config import Config, TargetConfig
from sim.common.io import output_dir
from sim.common.metrics import metric
from sim.common.parallel import Engine, engine_or_local, release_free_heap
from sim.runs.pipeline import NOT_RUN, RunResult, run_policies, write_run
from sim.common.provenance import provenance
from sim.common.stats import INTERVAL_LEVEL, INTERVAL_METHOD, interval, seed_differences
from sim.common.summaries import write_summary
from sim.common.text import count, interval_text, percent
from sim.world.generate import NOT_WORLD

#: What a study summary leaves out of its config hash: only how it was executed, and the record
#: of the calibration (its fitted values are in the config itself).
NOT_STUDY = ("policy.matcher", "study.alternatives.*.matcher", "calibration")
RUNS_DIR = "runs"


@dataclass
class StudyResult:
    """What :func:`run_study` produced: every unit's result, and the study summary."""

    config: Config
    units: list[RunResult]
    summary: dict

    def summary_lines(self) -> list[str]:
        return summary_lines(self.summary)


def replicate_seeds(config: Config) -> list[int]:
    """The seeds of a study's replicates: ``seed``, ``seed + 1``, ..."""
    return [config.seed + i for i in range(config.study.replicates)]


def run_study(config: Config, *, matcher: str | None = None, engine: Engine | None = None, jobs: int | None = None,
              progress: bool = False, notes: Mapping[str, str] | None = None,
              write_to: str | Path | None = None) -> StudyResult:
    """Run every (policy, seed) unit of ``config``'s study and aggregate them.

    With ``write_to`` (a study directory), each replicate's units are written there
    (``runs/<policy>/seed-<S>/``) as the replicate arrives and their decisions are not kept (``decisions`` is None): memory then
    holds one replicate's decisions at a time, not the study's, which a national study needs.

    Replicates run one after another, each world's blocks spread over ``engine`` (default: a
    local engine of ``jobs`` processes, one per core): memory holds one world's decisions here
    and one block in each worker, whatever the scale and the number of replicates (replicates
    side by side would hold a whole world in every worker). The outputs do not depend on the
    engine or its number of workers. ``matcher`` overrides every policy's matcher. ``notes``
    (:func:`sim.report.notes.parameter_notes`) document each parameter in the summary.
    """
    by_seed, volumes = [], []
    with engine_or_local(engine, jobs=jobs) as engine:
        for seed in replicate_seeds(config):   # each world's blocks are the parallel work, with their own bars
            replicate = _replicate(config, seed, matcher, progress, engine)
            volumes += same_volume(config, replicate)
            by_seed.append(_kept(replicate, write_to))
    units = [unit for replicate in by_seed for unit in replicate]
    return StudyResult(config, units, summarize_study(config, units, notes=notes, same_volume=volumes))


def same_volume(config: Config, replicate: Sequence[RunResult]) -> list[dict]:
    """For each Fellegi-Sunter policy of one seed's world: its frontier's point at the baseline
    policy's number of disclosures on that world (:func:`sim.evaluate.at_volume`). The fair
    comparison of a model with the IRS's procedure: the same number of addresses disclosed, how
    many to the wrong person? Read from the decisions, while the replicate still holds them."""
    by_name = {unit.summary["policy"]: unit for unit in replicate}
    baseline = by_name[config.policy.name].summary
    out = []
    for policy in config.policies()[1:]:
        fs_paths = evaluate.fellegi_sunter_paths(policy)
        unit = by_name.get(policy.name)
        if not fs_paths or unit is None or unit.decisions is None:
            continue
        point = evaluate.at_volume(unit.decisions, fs_paths, baseline["simulated"]["disclosed"])
        out.append({"policy": policy.name, "seed": baseline["seed"], "reference": config.policy.name,
                    "estimate_factor": unit.summary["estimate_factor"],
                    "reference_wrong_person_disclosures": baseline["simulated"]["wrong_person_disclosures"], **point})
    return out


def _kept(replicate: list[RunResult], write_to: str | Path | None) -> list[RunResult]:
    """A replicate's units as the study keeps them: whole, or written to ``write_to`` and kept
    without their decisions (``replicate`` is emptied, so that nothing holds them), whose memory
    goes back to the system before the next world: glibc would keep it, and a national study's
    main process then held 2.3 GB from the end of its first world on, where it holds 0.5-0.9 GB
    while a world's blocks run (the five-world national study's peak: 8.5 GiB before, 5.98 GiB
    after)."""
    if write_to is None:
        return replicate
    _write_units(replicate, Path(write_to))
    kept = [replace(unit, decisions=None) for unit in replicate]
    replicate.clear()
    release_free_heap()
    return kept


def _write_units(units: Sequence[RunResult], out_dir: Path) -> None:
    """Each unit's decisions.parquet and summary.json, under ``out_dir/runs/<policy>/seed-<S>/``."""
    for unit in units:
        write_run(unit, out_dir / unit_dir(unit.summary["policy"], unit.summary["seed"]))


def _replicate(config: Config, seed: int, matcher: str | None, progress: bool = False,
               engine: Engine | None = None) -> list[RunResult]:
    """One seed's world under every policy of the study, its blocks spread over ``engine``."""
    replicate = config.model_copy(update={"seed": seed})
    return run_policies(replicate, config.policies(), matcher=matcher, engine=engine, progress=progress)


# --------------------------------------------------------------------------------------------
# Aggregation


def aggregate(units: Sequence[Mapping]) -> dict:
    """Every count, estimate and rate of a policy's unit summaries, as :func:`interval` s; the
    breakdowns as intervals of the national estimates of each count and of each rate within the
    category; the address ages as intervals of each quartile."""
    out: dict = {"estimates": {}, "simulated": {}, "rates": {}, "breakdowns": {}}
    for key in metrics.COUNT_KEYS:
        out["estimates"][key] = interval([u["estimates"][key] for u in units], digits=1)
        out["simulated"][key] = interval([u["simulated"][key] for u in units], digits=3)
    for key in metrics.RATE_KEYS:
        out["rates"][key] = interval([u["rates"][key] for u in units])
    # the funnel's two stages that are not counted directly, per seed, so they get intervals too
    paths = sorted({c for u in units for c in u["breakdowns"]["path"]})
    out["funnel"] = {
        where: {stage: interval([_funnel_stage(u, where, stage) for u in units], digits=1) for stage in FUNNEL_STAGES}
        for where in ["all", *paths]
    }
    for name in metrics.BREAKDOWNS:
        categories = sorted({c for u in units for c in u["breakdowns"][name]})
        out["breakdowns"][name] = {}
        for category in categories:
            # each unit's rates within the category, computed once (None where it has none)
            rates = [evaluate.rates(c) if (c := u["breakdowns"][name].get(category)) else None for u in units]
            out["breakdowns"][name][category] = {
                key: _short(interval([_scaled(u, name, category, key) for u in units], digits=1))
                for key in metrics.COUNT_KEYS
            } | {
                key: _short(interval([r[key] if r else None for r in rates]))
                for key in metrics.RATE_KEYS
            }
    groups = sorted({g for u in units for g in u.get("address_ages", {})})
    out["address_ages"] = {
        group: {stat: _short(interval([u["address_ages"].get(group, {}).get(stat) for u in units], digits=4))
                for stat in metrics.AGE_QUARTILES}
        for group in groups
    }
    return out


def paired_differences(units: Sequence[Mapping], baseline: Sequence[Mapping]) -> dict:
    """Each national estimate of a policy minus the baseline's, seed by seed, as intervals.

    Every policy is matched against the same worlds, so the difference within a seed carries
    none of the seed-to-seed variation both share: its interval is much tighter than the two
    policies' intervals side by side suggest.
    """
    diffs = seed_differences(units, baseline, [f"estimates.{key}" for key in metrics.COUNT_KEYS], digits=1)
    return {key: diffs[f"estimates.{key}"] for key in metrics.COUNT_KEYS}


#: Funnel stages derived from the counts: requests the address gate let through (neither gated
#: nor without a path), and requests with at least one candidate meeting the rule (disclosed, or
#: ambiguous: several, none disclosed).
FUNNEL_STAGES = ("passed_gate", "matched")


def _funnel_stage(unit: Mapping, where: str, stage: str) -> float:
    counts = unit["simulated"] if where == "all" else unit["breakdowns"]["path"].get(where)
    if not counts:
        return 0.0
    if stage == "passed_gate":
        value = counts["requests"] - counts["gated"] - counts["no_path"]
    else:
        value = counts["disclosed"] + counts["ambiguous"]
    return value * unit["estimate_factor"]


def _scaled(unit: Mapping, name: str, category: str, key: str) -> float:
    counts = unit["breakdowns"][name].get(category)
    return (counts[key] if counts else 0) * unit["estimate_factor"]


def _short(iv: dict) -> dict:
    return {k: iv[k] for k in ("mean", "lo", "hi")}


def compare_published(targets: Sequence[TargetConfig], baseline_units: Sequence[Mapping]) -> list[dict]:
    """Each published figure beside the baseline policy's simulated one: the interval, the
    difference and whether the mean falls within the target's tolerance or range."""
    rows = []
    for target in targets:
        iv = interval([metric(u, target.metric) for u in baseline_units])
        mean = iv["mean"]
        bounds = target.bounds()
        diff = None if mean is None else mean - target.value
        rows.append({
            "name": target.name,
            "metric": target.metric,
            "published": target.value,
            "tolerance": target.tolerance,
            "range": list(target.range) if target.range else None,
            "bounds": list(bounds) if bounds else None,
            "source": target.source,
            "simulated": iv,
            "difference": None if diff is None else round(diff, 6),
            "relative_difference": None if diff is None or target.value == 0 else round(diff / target.value, 6),
            "within": None if bounds is None or mean is None else bool(bounds[0] <= mean <= bounds[1]),
        })
    return rows


def aggregate_frontier(units: Sequence[Mapping]) -> list[dict]:
    """A policy's frontier over seeds: at each weight, the national estimates of disclosures,
    right and wrong, and precision and recall, as :func:`interval` s."""
    units = [u for u in units if u.get("frontier")]
    if not units:
        return []
    out = []
    for i, point in enumerate(units[0]["frontier"]):
        row = {"match_weight": point["match_weight"], "match_probability": point["match_probability"]}
        for key in ("disclosed", "right_person_disclosures", "wrong_person_disclosures"):
            row[key] = _short(interval([u["frontier"][i][key] * u["estimate_factor"] for u in units], digits=1))
        for key in ("precision", "recall"):
            row[key] = _short(interval([u["frontier"][i][key] for u in units]))
        out.append(row)
    return out


def aggregate_same_volume(points: Sequence[Mapping]) -> dict | None:
    """One policy's :func:`same_volume` points over seeds: national estimates with intervals,
    and the wrong-person disclosures it saves against the reference, seed by seed."""
    if not points:
        return None
    def est(key: str) -> dict:
        return _short(interval([p[key] * p["estimate_factor"] for p in points], digits=1))

    return {
        "reference": points[0]["reference"],
        "units": [{k: p[k] for k in ("seed", "volume", "match_weight", "match_probability", "disclosed",
                                     "wrong_person_disclosures", "reference_wrong_person_disclosures")} for p in points],
        "disclosed": est("disclosed"),
        "right_person_disclosures": est("right_person_disclosures"),
        "wrong_person_disclosures": est("wrong_person_disclosures"),
        "reference_wrong_person_disclosures": est("reference_wrong_person_disclosures"),
        "fewer_wrong_person_disclosures": _short(interval(
            [(p["reference_wrong_person_disclosures"] - p["wrong_person_disclosures"]) * p["estimate_factor"] for p in points],
            digits=1)),
        "precision": _short(interval([p["precision"] for p in points])),
        "recall": _short(interval([p["recall"] for p in points])),
        "match_weight": _short(interval([p["match_weight"] for p in points])),
    }


def summarize_study(config: Config, units: Sequence[RunResult], *, notes: Mapping[str, str] | None = None,
                    same_volume: Sequence[Mapping] = ()) -> dict:
    """The study's ``summary.json``: provenance, each policy's units and aggregate, the
    comparison with the published figures, and every parameter with its documentation.
    Everything the report shows is in here."""
    seeds = replicate_seeds(config)
    baseline = [u.summary for u in units if u.summary["policy"] == config.policy.name]
    policies = []
    for i, policy in enumerate(config.policies()):
        mine = [u.summary for u in units if u.summary["policy"] == policy.name]
        policies.append({
            "name": policy.name,
            "description": policy.description,
            "role": "baseline" if i == 0 else "alternative",
            "policy_sha256": policy.sha256(without=("matcher",)),
            "units": [{"seed": u["seed"], "config_sha256": u["config_sha256"], "dir": unit_dir(policy.name, u["seed"]).as_posix()}
                      for u in mine],
            "aggregate": aggregate(mine),
            "vs_baseline": None if i == 0 else paired_differences(mine, baseline),
            "fellegi_sunter": {str(u["seed"]): u["fellegi_sunter"] for u in mine if u["fellegi_sunter"]},
            "frontier": aggregate_frontier(mine),
            "same_volume": aggregate_same_volume([p for p in same_volume if p["policy"] == policy.name]),
        })
    published = config.study.published
    return {
        "scenario": config.scenario,
        "baseline_policy": config.policy.name,
        "seed": config.seed,
        "seeds": seeds,
        "replicates": len(seeds),
        "scale": config.world.scale,
        "n_requests": config.world.n_requests,
        "interval": {"level": INTERVAL_LEVEL, "method": INTERVAL_METHOD},
        "config_sha256": config.sha256(without=NOT_STUDY),
        "world_sha256": {str(u["seed"]): u["world_sha256"] for u in baseline},
        **provenance(),
        "policies": policies,
        "published_file": published.file if published else None,
        "published": compare_published(published.targets, baseline) if published else [],
        "calibration": config.calibration,
        "parameters": parameters(config, notes or {}),
        "config": config.to_dict(without=NOT_STUDY),
    }


def parameters(config: Config, notes: Mapping[str, str]) -> list[dict]:
    """Every setting of the world and the baseline policy as ``{key, value, note}``; a key
    without a note of its own takes its nearest table's (the shares of one set share one)."""
    rows = []

    def walk(node, key: str) -> None:
        if isinstance(node, dict) and node:
            for k, v in node.items():
                walk(v, f"{key}.{k}" if key else k)
        elif isinstance(node, list) and node and all(isinstance(v, dict) for v in node):
            for i, v in enumerate(node):
                walk(v, f"{key}.{i}")
        else:
            rows.append({"key": key, "value": node, "note": _note(key, notes)})

    data = config.to_dict(without=NOT_STUDY)
    walk({"seed": data["seed"], "world": data["world"], "policy": data["policy"]}, "")
    return rows


def _note(key: str, notes: Mapping[str, str]) -> str:
    parts = key.split(".")
    # down to a key's table, not to the top level: the scenario's note on `policy` says which
    # file it is, not what a key of the policy means
    for n in range(len(parts), min(2, len(parts)) - 1, -1):
        note = notes.get(".".join(parts[:n]))
        if note:
            return note
    return ""


def unit_dir(policy: str, seed: int) -> Path:
    """Where a unit's decisions.parquet and summary.json live inside a study's directory."""
    return Path(RUNS_DIR) / policy / f"seed-{seed}"


#: What else is written into a study's directory before it appears, given the summary and the
#: directory: the command line passes the report (``sim.report.write_report``), so a study's
#: directory appears with its report or not at all, and the simulation never imports the report.
Finish = Callable[[dict, Path], object]


def write_study(result: StudyResult, out_dir: str | Path, *, force: bool = False, finish: Finish | None = None) -> Path:
    """Write every unit, the study summary and what ``finish`` writes into ``out_dir``, all or
    nothing."""
    out_dir = Path(out_dir)
    with output_dir(out_dir, force=force) as tmp:
        _write_units(result.units, tmp)
        _write_summary(result, tmp, finish)
    return out_dir


def run_and_write_study(config: Config, out_dir: str | Path, *, force: bool = False, finish: Finish | None = None,
                        **run) -> StudyResult:
    """:func:`run_study` writing each replicate's units into ``out_dir`` as it arrives (so no
    more than one replicate's decisions are held at once), then the summary and what ``finish``
    writes; all or nothing, as :func:`write_study`. ``run`` are :func:`run_study`'s options."""
    with output_dir(Path(out_dir), force=force) as tmp:
        result = run_study(config, write_to=tmp, **run)
        _write_summary(result, tmp, finish)
    return result


def _write_summary(result: StudyResult, out_dir: Path, finish: Finish | None) -> None:
    write_summary(out_dir, result.summary, "study")
    if finish is not None:
        finish(result.summary, out_dir)


# --------------------------------------------------------------------------------------------
# What the command line prints


def summary_lines(summary: Mapping) -> list[str]:
    """A few lines for the terminal: each policy's headline figures with intervals, and the
    published figures beside the baseline's."""
    n = summary["replicates"]
    lines = [f"scenario '{summary['scenario']}' at scale {summary['scale']:g}, {n} replicate{'s' if n != 1 else ''} "
             f"(seeds {summary['seeds'][0]}..{summary['seeds'][-1]}), config {summary['config_sha256'][:12]}",
             "  national estimates, mean [95% interval over seeds]:"]
    width = max(len(p["name"]) for p in summary["policies"])
    lines.append(f"  {'policy':<{width}} {'disclosed':>26} {'wrong person':>26} {'precision':>9} {'recall':>7}")
    for p in summary["policies"]:
        e, r = p["aggregate"]["estimates"], p["aggregate"]["rates"]
        lines.append(f"  {p['name']:<{width}} {interval_text(e['disclosed']):>26} {interval_text(e['wrong_person_disclosures']):>26} "
                     f"{percent(r['precision']['mean']):>9} {percent(r['recall']['mean']):>7}")
    if summary["published"]:
        lines.append(f"  published vs simulated ({summary['baseline_policy']}):")
        lines += published_lines(summary["published"])
    return lines


def published_lines(rows: Sequence[Mapping]) -> list[str]:
    """One aligned line per row of :func:`compare_published`: the published figure, the
    simulated one with its interval, and the verdict."""
    width = max((len(t["name"]) for t in rows), default=0)
    lines = []
    for t in rows:
        rate = t["metric"].startswith("rates.")
        shown = percent if rate else count
        verdict = {True: "within target", False: "OUTSIDE target", None: "shown only"}[t["within"]]
        lines.append(f"    {t['name']:<{width}}  published {shown(t['published']):>9}  simulated "
                     f"{interval_text(t['simulated'], rate=rate):>26}  {verdict}")
    return lines


__all__ = ["same_volume", "aggregate_frontier", "aggregate_same_volume", "run_study", "write_study", "summarize_study", "aggregate", "paired_differences",
           "compare_published", "published_lines", "replicate_seeds", "unit_dir", "StudyResult", "NOT_STUDY", "NOT_RUN", "NOT_WORLD"]

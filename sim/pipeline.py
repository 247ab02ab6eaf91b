"""One scenario end to end: generate the world, match it under the policy, evaluate every
decision against the truth. :func:`run` is pure (no file I/O); :func:`write_run` writes its
result; ``matchsim run`` is the two together.

The world is generated block by block (:mod:`sim.world.generate`), and each block's requests are
matched against that block's master file: every candidate a policy can produce lives there (ZIP
blocking keeps a ZIP area inside its block; borrowed numbers are drawn within the area). Per
block only the candidates and the master-file rows they point at are kept, so memory follows
the number of candidate pairs, not the size of the master file. Fellegi-Sunter parameters are
then estimated once on every block's candidates, and the decisions taken.

>>> from sim.config import load_config                                        # doctest: +SKIP
>>> result = run(load_config("configs/august-2025.toml", ["world.scale=0.001"]))  # doctest: +SKIP
>>> result.summary["simulated"]["disclosed"]                                   # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import sim
from sim import evaluate
from sim.config import Config, PolicyConfig
from sim.io import atomic_write_text, output_dir
from sim.match import policy as policy_mod
from sim.parallel import Engine
from sim.match.prepare import prepare_master_file, prepare_requests
from sim.rng import stream
from sim.world import geography
from sim.world.generate import NOT_WORLD, dense, generate_block, library_versions, data_sha256

#: Master-file columns kept beside the match schema for the evaluation.
TRUTH_COLUMNS = ("truth_person_id", "truth_household_id")
#: Settings that say how a run is executed, not what it computes: engines give identical
#: results, so outputs (and their config hash) are the same whichever ran them.
EXECUTION_SETTINGS = ("policy.engine",)
#: What one run's outputs do not depend on: how it is executed, the study around it (other
#: seeds, other policies) and the record of how the scenario was calibrated. A run's
#: config_sha256 leaves them out, so ``--set seed=...`` reproduces one replicate of a study
#: with the hash the study reported for it.
NOT_RUN = (*EXECUTION_SETTINGS, "study", "calibration")
DECISIONS_FILE = "decisions.parquet"
SUMMARY_FILE = "summary.json"


@dataclass
class _Block:
    requests: pa.Table                 # ICE's rows with their truth
    left: pa.Table                     # the same, prepared
    right: pa.Table                    # the master-file rows some candidate points at
    cands: list[policy_mod.PathCandidates]


@dataclass
class RunResult:
    """What :func:`run` produced: one decision row per request, and the summary. A study that
    has written a unit to disk keeps it without its decisions (None)."""

    config: Config
    decisions: pa.Table | None
    summary: dict
    models: dict = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        s, e = self.summary["simulated"], self.summary["estimates"]
        r = self.summary["rates"]
        width = max(len(k) for k in evaluate.COUNT_KEYS)
        lines = [f"scenario '{self.summary['scenario']}', policy '{self.summary['policy']}' "
                 f"(seed {self.summary['seed']}, scale {self.summary['scale']:g}, config {self.summary['config_sha256'][:12]})",
                 f"  {'':<{width}}  {'simulated':>10}  {'national estimate':>17}"]
        for key in evaluate.COUNT_KEYS:
            lines.append(f"  {key:<{width}}  {s[key]:>10,}  {e[key]:>17,}")
        lines.append(f"  precision {_pct(r['precision'])}, recall {_pct(r['recall'])}, "
                     f"wrong person {_pct(r['wrong_person_rate'])} of disclosures, "
                     f"deficient address {_pct(r['deficient_address_rate'])}")
        return lines


def run(config: Config, *, matcher: str | None = None, engine: Engine | None = None,
        progress: bool = False) -> RunResult:
    """Generate, match and evaluate the scenario ``config`` (``matcher`` overrides the policy's
    matching engine; ``engine`` spreads the blocks over its workers)."""
    return run_policies(config, (config.policy,), matcher=matcher, engine=engine, progress=progress)[0]


def run_policies(config: Config, policies: Sequence[PolicyConfig], *, matcher: str | None = None,
                 engine: Engine | None = None, progress: bool = False) -> list[RunResult]:
    """Generate the world of ``config`` once and match it under each of ``policies``.

    Result ``i`` is exactly what :func:`run` gives for ``config`` with ``policies[i]`` as its
    policy: each policy draws its random pairs from the same per-block stream, as it would alone.
    With an ``engine`` of more than one worker, blocks are generated and matched on its workers,
    and come back in the plan's order, so the result does not depend on it.
    """
    plan = geography.plan(config)
    # policies that block, compare and fit alike (Fellegi-Sunter at several thresholds) share
    # their candidates and their fitted models; only the decisions differ
    keys = [_matching_key(p) for p in policies]
    distinct: dict[str, PolicyConfig] = {}
    for key, policy in zip(keys, policies):
        distinct.setdefault(key, policy)
    n = len(plan.blocks)
    if engine is not None and engine.slots > 1:
        # workers make the plan themselves (it is deterministic): cheaper than shipping it
        done = engine.map(_block_task, [config] * n, range(n), [distinct] * n, [matcher] * n)
    else:
        done = (_generate_and_match(config, plan, block, distinct, matcher) for block in plan.blocks)
    blocks: dict[str, list[_Block]] = {key: [] for key in distinct}
    bar = _progress(n, progress)
    for matched in done:          # in the plan's order
        for key, block in matched.items():
            blocks[key].append(block)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    ranks = evaluate.census_ranks()
    models = {key: policy_mod.fit(policy, [b.cands for b in blocks[key]]) for key, policy in distinct.items()}
    return [_decide(config.model_copy(update={"policy": policy}), blocks[key], models[key], ranks)
            for key, policy in zip(keys, policies)]


def _matching_key(policy: PolicyConfig) -> str:
    """What a policy's candidates and fitted models depend on: all of it but its name, its
    description, its engine (engines give identical results) and its match-weight thresholds
    (which only the decision reads)."""
    data = policy.to_dict(without=("name", "description", "engine"))
    for path in data["paths"]:
        if path.get("fellegi_sunter"):
            path["fellegi_sunter"].pop("match_weight_threshold")
    return json.dumps(data, sort_keys=True)


def _generate_and_match(config: Config, plan: geography.Plan, block: geography.Block,
                        distinct: dict[str, PolicyConfig], matcher: str | None) -> dict[str, _Block]:
    """One block of the world, generated and matched under each distinct policy."""
    result = generate_block(config, plan, block)
    requests, master = dense(result.requests), dense(result.master_file)
    left = prepare_requests(requests)
    right = prepare_master_file(master)
    for name in TRUTH_COLUMNS:
        right = right.append_column(name, master.column(name))
    return {key: _match_block(policy, requests, left, right, matcher, stream(config.seed, "match.u_sample", *block.key))
            for key, policy in distinct.items()}


_PLANS: dict[str, geography.Plan] = {}


def _block_task(config: Config, index: int, distinct: dict[str, PolicyConfig], matcher: str | None) -> dict[str, _Block]:
    """:func:`_generate_and_match` of the plan's block ``index``, in a worker (which keeps the
    plan of the world it last worked on)."""
    world = config.sha256(without=NOT_WORLD)
    if world not in _PLANS:
        _PLANS.clear()
        _PLANS[world] = geography.plan(config)
    plan = _PLANS[world]
    return _generate_and_match(config, plan, plan.blocks[index], distinct, matcher)


def _match_block(policy: PolicyConfig, requests: pa.Table, left: pa.Table, right: pa.Table,
                 matcher: str | None, rng) -> _Block:
    cands = policy_mod.candidates(policy, left, right, engine=matcher, rng=rng)
    # keep only the master-file rows a candidate points at
    needed = np.unique(np.concatenate([c.right_idx for c in cands])) if cands else np.zeros(0, np.int64)
    return _Block(requests, left, right.take(pa.array(needed, pa.int64())), [c.take_right(needed) for c in cands])


def _decide(config: Config, blocks: list[_Block], models: dict, ranks) -> RunResult:
    """Decide every block's requests under ``config.policy`` with its fitted models, and evaluate."""
    policy = config.policy
    names = [p.name for p in policy.paths]
    rows = []
    for b in blocks:
        # candidates shared with a policy that differs only in its thresholds carry that
        # policy's paths: decide under this one's
        cands = [replace(c, path=path) for c, path in zip(b.cands, policy.paths)]
        decided = policy_mod.decide(policy, b.left.num_rows, cands, models)
        rows.append(evaluate.evaluate(b.requests, b.left, b.right, decided, cands, names, name_ranks=ranks))
    if not rows:  # pragma: no cover - geography.plan refuses a world without areas
        raise ValueError("the world has no blocks; raise world.scale")
    decisions = pa.concat_tables(rows)
    return RunResult(config, decisions, summarize(config, decisions, models), models)


def summarize(config: Config, decisions: pa.Table, models: dict) -> dict:
    """``summary.json``: provenance, counts (simulated, and scaled to the national request
    file), rates, breakdowns, and the Fellegi-Sunter parameters used."""
    simulated = evaluate.counts(decisions)
    factor = config.world.n_requests / simulated["requests"] if simulated["requests"] else 0.0
    estimates = {k: int(round(v * factor)) for k, v in simulated.items()}
    return {
        "scenario": config.scenario,
        "policy": config.policy.name,
        "seed": config.seed,
        "scale": config.world.scale,
        "config_sha256": config.sha256(without=NOT_RUN),
        "world_sha256": config.sha256(without=NOT_WORLD),
        "version": sim.__version__,
        "data_sha256": data_sha256(),
        "libraries": library_versions(),
        "estimate_factor": factor,
        "simulated": simulated,
        "estimates": estimates,
        "rates": evaluate.rates(simulated),
        "breakdowns": evaluate.breakdowns(decisions),
        "fellegi_sunter": {name: m.parameters() for name, m in models.items()},
        "config": config.to_dict(without=NOT_RUN),
    }


def write_run(result: RunResult, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write ``decisions.parquet`` and ``summary.json`` into ``out_dir``, all or nothing."""
    out_dir = Path(out_dir)
    with output_dir(out_dir, force=force) as tmp:
        meta = {f"matchsim.{k}": str(result.summary[k]) for k in ("scenario", "policy", "seed", "scale", "config_sha256", "version")}
        pq.write_table(result.decisions.replace_schema_metadata(meta), tmp / DECISIONS_FILE,
                       compression="zstd", compression_level=3)
        atomic_write_text(tmp / SUMMARY_FILE, json.dumps(result.summary, indent=2, sort_keys=False) + "\n")
    return out_dir


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" blocks", desc="matching", dynamic_ncols=True)


__all__ = ["run", "run_policies", "write_run", "summarize", "RunResult"]

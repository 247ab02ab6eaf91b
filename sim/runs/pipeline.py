"""One scenario end to end: generate the world, match it under the policy, evaluate every
decision against the truth. :func:`run` is pure (no file I/O); :func:`write_run` writes its
result; ``matchsim run`` is the two together.

The world is generated block by block (:mod:`sim.world.generate`), and each block's requests are
matched against that block's master file: every candidate a policy can produce lives there (ZIP
blocking keeps a ZIP area inside its block; borrowed numbers are drawn within the area). No
block is held once it is done: what stays is one evaluated row per request. A policy whose model is
known before matching (rules, fixed Fellegi-Sunter m and u) is decided and evaluated inside the
block; a policy that estimates m and u by EM needs every block first, so its blocks give only
their distinct comparison-level vectors with counts, the model is fitted from their exact merge,
and its blocks are then decided: each matched block waits for the fit on local disk
(:class:`_Spill`), or, where it could not be kept, is generated and matched again (both are
deterministic, so the block is the same). Blocks can run on an engine's workers
(:mod:`sim.common.parallel`), in the plan's order whatever finishes first.

>>> from sim.config import load_config                                        # doctest: +SKIP
>>> result = run(load_config("configs/august-2025.toml", ["world.scale=0.001"]))  # doctest: +SKIP
>>> result.summary["simulated"]["disclosed"]                                   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim import evaluate
from sim.common import metrics
from sim.config import MATCH_COLUMNS, Config, PolicyConfig
from sim.common.io import output_dir, remove_stale
from sim.common.provenance import provenance
from sim.common.text import percent
from sim.match import policy as policy_mod
from sim.match.prepare import EXTRA_COLUMNS, prepare_master_file, prepare_requests
from sim.common.parallel import Engine, release_free_heap
from sim.common.rng import stream
from sim.compare.encode import EncodedTable
from sim.common.summaries import parquet_metadata, write_summary
from sim.world import geography
from sim.world.generate import NOT_WORLD, dense, generate_block

#: Settings that say how a run is executed, not what it computes: engines give identical
#: results, so outputs (and their config hash) are the same whichever ran them.
EXECUTION_SETTINGS = ("policy.matcher",)
#: What one run's outputs do not depend on: how it is executed, the study around it (other
#: seeds, other policies) and the record of how the scenario was calibrated. A run's
#: config_sha256 leaves them out, so ``--set seed=...`` reproduces one replicate of a study
#: with the hash the study reported for it.
NOT_RUN = (*EXECUTION_SETTINGS, "study", "calibration")
DECISIONS_FILE = "decisions.parquet"
PREPARED_COLUMNS = frozenset((*MATCH_COLUMNS, *EXTRA_COLUMNS))


#: A world of this ``world.scale`` or more (a quarter of the country) is run by a sweep or a
#: calibration one world at a time, its blocks spread over the engine's workers as a study
#: spreads them (:func:`spreads_blocks`), not one world to a worker: memory then holds one
#: world's results, not one per worker. A smaller world keeps a worker to itself, which keeps
#: every worker busy without passing blocks around. Results are the same either way.
SPREAD_BLOCKS_SCALE = 0.25


def large_world(scale: float) -> bool:
    """Whether a world of this ``world.scale`` spreads its blocks over the workers when a sweep
    or a calibration runs it (:data:`SPREAD_BLOCKS_SCALE`)."""
    return scale >= SPREAD_BLOCKS_SCALE


def spreads_blocks(config: Config, engine: Engine | None) -> bool:
    """Whether runs of ``config`` on ``engine`` should spread each world's blocks over its
    workers rather than give each world a worker (:func:`large_world`)."""
    return engine is not None and engine.slots > 1 and large_world(config.world.scale)


#: The name of a run's spill directory under $TMPDIR starts with this and the run's process id.
SPILL_PREFIX = "matchsim-blocks-"


@dataclass
class _Block:
    requests: pa.Table                 # ICE's rows with their truth
    left: pa.Table                     # the same, prepared
    right: pa.Table                    # the master-file rows some candidate points at (evaluate.RIGHT_COLUMNS)
    cands: list[policy_mod.PathCandidates]

    def to_decide(self) -> "_Block":
        """What deciding and evaluating read, without what only matching and fitting did: which
        rules paired a pair, the random pairs."""
        return _Block(self.requests, self.left, self.right,
                      [replace(c, rule_hits=None, random_levels=None) for c in self.cands])

    def nbytes(self) -> int:
        arrays = [a for c in self.cands for a in (c.routed, c.gate_passed, c.left_idx, c.right_idx, c.levels,
                                                   c.rule_hits, *c.tf.values()) if a is not None]
        return self.requests.nbytes + self.left.nbytes + self.right.nbytes + sum(a.nbytes for a in arrays)


#: Free disk space a spill leaves untouched: a block that would eat into it is not kept.
SPILL_RESERVE_BYTES = 2 * 2**30


@dataclass(frozen=True)
class _Spill:
    """A run's matched blocks waiting, on local disk, for the EM fit that decides them, so that
    the second pass reads each block instead of generating and matching it again (a third of a
    six-policy national run). Only a cache: a block it does not have (no room left, a worker on
    another machine, where the directory does not exist) is generated and matched again, which
    gives the same block. The directory is private to the run (``tempfile.mkdtemp``, under
    ``$TMPDIR``) and removed with it; each file is taken once and deleted."""

    directory: str

    @classmethod
    def create(cls) -> "_Spill":
        """A new directory, named with this process's id, so that the next run removes it if this
        process is killed outright (:func:`run_policies` clears such directories first)."""
        return cls(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-"))

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _path(self, index: int, key: str) -> Path:
        return Path(self.directory) / f"block-{index:06d}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.pickle"

    def put(self, index: int, key: str, block: _Block) -> None:
        """Keep ``block`` if this machine has the directory and room for it; else do nothing."""
        block = block.to_decide()
        path = self._path(index, key)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            if not path.parent.is_dir() or shutil.disk_usage(path.parent).free < block.nbytes() + SPILL_RESERVE_BYTES:
                return
            with open(tmp, "wb") as f:
                pickle.dump(block, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)     # whole or absent: a reader never sees half a block
        except OSError:               # the disk filled up after all: not kept
            tmp.unlink(missing_ok=True)

    def take(self, index: int, key: str) -> _Block | None:
        """The block kept for (``index``, ``key``), deleted from disk; None if there is none."""
        path = self._path(index, key)
        try:
            with open(path, "rb") as f:
                block = pickle.load(f)   # written by this run into its private directory
        except FileNotFoundError:
            return None
        except (OSError, EOFError, pickle.UnpicklingError):   # damaged under us: matched again
            block = None
        path.unlink(missing_ok=True)
        return block


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
        width = max(len(k) for k in metrics.COUNT_KEYS)
        lines = [f"scenario '{self.summary['scenario']}', policy '{self.summary['policy']}' "
                 f"(seed {self.summary['seed']}, scale {self.summary['scale']:g}, config {self.summary['config_sha256'][:12]})",
                 f"  {'':<{width}}  {'simulated':>10}  {'national estimate':>17}"]
        for key in metrics.COUNT_KEYS:
            lines.append(f"  {key:<{width}}  {s[key]:>10,}  {e[key]:>17,}")
        lines.append(f"  precision {percent(r['precision'])}, recall {percent(r['recall'])}, "
                     f"wrong person {percent(r['wrong_person_rate'])} of disclosures, "
                     f"deficient address {percent(r['deficient_address_rate'])}")
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
    members: dict[str, list[tuple[int, PolicyConfig]]] = {}
    for i, (key, policy) in enumerate(zip(keys, policies)):
        members.setdefault(key, []).append((i, policy))
    first = {key: group[0][1] for key, group in members.items()}
    fitted = {key for key, policy in first.items() if policy_mod.needs_fit(policy)}
    # rules and fixed models are known before any block is matched; EM needs every block first
    models = {key: policy_mod.fit_from(policy, []) for key, policy in first.items() if key not in fitted}
    rows: list[list[pa.Table]] = [[] for _ in policies]
    data: dict[str, list[dict]] = {key: [] for key in fitted}
    # every run clears what runs killed outright left in $TMPDIR, whether it spills itself or not
    remove_stale(Path(tempfile.gettempdir()), SPILL_PREFIX)
    spill = _Spill.create() if fitted else None
    try:
        # 1: each block matched under every policy; decided and evaluated at once where the
        #    model is known, reduced to what the fit needs (and spilled to disk) where it is not
        for block_rows, block_data in _over_blocks(config, plan, members, models, matcher, spill, engine, progress,
                                                   "matching"):
            for i, table in block_rows.items():
                rows[i].append(table)
            for key, d in block_data.items():
                data[key].append(d)
        # 2: the EM fits, from every block's level counts; then each block, read back from the
        #    spill (or matched again), decided under the fitted models
        if fitted:
            models.update({key: policy_mod.fit_from(first[key], data[key]) for key in fitted})
            again = {key: members[key] for key in fitted}
            for block_rows, _ in _over_blocks(config, plan, again, models, matcher, spill, engine, progress,
                                              "deciding"):
                for i, table in block_rows.items():
                    rows[i].append(table)
    finally:
        if spill is not None:
            spill.remove()
    if not plan.blocks:  # pragma: no cover - geography.plan refuses a world without areas
        raise ValueError("the world has no blocks; raise world.scale")
    results = []
    for i, (key, policy) in enumerate(zip(keys, policies)):
        decisions = pa.concat_tables([_expanded(table) for table in rows[i]])
        rows[i] = []
        run_config = config.model_copy(update={"policy": policy})
        results.append(RunResult(run_config, decisions, summarize(run_config, decisions, models[key]), models[key]))
    return results


def _over_blocks(config: Config, plan: geography.Plan, members: dict, models: dict, matcher: str | None,
                 spill: _Spill | None, engine: Engine | None, progress: bool, what: str):
    """:func:`_block_task` of every block, in the plan's order: on the engine's workers when it
    has more than one (they make the plan themselves: it is deterministic, and cheaper than
    shipping), else here."""
    n = len(plan.blocks)
    if engine is not None and engine.slots > 1:
        done = engine.map(_block_task, [config] * n, range(n), [members] * n, [models] * n, [matcher] * n, [spill] * n)
    else:
        done = (_match_and_decide(config, plan, i, members, models, matcher, spill) for i in range(n))
    bar = _progress(n, progress, f"seed {config.seed}: {what}")
    for result in done:
        yield result
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()


def _matching_key(policy: PolicyConfig) -> str:
    """What a policy's candidates and fitted models depend on: all of it but its name, its
    description, its engine (engines give identical results) and its thresholds (which only the
    decision reads)."""
    data = policy.to_dict(without=("name", "description", "matcher"))
    for path in data["paths"]:
        if path.get("fellegi_sunter"):
            path["fellegi_sunter"].pop("match_weight_threshold")
            path["fellegi_sunter"].pop("match_probability_threshold")
    return json.dumps(data, sort_keys=True)


def _match_and_decide(config: Config, plan: geography.Plan, index: int, members: dict[str, list],
                      models: dict[str, dict], matcher: str | None,
                      spill: _Spill | None) -> tuple[dict[int, pa.Table], dict[str, dict]]:
    """The plan's block ``index`` matched under each group of ``members`` (the policies that
    share candidates, by position): the evaluated decisions of each policy whose group has its
    ``models``, and the :class:`~sim.match.policy.FitData` of each group that has not (its
    matched block then goes to the ``spill``, where the deciding pass takes it back). The block
    is generated only if some group needs it matched here."""
    block = plan.blocks[index]
    world: tuple[pa.Table, pa.Table, pa.Table] | None = None
    encoded: EncodedTable | None = None       # the master file's columns, encoded once for every policy
    rows: dict[int, pa.Table] = {}
    data: dict[str, dict] = {}
    for key, group in members.items():
        matched = spill.take(index, key) if _spilled(key, group, models, spill) else None
        if matched is None:
            if world is None:
                world = _prepared_block(config, plan, block)
                encoded = EncodedTable(world[2])
            matched = _match_block(group[0][1], *world, encoded, matcher, stream(config.seed, "match.u_sample", *block.key))
        if key in models:
            for i, policy in group:
                rows[i] = _compact(_evaluate(policy, matched, models[key]))
        else:
            data[key] = policy_mod.fit_data(group[0][1], matched.cands)
            if spill is not None:
                spill.put(index, key, matched)
    return rows, data


def _prepared_block(config: Config, plan: geography.Plan, block: geography.Block) -> tuple[pa.Table, pa.Table, pa.Table]:
    """One block of the world, generated: ICE's requests with their truth, the same prepared
    for matching, and the master file prepared, with its truth columns."""
    result = generate_block(config, plan, block)
    # the master file's dictionary columns stay encoded through preparation (blocking and the
    # comparisons read their codes); _match_block decodes the rows a policy keeps
    requests, master = dense(result.requests), result.master_file
    left = prepare_requests(requests)
    right = prepare_master_file(master, keep_dictionaries=True)
    for name in evaluate.RIGHT_TRUTH_COLUMNS:
        right = right.append_column(name, master.column(name))
    return requests, left, right


_PLANS: dict[str, geography.Plan] = {}
#: The deciding pass a worker last worked in (its run's spill directory), or None.
_LAST_PASS: list[str | None] = [None]


def _block_task(config: Config, index: int, members: dict[str, list], models: dict[str, dict],
                matcher: str | None, spill: _Spill | None) -> tuple[dict[int, pa.Table], dict[str, dict]]:
    """:func:`_match_and_decide` of the plan's block ``index``, in a worker (which keeps the
    plan of the world it last worked on).

    A worker's first block of a deciding pass first gives the C heap's free memory back to the
    system (:func:`~sim.common.parallel.release_free_heap`): the matching pass left it the heap of
    the largest block it generated (2 GB in a national world), which the deciding pass, reading
    matched blocks from the spill, needs only a part of. Kept, it was still there when the last
    block came back and the main process grew to summarize every policy's decisions: the peak of
    a national run's end (5.8 GiB; 5.0 GiB since), and of the five-world national study (6.0 GiB;
    5.4 GiB since, its peak now in a matching pass). Once per pass, so no block faults in its
    pages again."""
    world = config.sha256(without=NOT_WORLD)
    if world not in _PLANS:
        _PLANS.clear()
        _PLANS[world] = geography.plan(config)
    deciding = all(_spilled(key, group, models, spill) for key, group in members.items())
    this_pass = spill.directory if deciding else None      # a run's own directory: one per run
    if this_pass is not None and _LAST_PASS[0] != this_pass:
        release_free_heap()
    _LAST_PASS[0] = this_pass
    return _match_and_decide(config, _PLANS[world], index, members, models, matcher, spill)


def _spilled(key: str, group: list, models: dict[str, dict], spill: _Spill | None) -> bool:
    """Whether the group ``key`` of a block task is deciding a block that was spilled when it
    was matched for the fit: a fitted group whose model is now known. A task all of whose
    groups are so is of the deciding pass."""
    return spill is not None and key in models and policy_mod.needs_fit(group[0][1])


def _match_block(policy: PolicyConfig, requests: pa.Table, left: pa.Table, right: pa.Table,
                 encoded: EncodedTable, matcher: str | None, rng) -> _Block:
    """``encoded``: ``right``'s columns as the block's policies encode them (once)."""
    cands = policy_mod.candidates(policy, left, encoded, matcher=matcher, rng=rng)
    # keep only the master-file rows a candidate points at (a mask, not np.unique: it hashes)
    pointed = np.zeros(right.num_rows, bool)
    for c in cands:
        pointed[c.right_idx] = True
    needed = np.flatnonzero(pointed)
    # only the columns evaluating reads (deciding reads the candidates), the match columns as
    # plain values, as the decisions hold them (_prepared_block keeps the generator's dictionary
    # columns encoded for blocking and the comparisons); the truth columns as the generator made them
    kept = _decoded(right.select(list(evaluate.RIGHT_COLUMNS)).take(pa.array(needed, pa.int64())), PREPARED_COLUMNS)
    return _Block(requests, left, kept, [c.take_right(needed) for c in cands])


def _evaluate(policy: PolicyConfig, b: _Block, models: dict) -> pa.Table:
    """A block's requests decided under ``policy`` with its models, and evaluated."""
    # candidates shared with a policy that differs only in its thresholds carry that policy's
    # paths: decide under this one's
    cands = [replace(c, path=path) for c, path in zip(b.cands, policy.paths)]
    decided = policy_mod.decide(policy, b.left.num_rows, cands, models)
    return evaluate.evaluate(b.requests, b.left, b.right, decided, cands, [p.name for p in policy.paths],
                             name_ranks=evaluate.census_ranks())


def _compact(decisions: pa.Table) -> pa.Table:
    """A block's decisions as they travel from a worker and wait for the other blocks: each text
    column (and the text inside a list column) dictionary-encoded where that is smaller, as most
    are (an outcome, a path, an age band, a truth class: a few distinct values). About half the
    bytes: a national run's main process holds every policy's 1.28 million decisions until the
    last block is done. :func:`_expanded` gives the table back exactly."""
    columns = {}
    for f, column in zip(decisions.schema, decisions.columns):
        values = column.combine_chunks()
        if pa.types.is_string(f.type):
            encoded = _encoded_text(values)
        elif pa.types.is_list(f.type) and pa.types.is_string(f.type.value_type):
            items = _encoded_text(values.values)
            encoded = pa.ListArray.from_arrays(values.offsets, items, pa.list_(f.type.value_field.with_type(items.type)),
                                               mask=values.is_null())
        else:
            encoded = values
        columns[f.name] = encoded if encoded.nbytes < values.nbytes else values
    return pa.table(columns, metadata=decisions.schema.metadata)


def _encoded_text(values: pa.Array) -> pa.Array:
    """``values`` dictionary-encoded, with 8-bit codes where there are few distinct values."""
    encoded = pc.dictionary_encode(values)
    if len(encoded.dictionary) <= np.iinfo(np.int8).max:
        encoded = encoded.cast(pa.dictionary(pa.int8(), values.type))
    return encoded


def _expanded(compacted: pa.Table) -> pa.Table:
    """The decisions :func:`_compact` was given: its encoded columns decoded."""
    return _decoded(compacted)


def _decoded(table: pa.Table, names: frozenset[str] | None = None) -> pa.Table:
    """``table`` with its dictionary columns (and list columns of dictionaries) decoded: all of
    them, or those among ``names``."""
    schema = pa.schema([f.with_type(_decoded_type(f.type)) if names is None or f.name in names else f
                        for f in table.schema], metadata=table.schema.metadata)
    return table.cast(schema)


def _decoded_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_dictionary(t):
        return t.value_type
    if pa.types.is_list(t) and pa.types.is_dictionary(t.value_type):
        return pa.list_(pa.field(t.value_field.name, t.value_type.value_type, t.value_field.nullable))
    return t


def summarize(config: Config, decisions: pa.Table, models: dict) -> dict:
    """``summary.json``: provenance, the figures (:func:`sim.evaluate.figures`: counts, simulated
    and scaled to the national request file, rates, breakdowns, address ages), and the
    Fellegi-Sunter parameters used."""
    return {
        "scenario": config.scenario,
        "policy": config.policy.name,
        "seed": config.seed,
        "scale": config.world.scale,
        "config_sha256": config.sha256(without=NOT_RUN),
        "world_sha256": config.sha256(without=NOT_WORLD),
        **provenance(),
        **evaluate.figures(decisions, config.world.n_requests),
        "fellegi_sunter": {name: m.parameters() for name, m in models.items()},
        **_frontier(config.policy, decisions),
        "config": config.to_dict(without=NOT_RUN),
    }


def _frontier(policy: PolicyConfig, decisions: pa.Table) -> dict:
    """``frontier``: a Fellegi-Sunter policy's counts at every weight of
    :data:`sim.evaluate.FRONTIER_WEIGHTS` (simulated; multiply by ``estimate_factor``)."""
    fs_paths = evaluate.fellegi_sunter_paths(policy)
    return {"frontier": evaluate.frontier(decisions, fs_paths)} if fs_paths else {}


def write_run(result: RunResult, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write ``decisions.parquet`` and ``summary.json`` into ``out_dir``, all or nothing."""
    out_dir = Path(out_dir)
    with output_dir(out_dir, force=force) as tmp:
        s = result.summary
        meta = parquet_metadata({k: s[k] for k in ("scenario", "policy", "seed", "scale", "config_sha256", "version")})
        pq.write_table(result.decisions.replace_schema_metadata(meta), tmp / DECISIONS_FILE,
                       compression="zstd", compression_level=3)
        write_summary(tmp, s, "run")
    return out_dir


def _progress(total: int, enabled: bool, what: str = "matching"):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" blocks", desc=what, dynamic_ncols=True)


__all__ = ["run", "run_policies", "write_run", "summarize", "RunResult"]

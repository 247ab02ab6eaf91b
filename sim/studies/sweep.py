"""Parameter sweeps (``matchsim sweep``): a scenario run at many points of a design, each point
over the same replicate seeds, every (point, seed) recorded as it finishes.

A sweep file (:class:`sim.config.SweepConfig`, e.g. ``configs/sweeps/address-quality.toml``)
names a base scenario, fixed overrides (``set``), the swept keys and a design: a grid of their
values, or random or Latin-hypercube draws from their ranges. The flow:

1. :func:`plan_sweep` turns the file into points. Each point is the base scenario with the
   fixed overrides, the command line's ``--set`` and the point's values applied, exactly as
   ``matchsim run --set`` would apply them, and validated; a point whose values make an invalid
   scenario is kept as a failed point (with the problem), the others run. Every point runs on
   the seeds ``seed, seed + 1, ...`` of the base scenario under its policy alone (the study's
   alternatives and replicates are the sweep's business here).
2. :func:`run_sweep` runs the (point, seed) *units* not yet recorded in the sweep directory on an
   engine (:mod:`sim.common.parallel`: local processes or a Dask cluster). Points that share a world
   (they differ only in their policy: an address gate, a threshold) are one task per seed: the
   world is generated once and matched under each (:func:`sim.runs.pipeline.run_policies`, which
   gives each policy exactly what it would get alone). A world of a quarter of the country or more
   runs one at a time, its blocks spread over the workers as a study spreads them
   (:func:`sim.runs.pipeline.spreads_blocks`), so memory holds one world's results. Each unit is written to
   ``DIR/units/`` atomically the moment its task ends, so a sweep killed at any moment (even by
   ``kill -9``) and started again with the same command runs only the missing units: none is lost
   or run twice. A unit that fails is recorded with its error; the others go on.
3. :func:`collect` reads the units back in (point, seed) order and writes ``results.parquet``
   (one row per unit: the swept values, the seed, every metric of the run's summary.json),
   ``summary.json`` (each point's metrics as a mean over seeds with a 95% interval; each
   point's difference from the *reference* point, seed by seed, with its own interval; the
   failures, provenance) and ``report.html``. Units are deterministic and read back in order,
   so these files are byte-identical whatever the engine, the number of workers or the
   interruptions.

Every point runs on the same seeds, so a difference between two points within a seed carries
none of the seed-to-seed variation of the worlds: the paired differences from the reference
point (the sweep file's ``reference``, else the point that is the base scenario itself, else
none) are much tighter than the points' intervals side by side suggest.

``DIR/sweep.json`` records what the directory is a sweep of (the points, their config hashes,
the seeds, the version): starting a changed sweep in the same directory is refused rather than
mixing results of two sweeps.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sim.config import (Config, SweepConfig, SweepParameter, balanced_updates, get_dotted, load_config, load_sweep,
                        toml_literal, unknown_key)
from sim.common.errors import ConfigError, OutputExistsError
from sim.common.io import atomic_write_bytes, atomic_write_text, check_output_dir
from sim.common.metrics import METRIC_GROUPS, metric
from sim.common.parallel import Engine, Outcome, describe_error
from sim.runs.pipeline import NOT_RUN, run_policies, spreads_blocks
from sim.common.provenance import VERSION, provenance
from sim.common.stats import INTERVAL_LEVEL, INTERVAL_METHOD, interval, seed_differences
from sim.common.summaries import SUMMARY_FILE, parquet_metadata, write_summary
from sim.world.generate import NOT_WORLD

MANIFEST_FILE = "sweep.json"
UNITS_DIR = "units"
RESULTS_FILE = "results.parquet"
#: What every point of a sweep runs: its own policy, one seed at a time.
POINT_OVERRIDES = ("study.replicates=1", "study.alternatives=[]")
#: How a point's paired difference from the reference point is made (``summary.json``).
DIFFERENCE_METHOD = ("point minus reference within each seed (the seeds both ran), mean over seeds, "
                     f"{INTERVAL_LEVEL:.0%} Student-t interval of the mean")


@dataclass
class Point:
    """One point of a design: the values it sets (the swept keys, then the balancing shares),
    its validated scenario, or why its values make no valid scenario."""

    index: int
    values: dict[str, Any]
    config: Config | None = None
    error: str | None = None


@dataclass
class SweepPlan:
    """A sweep file made concrete: every point and the seeds each runs on."""

    sweep: SweepConfig
    path: Path
    base_path: Path
    base: Config
    overrides: tuple[str, ...]
    points: list[Point]
    seeds: list[int]
    columns: list[str] = field(default_factory=list)
    #: the point every other is compared with, seed by seed, and why it is the one (None: none)
    reference: int | None = None
    reference_reason: str | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    def units(self) -> list[tuple[int, int]]:
        """Every (point, seed), in the order the results list them."""
        return [(p.index, s) for p in self.points for s in self.seeds]

    @functools.cached_property
    def manifest(self) -> dict:
        """``sweep.json``: what a sweep directory holds the units of (made once: it hashes
        every point's config)."""
        body = {
            "format": 1,
            "version": VERSION,
            "sweep": self.name,
            "seeds": self.seeds,
            "columns": self.columns,
            "points": [{"point": p.index, "values": p.values,
                        "config_sha256": p.config.sha256(without=NOT_RUN) if p.config else None,
                        "error": p.error} for p in self.points],
        }
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        return {"sweep_sha256": digest, **body}


def plan_sweep(path: str | Path, overrides: Iterable[str] = ()) -> SweepPlan:
    """Read the sweep file at ``path`` and make its points (see the module). ``overrides`` are
    the command line's ``--set KEY=VALUE``, applied to the base scenario after the file's
    ``set``. Raises :class:`ConfigError` when the sweep file or its base scenario is invalid, or
    when no point makes a valid scenario."""
    path = Path(path)
    sweep = load_sweep(path)
    base_path = path.parent / sweep.base
    overrides = tuple(overrides)
    fixed = [*(f"{k}={toml_literal(v)}" for k, v in sweep.set.items()), *overrides, *POINT_OVERRIDES]
    base = load_config(base_path, fixed)
    balances = {p.key: p.balance for p in sweep.parameters}
    _check_keys(sweep, base, str(path))
    points = []
    for i, drawn in enumerate(design_points(sweep)):
        values = balanced_updates(base, drawn, balances) if any(balances.values()) else dict(drawn)
        try:
            config = load_config(base_path, [*fixed, *(f"{k}={toml_literal(v)}" for k, v in values.items())])
            points.append(Point(i, values, config=config))
        except ConfigError as exc:
            points.append(Point(i, values, error="; ".join(exc.problems)))
    if all(p.error for p in points):
        raise ConfigError(str(path), [f"point {p.index} {_show_values(p.values)}: {p.error}" for p in points[:5]]
                          + ["no point of the design makes a valid scenario; fix the values or ranges"])
    columns = list(dict.fromkeys(k for p in points for k in p.values))
    seeds = [base.seed + r for r in range(sweep.replicates)]
    plan = SweepPlan(sweep, path, base_path, base, overrides, points, seeds, columns)
    plan.reference, plan.reference_reason = _reference(plan)
    return plan


def _reference(plan: SweepPlan) -> tuple[int | None, str | None]:
    """The point the others are compared with: the one the sweep file's ``reference`` names by
    its values (exactly one must match, and be a valid scenario), else the point whose config
    is the base scenario's own (as the sweep runs it), else none."""
    named = plan.sweep.reference
    if named is not None:
        hits = [p for p in plan.points if all(k in p.values and p.values[k] == v for k, v in named.items())]
        if len(hits) != 1:
            raise ConfigError(str(plan.path), [
                f"reference {_show_values(named)} matches {len(hits)} points of the design; name exactly one by the "
                f"values of its swept keys (e.g. the first point: {_show_values(plan.points[0].values)})"])
        if hits[0].error:
            raise ConfigError(str(plan.path), [f"reference point {hits[0].index} {_show_values(hits[0].values)} is "
                                               f"not a valid scenario: {hits[0].error}"])
        return hits[0].index, "named by the sweep file's reference"
    base = plan.base.sha256(without=NOT_RUN)
    for p in plan.manifest["points"]:
        if p["config_sha256"] == base:
            return p["point"], "the base scenario's own values"
    return None, None


def design_points(sweep: SweepConfig) -> list[dict[str, Any]]:
    """The swept values of every point of the design, in order: a grid's combinations (the first
    parameter varying slowest), or ``design.points`` draws, uniform (``random``) or one per
    stratum of each parameter (``lhs``), from ``design.seed``."""
    params = sweep.parameters
    design = sweep.design
    if design.kind == "grid":
        return [dict(zip((p.key for p in params), combo)) for combo in itertools.product(*(p.values for p in params))]
    if design.kind == "lhs":
        from scipy.stats import qmc

        unit = qmc.LatinHypercube(d=len(params), seed=np.random.default_rng(design.seed)).random(design.points)
    else:
        unit = np.random.default_rng(design.seed).random((design.points, len(params)))
    return [{p.key: _from_unit(p, u, design.digits) for p, u in zip(params, row)} for row in unit]


def _from_unit(param: SweepParameter, u: float, digits: int) -> Any:
    """The value at ``u`` in [0, 1): a point of the range, or one of the values (equal strata)."""
    if param.range is not None:
        lo, hi = param.range
        return round(lo + float(u) * (hi - lo), digits)
    return param.values[min(int(u * len(param.values)), len(param.values) - 1)]


def _check_keys(sweep: SweepConfig, base: Config, source: str) -> None:
    """Each swept key, and each share that balances one, is a key of the base scenario (with its
    ``set``), and a balancing share is a number: checked once, not found wrong at every point."""
    problems = []
    for i, p in enumerate(sweep.parameters):
        # a policy key may name a path of another policy that the sweep picks: checked per point
        if not p.key.startswith("policy.") and (problem := unknown_key(base, p.key)):
            problems.append(f"parameters.{i}.key: {problem}")
        if p.balance is not None:
            if problem := unknown_key(base, p.balance):
                problems.append(f"parameters.{i}.balance: {problem}")
            elif not isinstance(get_dotted(base, p.balance), (int, float)) or isinstance(get_dotted(base, p.balance), bool):
                problems.append(f"parameters.{i}.balance: '{p.balance}' is {get_dotted(base, p.balance)!r} in the scenario, "
                                f"not a share that can give way; name a share such as world.requests.address.classes.complete")
            elif p.key.startswith("policy.") and (problem := unknown_key(base, p.key)):
                problems.append(f"parameters.{i}.key: {problem} (a key with a balance must be the scenario's)")
    if problems:
        raise ConfigError(source, problems)


def _show_values(values: Mapping[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={v!r}" for k, v in values.items()) + ")"


# --------------------------------------------------------------------------------------------
# Running


@dataclass
class SweepResult:
    """What :func:`run_sweep` did: how many units ran now, were already recorded, failed."""

    plan: SweepPlan
    out_dir: Path
    ran: int
    recorded_before: int
    failed: int
    summary: dict

    def summary_lines(self) -> list[str]:
        s = self.summary
        n_points, n_seeds = len(s["points"]), len(s["seeds"])
        lines = [f"sweep '{s['sweep']}': {n_points} point{'s' * (n_points != 1)} x {n_seeds} seed{'s' * (n_seeds != 1)} = "
                 f"{s['units']['total']} units ({self.recorded_before} recorded before, {self.ran} run now); "
                 f"{s['units']['ok']} ok, {s['units']['failed']} failed"]
        if s["reference"] is not None:
            lines.append(f"  points compared seed by seed with point {s['reference']['point']} "
                         f"{_show_values(s['reference']['values'])}: {s['reference']['reason']}")
        for failure in s["failures"][:10]:
            lines.append(f"  failed: point {failure['point']} seed {failure['seed']}: {failure['error']}")
        if len(s["failures"]) > 10:
            lines.append(f"  ... and {len(s['failures']) - 10} more (see {SUMMARY_FILE})")
        return lines


def run_sweep(plan: SweepPlan, out_dir: str | Path, *, engine: Engine, force: bool = False,
              retry_failed: bool = False, progress: bool = False) -> SweepResult:
    """Run the units of ``plan`` not yet recorded in ``out_dir`` on ``engine``, then write the
    results and the summary (the command line then writes the report from it:
    ``sim.report.sweep.write_sweep_report``). ``force`` starts the sweep over (the directory's
    earlier units are deleted); ``retry_failed`` runs the failed units again."""
    out_dir = Path(out_dir)
    _open_dir(out_dir, plan.manifest, force=force)
    units_dir = out_dir / UNITS_DIR
    recorded = read_units(out_dir)
    before = len(recorded)
    by_index = {p.index: p for p in plan.points}
    for p in plan.points:            # a point with no valid scenario fails without running
        if p.error:
            for seed in plan.seeds:
                if (p.index, seed) not in recorded:
                    recorded[(p.index, seed)] = _write_unit(units_dir, p.index, seed, error=f"ConfigError: {p.error}")
    todo = [(i, s) for i, s in plan.units()
            if (i, s) not in recorded or (retry_failed and recorded[(i, s)]["status"] == "failed" and not by_index[i].error)]
    tasks = _tasks(todo, by_index)
    bar = _bar(len(todo), progress)
    failed = 0
    for outcome in _outcomes(tasks, engine):
        seed, points = tasks[outcome.index]
        for k, (i, _) in enumerate(points):
            if outcome.ok:
                recorded[(i, seed)] = _write_unit(units_dir, i, seed, summary=outcome.value[k])
            else:
                failed += 1
                recorded[(i, seed)] = _write_unit(units_dir, i, seed, error=outcome.error)
        if bar is not None:
            bar.update(len(points))
            bar.set_postfix(failed=failed, refresh=False)
    if bar is not None:
        bar.close()
    summary = collect(plan, out_dir)
    return SweepResult(plan, out_dir, ran=len(todo), recorded_before=before, failed=failed, summary=summary)


def _tasks(todo: Sequence[tuple[int, int]], points: Mapping[int, Point]) -> list[tuple[int, list[tuple[int, Config]]]]:
    """The units to run as tasks: per seed, the points that share a world together (one world
    generated, matched under each point's policy), in the order of their first point."""
    groups: dict[tuple[int, str], list[tuple[int, Config]]] = {}
    for i, seed in todo:
        config = points[i].config
        groups.setdefault((seed, config.sha256(without=NOT_WORLD)), []).append((i, config))
    ordered = sorted(groups.items(), key=lambda item: (item[1][0][0], item[0][0]))
    return [(seed, members) for (seed, _), members in ordered]


def _outcomes(tasks: Sequence[tuple[int, list[tuple[int, Config]]]], engine: Engine) -> Iterator[Outcome]:
    """The tasks' outcomes, as each ends: a task whose world is large
    (:func:`sim.runs.pipeline.spreads_blocks`) here, one after another, its blocks spread over
    the engine's workers; the others a worker each."""
    spread = [i for i, (_, points) in enumerate(tasks) if spreads_blocks(points[0][1], engine)]
    for i in spread:
        try:
            yield Outcome(i, _run_task(tasks[i], engine))
        except Exception as exc:          # the task's own failure: recorded, the others go on
            yield Outcome(i, error=describe_error(exc))
    rest = sorted(set(range(len(tasks))) - set(spread))
    for outcome in engine.outcomes(_run_task, [tasks[i] for i in rest]):
        yield replace(outcome, index=rest[outcome.index])


def _run_task(task: tuple[int, list[tuple[int, Config]]], engine: Engine | None = None) -> list[dict]:
    """The summaries of one seed's world matched under each point's policy (in a worker, or
    here with the world's blocks over ``engine``)."""
    seed, points = task
    world = points[0][1].model_copy(update={"seed": seed})
    return [r.summary for r in run_policies(world, [config.policy for _, config in points], engine=engine)]


def _unit_path(units_dir: Path, point: int, seed: int) -> Path:
    return units_dir / f"point-{point:05d}-seed-{seed}.json"


def _write_unit(units_dir: Path, point: int, seed: int, *, summary: dict | None = None, error: str | None = None) -> dict:
    record = {"point": point, "seed": seed, "status": "failed" if error else "ok", "error": error, "summary": summary}
    atomic_write_text(_unit_path(units_dir, point, seed), json.dumps(record, sort_keys=True) + "\n")
    return record


def read_units(out_dir: str | Path) -> dict[tuple[int, int], dict]:
    """Every unit recorded in a sweep directory, by (point, seed)."""
    units = {}
    for path in sorted((Path(out_dir) / UNITS_DIR).glob("point-*-seed-*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        units[(record["point"], record["seed"])] = record
    return units


def _open_dir(out_dir: Path, manifest: dict, *, force: bool) -> None:
    """Make ``out_dir`` a directory of this sweep: new, or holding this very sweep (resumed)."""
    existing = out_dir / MANIFEST_FILE
    if out_dir.exists() and (force or not out_dir.is_dir()):
        # refuses a file, and a directory holding the working directory before --force deletes it
        check_output_dir(out_dir, force=True)
        shutil.rmtree(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        if not existing.is_file():
            raise OutputExistsError(f"output directory exists and is not a sweep directory (no {MANIFEST_FILE}): '{out_dir}'; "
                                    "choose another -o, or pass --force to replace it")
        theirs = json.loads(existing.read_text(encoding="utf-8"))
        if theirs.get("sweep_sha256") != manifest["sweep_sha256"]:
            raise OutputExistsError(
                f"'{out_dir}' holds another sweep (sweep_sha256 {str(theirs.get('sweep_sha256'))[:12]}, this one "
                f"{manifest['sweep_sha256'][:12]}): the sweep file, its base scenario, --set or the matchsim version changed; "
                "choose another -o, or pass --force to start this sweep over there")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(existing, json.dumps(manifest, indent=2) + "\n")
    (out_dir / UNITS_DIR).mkdir(exist_ok=True)


def _bar(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=" units", desc="sweep", dynamic_ncols=True)


# --------------------------------------------------------------------------------------------
# Results


def collect(plan: SweepPlan, out_dir: str | Path) -> dict:
    """Write ``results.parquet`` and ``summary.json`` from the units recorded in ``out_dir``;
    return the summary. Units not recorded yet are left out."""
    out_dir = Path(out_dir)
    units = read_units(out_dir)
    rows = [units[key] for key in plan.units() if key in units]
    table = results_table(plan, rows)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", compression_level=3)
    atomic_write_bytes(out_dir / RESULTS_FILE, sink.getvalue().to_pybytes())
    summary = summarize_sweep(plan, rows)
    write_summary(out_dir, summary, "sweep")
    return summary


def flat_metrics(summary: Mapping) -> dict[str, Any]:
    """Every metric of a run's summary.json under a dotted name: ``simulated.disclosed``,
    ``estimates.disclosed``, ``rates.precision``, ``breakdowns.address_class.zip_only.disclosed``."""
    out = {f"{group}.{key}": value for group in METRIC_GROUPS for key, value in summary[group].items()}
    for name, levels in summary["breakdowns"].items():
        for level, counts in levels.items():
            for key, value in counts.items():
                out[f"breakdowns.{name}.{level}.{key}"] = value
    return out


def results_table(plan: SweepPlan, rows: Sequence[Mapping]) -> pa.Table:
    """One row per unit: point, seed, status, error, the point's values, its hashes, then every
    metric (the union over units, the summary groups first, breakdowns sorted by name)."""
    values = {p.index: p.values for p in plan.points}
    metrics = [flat_metrics(r["summary"]) if r["summary"] else {} for r in rows]
    names = list(dict.fromkeys(k for m in metrics for k in m if not k.startswith("breakdowns.")))
    names += sorted({k for m in metrics for k in m if k.startswith("breakdowns.")})
    columns: dict[str, pa.Array] = {
        "point": pa.array([r["point"] for r in rows], pa.int64()),
        "seed": pa.array([r["seed"] for r in rows], pa.int64()),
        "status": pa.array([r["status"] for r in rows], pa.string()),
        "error": pa.array([r["error"] for r in rows], pa.string()),
    }
    for key in plan.columns:
        columns[key] = _column([values[r["point"]].get(key) for r in rows])
    for key in ("config_sha256", "world_sha256"):
        columns[key] = pa.array([r["summary"][key] if r["summary"] else None for r in rows], pa.string())
    for name in names:
        rate = name.startswith("rates.")
        columns[name] = pa.array([m.get(name) for m in metrics], pa.float64() if rate else pa.int64())
    meta = parquet_metadata({"sweep": plan.name, "sweep_sha256": plan.manifest["sweep_sha256"], "version": VERSION})
    return pa.table(columns).replace_schema_metadata(meta)


def _column(values: list) -> pa.Array:
    """A swept key's values: floats when any is a float, else ints, strings or booleans."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        if any(isinstance(v, float) for v in present):
            return pa.array([None if v is None else float(v) for v in values], pa.float64())
        return pa.array(values, pa.int64())
    return pa.array(values)


def summarize_sweep(plan: SweepPlan, rows: Sequence[Mapping]) -> dict:
    """``summary.json`` of a sweep: every point's metrics over its seeds, the failures, provenance."""
    by_point: dict[int, list[Mapping]] = {}
    for r in rows:
        by_point.setdefault(r["point"], []).append(r)
    points = []
    hashes = {p["point"]: p["config_sha256"] for p in plan.manifest["points"]}
    ok_by_seed = {point: {r["seed"]: r["summary"] for r in mine if r["status"] == "ok"}
                  for point, mine in by_point.items()}
    reference = ok_by_seed.get(plan.reference, {})
    for p in plan.points:
        mine = by_point.get(p.index, [])
        ok = ok_by_seed.get(p.index, {})
        points.append({
            "point": p.index,
            "values": p.values,
            "config_sha256": hashes[p.index],
            "ok": len(ok),
            "failed": len(mine) - len(ok),
            "metrics": {m: interval([metric(s, m) for s in ok.values()]) for m in plan.sweep.metrics} if ok else {},
            # the point against the reference, on the seeds both ran (None: none, or it is the reference)
            "vs_reference": (seed_differences(list(ok.values()), list(reference.values()), plan.sweep.metrics)
                             if p.index != plan.reference and set(ok) & set(reference) else None),
        })
    sweep = plan.sweep
    return {
        "kind": "sweep",
        "sweep": plan.name,
        "description": sweep.description,
        "sweep_file": str(plan.path),
        "base": str(plan.base_path),
        "scenario": plan.base.scenario,
        "base_config_sha256": plan.base.sha256(without=NOT_RUN),
        "sweep_sha256": plan.manifest["sweep_sha256"],
        "version": VERSION,
        "design": sweep.design.to_dict(),
        "set": dict(sweep.set),
        "command_line_set": list(plan.overrides),
        "parameters": [p.to_dict() for p in sweep.parameters],
        "columns": plan.columns,
        "seeds": plan.seeds,
        "metrics": list(sweep.metrics),
        "interval": INTERVAL_METHOD,
        "reference": None if plan.reference is None else {
            "point": plan.reference, "values": plan.points[plan.reference].values, "reason": plan.reference_reason,
            "difference": DIFFERENCE_METHOD},
        "units": {"total": len(plan.units()), "ok": sum(r["status"] == "ok" for r in rows),
                  "failed": sum(r["status"] == "failed" for r in rows)},
        "points": points,
        "failures": [{"point": r["point"], "seed": r["seed"], "error": r["error"]} for r in rows if r["status"] == "failed"],
        "provenance": provenance(),
    }


__all__ = ["plan_sweep", "run_sweep", "collect", "design_points", "results_table", "summarize_sweep", "flat_metrics",
           "read_units", "SweepPlan", "SweepResult", "Point", "MANIFEST_FILE", "RESULTS_FILE"]

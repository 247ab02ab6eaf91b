"""Fitting a scenario's free parameters to the published figures (``matchsim calibrate``).

The public record gives totals (47,289 disclosures, 42,695 through TIN matching, "nearly 5%" on
deficient addresses) but not the shares that produce them: how many requested people hold a TIN
of their own, how often ICE's record carries it, how many of ICE's addresses are a bare ZIP.
Those are the free parameters a targets file lists (``[[parameters]]``, each with a range). This
module moves them until the simulated targets match the published ones:

1. Each *point* (a vector of parameter values) is the scenario with those values, run under its
   policy at ``calibration.scale`` over ``calibration.replicates`` seeds (``seed``, ``seed+1``...),
   the **same seeds at every point** (common random numbers: the difference between two points
   is the parameters' effect, not a new draw of the world). Its residuals are the relative
   differences ``(mean over seeds - published) / published`` of every fitted target (a target
   with a tolerance or a range; figures shown only are not fitted).
2. Gauss-Newton with a finite-difference Jacobian: one run per parameter, each moved by a step
   towards the middle of its range; then Broyden updates of the Jacobian from each new point,
   so later iterations cost one point each. Residuals are weighted by what each target allows;
   each step is the bounded least-squares step within the ranges (``scipy.optimize.lsq_linear``),
   halved up to three times while it makes the fit worse. It stops when every residual is within
   a quarter of its target's tolerance (the margin left for the seed-to-seed noise of a
   confirming run) or after ``max_iterations``.
3. A confirming run of the fitted values at ``confirm_scale`` over ``confirm_replicates`` *other*
   seeds, reported beside the published figures with 95% intervals.

The fitted config is the scenario file itself, with the fitted values set (rounded to 4
decimals) and a ``[calibration]`` table recording targets, fitted values, residuals and seeds;
tomlkit keeps every comment, so the documentation of each parameter survives.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import lsq_linear

from sim.config import (CalibrationSettings, Config, FreeParameter, TargetConfig, TargetsConfig, balanced_updates,
                        config_with, get_dotted)
from sim.common.errors import ConfigError
from sim.common.io import atomic_write_text
from sim.common.metrics import metric
from sim.common.parallel import Engine, engine_or_local
from sim.runs.pipeline import large_world, run, spreads_blocks
from sim.common.provenance import VERSION
from sim.studies.study import compare_published, published_lines
from sim.common.text import today

#: Fitted values are written with this many decimals (shares: 0.0001 is 128 requests nationally).
DECIMALS = 4
#: Stop when every residual is within this fraction of its target's relative tolerance.
CONVERGED_FRACTION = 0.25
#: Seeds of the confirming run start this far from the calibration's, so they never overlap.
CONFIRM_SEED_OFFSET = 1000


@dataclass
class CalibrationResult:
    """What :func:`calibrate` found: fitted values, the residuals at them, the confirming run."""

    parameters: list[dict]
    targets: list[dict]
    confirm: dict
    converged: bool
    iterations: int
    runs: int
    seeds: list[int]
    settings: CalibrationSettings
    history: list[dict] = field(default_factory=list)

    def fitted(self) -> dict[str, float]:
        """Every key the calibration sets, the balancing shares included."""
        out = {}
        for p in self.parameters:
            out[p["key"]] = p["fitted"]
            if p["balance"]:
                out[p["balance"]] = p["balance_fitted"]
        return out

    def provenance(self, targets_file: str, date: str) -> dict:
        """The ``[calibration]`` table of the fitted config."""
        return {
            "date": date,
            "version": VERSION,
            "targets_file": targets_file,
            "scale": self.settings.scale,
            "replicates": self.settings.replicates,
            "seeds": self.seeds,
            "iterations": self.iterations,
            "runs": self.runs,
            "converged": self.converged,
            "parameters": [{k: v for k, v in p.items() if v is not None} for p in self.parameters],
            "targets": self.targets,
            "confirm": self.confirm,
            "history": self.history,
        }

    def summary_lines(self) -> list[str]:
        verdict = "converged" if self.converged else "NOT converged (max_iterations reached)"
        lines = [f"calibration {verdict} after {self.iterations} iterations, {self.runs} runs "
                 f"at scale {self.settings.scale:g} over seeds {self.seeds[0]}..{self.seeds[-1]}"]
        for p in self.parameters:
            extra = f" ({p['balance']} {p['balance_start']:g} -> {p['balance_fitted']:g})" if p["balance"] else ""
            lines.append(f"  {p['key']:<48} {p['start']:>8g} -> {p['fitted']:<8g}{extra}")
        lines.append(f"  confirmed at scale {self.confirm['scale']:g} over seeds "
                     f"{self.confirm['seeds'][0]}..{self.confirm['seeds'][-1]}:")
        return lines + published_lines(self.confirm["targets"])


# --------------------------------------------------------------------------------------------


def calibrate(config: Config, plan: TargetsConfig, *, settings: CalibrationSettings | None = None,
              jobs: int | None = None, engine: Engine | None = None, progress: bool = False) -> CalibrationResult:
    """Fit ``plan.parameters`` of ``config`` to the fitted targets of ``plan`` (see the module).
    Runs go to ``engine`` (default: a local engine of ``jobs`` processes); the fit does not
    depend on it."""
    settings = settings or plan.calibration
    if settings is None:
        raise ConfigError("calibrate", ["calibration: the targets file has no [calibration] table (scale, replicates, "
                                        "max_iterations, confirm_scale, confirm_replicates); add one or pass them as options"])
    params = list(plan.parameters)
    fitted_targets = [t for t in plan.targets if t.bounds() is not None]
    problems = _check_plan(config, params, fitted_targets)
    if problems:
        raise ConfigError("calibrate", problems)

    seeds = [config.seed + i for i in range(settings.replicates)]
    base = config_with(config, **{"world.scale": settings.scale, "study.alternatives": [], "study.replicates": 1})
    lo = np.array([p.range[0] for p in params])
    hi = np.array([p.range[1] for p in params])
    start = np.array([float(get_dotted(config, p.key)) for p in params])
    x = np.clip(start, lo, hi)
    aim = np.array([t.value for t in fitted_targets], dtype=np.float64)

    bar = _bar(progress)
    # a large world spreads its blocks over every worker; small ones take a worker each, and
    # no more are started than there are runs at once
    spread = large_world(settings.scale) or large_world(settings.confirm_scale)
    with engine_or_local(engine, jobs=jobs, most=None if spread else settings.replicates * (len(params) + 1)) as engine:
        runs = 0

        def run_map(configs: Sequence[Config]) -> list[dict]:
            if spreads_blocks(configs[0], engine):
                return [run(c, engine=engine).summary for c in configs]
            return list(engine.map(_run_one, configs))

        def residuals(points: Sequence[np.ndarray]) -> list[np.ndarray]:
            nonlocal runs
            configs = [_with_values(base, params, config, p) for p in points]
            summaries = run_map([c.model_copy(update={"seed": s}) for c in configs for s in seeds])
            runs += len(summaries)
            if bar is not None:
                bar.update(len(summaries))
            out = []
            for i in range(len(points)):
                mine = summaries[i * len(seeds):(i + 1) * len(seeds)]
                means = np.array([np.mean([metric(s, t.metric) for s in mine]) for t in fitted_targets])
                out.append((means - aim) / aim)
            return out

        # residuals are weighted by what each target allows, so one with a wide range does not
        # pull as hard as one held to 1.5%
        weights = np.array([1.0 / _allowed(t) for t in fitted_targets])
        steps = np.array([_step(v, a, b) for v, a, b in zip(x, lo, hi)])
        r, *moved = residuals([x, *(x + np.diag(steps))])
        jac = np.column_stack([(rm - r) / h for rm, h in zip(moved, steps)])
        history = [_history(0, params, x, fitted_targets, r)]
        converged = _converged(r, fitted_targets)
        iteration = 0
        while not converged and iteration < settings.max_iterations:
            iteration += 1
            # the Gauss-Newton step within the ranges (a clipped parameter cannot be made up for
            # by the others), then halved while it makes the fit worse
            delta = lsq_linear(jac * weights[:, None], -r * weights, bounds=(lo - x, hi - x + 1e-15)).x
            for _ in range(3):
                x_new = np.clip(x + delta, lo, hi)
                (r_new,) = residuals([x_new])
                improved = np.linalg.norm(r_new * weights) < np.linalg.norm(r * weights)
                if improved:
                    break
                delta = delta / 2
            dx = x_new - x
            if np.dot(dx, dx) > 0:   # Broyden's update: the secant through the last two points
                jac = jac + np.outer((r_new - r) - jac @ dx, dx) / np.dot(dx, dx)
            if improved:
                x, r = x_new, r_new
            history.append(_history(iteration, params, x_new, fitted_targets, r_new))
            converged = _converged(r, fitted_targets)

        x = np.round(x, DECIMALS)
        (r,) = residuals([x])    # the residuals of the values written, rounded
        converged = _converged(r, fitted_targets)
        confirm_seeds = [config.seed + CONFIRM_SEED_OFFSET + i for i in range(settings.confirm_replicates)]
        confirm_cfg = config_with(_with_values(base, params, config, x), **{"world.scale": settings.confirm_scale})
        confirm = run_map([confirm_cfg.model_copy(update={"seed": s}) for s in confirm_seeds])
        runs += len(confirm)
    if bar is not None:
        bar.close()

    final = _values(params, config, x)
    parameters = []
    for p, v0, v in zip(params, start, x):
        row = {"key": p.key, "start": float(v0), "fitted": float(v), "range": list(p.range), "balance": p.balance,
               "balance_start": None, "balance_fitted": None}
        if p.balance:
            row.update(balance_start=float(get_dotted(config, p.balance)), balance_fitted=round(final[p.balance], DECIMALS))
        parameters.append(row)
    targets = [{"name": t.name, "metric": t.metric, "published": t.value,
                "simulated": round(float(t.value * (1 + res)), 6), "relative_residual": round(float(res), 6),
                "within": bool(_within(t, t.value * (1 + res)))}
               for t, res in zip(fitted_targets, r)]
    confirmed = compare_published(plan.targets, confirm)
    return CalibrationResult(
        parameters=parameters, targets=targets, converged=bool(converged), iterations=iteration, runs=runs,
        seeds=seeds, settings=settings, history=history,
        confirm={"scale": settings.confirm_scale, "replicates": settings.confirm_replicates, "seeds": confirm_seeds,
                 "targets": [{k: row[k] for k in ("name", "metric", "published", "simulated", "within")} for row in confirmed]},
    )


def _check_plan(config: Config, params: Sequence[FreeParameter], targets: Sequence[TargetConfig]) -> list[str]:
    problems = []
    if not params:
        problems.append("parameters: the targets file lists no [[parameters]] to fit; add at least one")
    if not targets:
        problems.append("targets: no target has a tolerance or a range, so there is nothing to fit to")
    for i, p in enumerate(params):
        for key in (p.key, p.balance):
            if key is None:
                continue
            value = get_dotted(config, key)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                problems.append(f"parameters.{i}: {key!r} is not a number in the scenario (got {value!r}); "
                                "name a numeric key such as world.requested.in_master_file_share")
        value = get_dotted(config, p.key)
        if isinstance(value, (int, float)) and not p.range[0] <= value <= p.range[1]:
            problems.append(f"parameters.{i}: the scenario's {p.key} = {value:g} is outside the range {list(p.range)}; widen the range")
    return problems


def _with_values(base: Config, params: Sequence[FreeParameter], original: Config, x: np.ndarray) -> Config:
    updates = _values(params, original, x)
    try:
        return config_with(base, **updates)
    except ConfigError as exc:
        raise ConfigError("calibrate", [f"the point {updates} is not a valid scenario: {p}" for p in exc.problems]
                          + ["narrow the parameter ranges so every point is valid (a balancing share must stay in [0, 1])"]) from None


def _values(params: Sequence[FreeParameter], original: Config, x: np.ndarray) -> dict[str, float]:
    """Every key a point sets: the parameters, and each balancing share."""
    return balanced_updates(original, {p.key: float(v) for p, v in zip(params, x)}, {p.key: p.balance for p in params})


def _step(value: float, lo: float, hi: float) -> float:
    """Finite-difference step: 10% of the value or 2% of the range, towards the middle."""
    h = max(0.1 * abs(value), 0.02 * (hi - lo))
    return h if value + h <= hi else -h


def _within(target: TargetConfig, value: float) -> bool:
    lo, hi = target.bounds()
    return lo <= value <= hi


def _allowed(target: TargetConfig) -> float:
    """How far a target lets the simulation be from it, relative to its value."""
    if target.range is not None:
        return (target.range[1] - target.range[0]) / 2 / abs(target.value)
    return target.tolerance


def _converged(r: np.ndarray, targets: Sequence[TargetConfig]) -> bool:
    """Every residual within a quarter of its tolerance (a range's half-width, relative)."""
    for res, t in zip(r, targets):
        lo, hi = t.bounds()
        if t.range is not None:
            value = t.value * (1 + res)
            if not lo <= value <= hi:
                return False
            allowed = (hi - lo) / 2 / t.value
        else:
            allowed = t.tolerance
        if abs(res) > CONVERGED_FRACTION * allowed:
            return False
    return True


def _history(i: int, params, x, targets, r) -> dict:
    return {"iteration": i, "values": {p.key: round(float(v), 6) for p, v in zip(params, x)},
            "relative_residuals": {t.name: round(float(res), 6) for t, res in zip(targets, r)}}


# --------------------------------------------------------------------------------------------
# Running the points: one single-policy run per (point, seed), in worker processes
# (sim.common.parallel), or one after another with its blocks over them (a large world)


def _run_one(config: Config) -> dict:
    return run(config).summary


def _bar(enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(unit=" runs", desc="calibrating", dynamic_ncols=True)


# --------------------------------------------------------------------------------------------
# Writing the fitted config


def calibrated_text(config_path: str | Path, result: CalibrationResult, *, targets_file: str,
                    date: str | None = None) -> str:
    """The scenario file at ``config_path`` with the fitted values set and a ``[calibration]``
    table, every comment kept. A ``[calibration]`` already there moves into the new one's
    ``previous`` list (oldest first)."""
    import tomlkit

    doc = tomlkit.parse(Path(config_path).read_text(encoding="utf-8"))
    for key, value in result.fitted().items():
        node = doc
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        old = node.item(last)
        width = len(old.as_string()) + len(old.trivia.comment_ws)
        node[last] = value
        new = node.item(last)
        new.trivia.comment = old.trivia.comment       # the comment keeps its column
        new.trivia.comment_ws = " " * max(1, width - len(new.as_string()))
    # an earlier fit's record is kept, under previous, so a refit of some parameters (at another
    # scale, say) does not erase how the others were fitted
    previous = []
    if "calibration" in doc:
        earlier = doc["calibration"].unwrap()
        previous = [*earlier.pop("previous", []), earlier]
        del doc["calibration"]
    date = date or today().isoformat()
    record = result.provenance(targets_file, date)
    if previous:
        record["previous"] = previous
    table = tomlkit.table()
    table.comment(f"written by `matchsim calibrate` on {date}; the record of the fit, not a setting")
    for key, value in record.items():
        table[key] = _toml_value(value)
    if not tomlkit.dumps(doc).endswith("\n\n"):   # one blank line before the record, also on a refit
        doc.add(tomlkit.nl())
    doc["calibration"] = table
    return tomlkit.dumps(doc)


def _toml_value(value):
    import tomlkit

    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        aot = tomlkit.aot()
        for v in value:
            aot.append({k: _toml_value(x) for k, x in v.items() if x is not None})
        return aot
    if isinstance(value, dict):
        t = tomlkit.table()
        for k, x in value.items():
            if x is not None:
                t[k] = _toml_value(x)
        return t
    return value


def check_calibrated_path(out_path: str | Path, *, force: bool = False) -> None:
    """Raise :class:`OutputExistsError` unless ``out_path`` may receive the fitted config: a
    directory never, an existing file only with ``force``. Called before the fit, and again
    before writing."""
    from sim.common.errors import OutputExistsError

    out_path = Path(out_path)
    if out_path.is_dir():
        raise OutputExistsError(f"output path is a directory: '{out_path}'; -o names the fitted TOML file")
    if out_path.exists() and not force:
        raise OutputExistsError(f"output file exists: '{out_path}'; pass --force to replace it, or choose another -o")


def write_calibrated(text: str, out_path: str | Path, *, force: bool = False) -> Path:
    """Write the fitted config atomically; an existing file is replaced only with ``force``."""
    check_calibrated_path(out_path, force=force)
    atomic_write_text(out_path, text)
    return Path(out_path)


__all__ = ["calibrate", "calibrated_text", "check_calibrated_path", "write_calibrated", "CalibrationResult"]

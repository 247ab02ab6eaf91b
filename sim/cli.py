"""The ``matchsim`` command line: a thin adapter over the library.

Each command parses its arguments, loads the config, makes one library call and prints what it
returns. Errors the library raises on purpose (:class:`sim.common.errors.SimError`) become one
``error: <message>`` on stderr and the error's exit code, never a traceback; anything else is a
bug and keeps its traceback. Click's own usage errors keep click's exit code 2.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import click

from sim import __version__
from sim.config import MATCHERS
from sim.common.errors import SimError, Terminated
from sim.common.parallel import ENGINES


class SweepFailures(SimError):
    """Some units of a sweep failed (the others are recorded): exit code 1."""

_SET_HELP = (
    "Override one config key, e.g. --set world.scale=0.001; VALUE is read as TOML "
    "(numbers, true/false, [lists]), otherwise as a string. Repeatable."
)


def _engine_options(fn):
    """--engine, -j/--jobs/--workers and --scheduler: where a command's independent tasks run."""
    fn = click.option("--scheduler", metavar="tcp://HOST:PORT", default=None,
                      help="With --engine dask: join the Dask cluster whose scheduler is here (started with "
                           "`dask scheduler`, workers with `dask worker`) instead of starting one.")(fn)
    fn = click.option("-j", "--jobs", "--workers", "jobs", type=click.IntRange(1, 1024), default=None,
                      help="How many tasks run at once: processes of the local engine, or workers of the local Dask "
                           "cluster --engine dask starts [default: one per core]. Outputs do not depend on it.")(fn)
    fn = click.option("--engine", "engine_name", type=click.Choice(ENGINES), default="local", show_default=True,
                      help="Where tasks run: processes on this machine, or Dask distributed (a local cluster, or "
                           "--scheduler's). Outputs are identical on either.")(fn)
    return fn


def _open_engine(engine_name: str, jobs: int | None, scheduler: str | None, *, most: int | None = None):
    """The engine the options ask for (a context manager), or a usage error for a bad pair."""
    if scheduler and engine_name != "dask":
        raise click.UsageError(f"--scheduler {scheduler} joins a Dask cluster; add --engine dask")
    if scheduler and jobs:
        raise click.UsageError("--jobs/--workers starts a local Dask cluster of that size; with --scheduler the "
                               "cluster's own workers run the tasks, so leave out --jobs")
    if scheduler:
        _check_scheduler_address(scheduler)
    from sim.common.parallel import open_engine

    return open_engine(engine_name, jobs=jobs, scheduler=scheduler, most=most if engine_name == "local" else None)


#: The protocols of a Dask scheduler's address (distributed.comm).
SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss", "ucx", "inproc")


def _check_scheduler_address(address: str) -> None:
    """A usage error at once for an address Dask would take 20 seconds to reject."""
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in SCHEDULER_PROTOCOLS or not parts.hostname or (parts.scheme != "inproc" and port is None):
        raise click.BadParameter(f"expected a Dask scheduler's address, PROTOCOL://HOST:PORT with PROTOCOL one of "
                                 f"{', '.join(SCHEDULER_PROTOCOLS)} (e.g. tcp://10.0.0.5:8786, as `dask scheduler` prints "
                                 f"it); got {address!r}", param_hint="'--scheduler'")


class _Group(click.Group):
    """A group that turns :class:`SimError` into a clean message and exit code.

    Done here rather than only in :func:`main` so that click's test runner sees exactly what a
    user sees.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SimError as err:
            click.echo(f"error: {err}", err=True)
            ctx.exit(err.exit_code)
        except KeyboardInterrupt as stop:
            # Ctrl-C, or SIGTERM (sim.common.errors.Terminated): what was being written has been removed
            # on the way here, and the workers stopped; the exit code is the shell's 128 + signal
            how = "SIGTERM" if isinstance(stop, Terminated) else "Ctrl-C"
            click.echo(f"\ninterrupted ({how}): stopped; no partial output was left (a sweep keeps the units it "
                       "recorded: run the same command to finish it)", err=True)
            ctx.exit(143 if isinstance(stop, Terminated) else 130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="matchsim")
def cli() -> None:
    """Simulate the 2025 ICE-to-IRS address match. Generates a synthetic IRS master file and ICE
    request file from a TOML config, matches them under a policy (the IRS's 2025 procedure, the
    statute's reading, or Fellegi-Sunter), and measures every decision against the ground truth.
    See configs/august-2025.toml for every setting and configs/irs-2025.toml for a policy.

    \b
    Example:
      matchsim validate configs/august-2025.toml
      matchsim generate configs/august-2025.toml -o out/august-2025
      matchsim run configs/august-2025.toml -o out/run
    """


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Output directory; created with master_file/ and requests/ inside. Must not exist unless --force.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--force", is_flag=True, help="Replace an existing output directory (only once the new one is complete).")
@click.option("--quiet", is_flag=True, help="No progress bar on stderr (it is shown only on a terminal anyway).")
def generate(config_path: Path, out_dir: Path, overrides: tuple[str, ...], force: bool, quiet: bool) -> None:
    """Write the synthetic world for CONFIG to DIR. DIR/master_file/ (the IRS master file) and
    DIR/requests/ (the ICE request file) each get one Parquet file per region, and a summary is
    printed. The output appears only when complete: an interrupted run leaves no partial DIR, and
    an existing DIR is kept unless --force is given.

    \b
    Example:
      matchsim generate configs/august-2025.toml -o out/tiny --set world.scale=0.0005
    """
    from sim.config import load_config
    from sim.common.io import check_output_dir

    config = load_config(config_path, overrides)
    # generate() checks this too; checking here fails fast, before importing the generator, and
    # keeps --force from deleting the config it read
    check_output_dir(out_dir, force=force, inputs=[config_path])

    from sim.world.generate import generate as generate_world

    result = generate_world(config, out_dir, force=force, progress=not quiet and sys.stderr.isatty())
    for line in result.summary_lines():
        click.echo(line)


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Output directory for summary.json, runs/ and the report. Must not exist unless --force.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
@click.option("--matcher", type=click.Choice(MATCHERS), default=None,
              help="Match every policy with this matcher instead of its own policy.matcher "
                   "(results are identical; recordlinkage is slower).")
@_engine_options
@click.option("--no-report", is_flag=True, help="Write summary.json and runs/ only, no report (re-render later with `matchsim report DIR`).")
@click.option("--no-pdf", is_flag=True, help="Write report.html and report.md, not report.pdf (which needs Chromium).")
@click.option("--force", is_flag=True, help="Replace an existing output directory (only once the new one is complete).")
@click.option("--quiet", is_flag=True, help="No progress bars on stderr (they are shown only on a terminal anyway).")
def run(config_path: Path, out_dir: Path, overrides: tuple[str, ...], matcher: str | None, engine_name: str,
        jobs: int | None, scheduler: str | None, no_report: bool, no_pdf: bool, force: bool, quiet: bool) -> None:
    """The main job: generate the worlds of CONFIG, match each under the scenario's policy and
    every study alternative, evaluate every decision against the ground truth, and write the
    audit report. The study's replicates (study.replicates seeds: seed, seed+1, ...) give every
    figure a 95% interval. Writes DIR/summary.json (provenance, each policy's figures with
    intervals, published vs simulated), DIR/runs/POLICY/seed-S/ (decisions.parquet, one row per
    request, and that run's summary.json) and DIR/report.html, report.md and report.pdf.

    \b
    One replicate, one policy (a single run, as `matchsim run` reproduces any unit of a study):
      matchsim run configs/august-2025.toml -o out/one --set study.replicates=1 --set study.alternatives=[]
    \b
    Example:
      matchsim run configs/august-2025.toml -o out/august-2025
      matchsim run configs/august-2025.toml -o out/statute --set policy=statute-6103 --set world.scale=0.001
    \b
    A national world, its regions spread over a Dask cluster:
      matchsim run configs/august-2025.toml -o out/national --set world.scale=1.0 --set study.replicates=1 \\
          --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from sim.config import load_config
    from sim.common.io import check_output_dir

    from sim.report.notes import parameter_notes

    config = load_config(config_path, overrides)
    check_output_dir(out_dir, force=force, inputs=[config_path])
    if not no_report and not no_pdf:
        from sim.report import find_chromium

        find_chromium()   # fail before the long run, not after it

    from sim.studies.study import run_and_write_study

    # every worker the machine has: each world's blocks are spread over them (sim.studies.study.run_study)
    with _open_engine(engine_name, jobs, scheduler) as engine:
        finish = None if no_report else functools.partial(_write_report, pdf=not no_pdf)
        result = run_and_write_study(config, out_dir, force=force, finish=finish, matcher=matcher,
                                     engine=engine, progress=not quiet and sys.stderr.isatty(),
                                     notes=parameter_notes(config_path, overrides))
    for line in result.summary_lines():
        click.echo(line)
    click.echo(f"written to {out_dir}")


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--targets", "targets_path", required=True, metavar="TARGETS.toml", type=click.Path(path_type=Path),
              help="The published figures ([[targets]]), the parameters to fit ([[parameters]]) and how ([calibration]); "
                   "see configs/published-2025.toml.")
@click.option("-o", "--out", "out_path", required=True, metavar="CALIBRATED.toml", type=click.Path(path_type=Path),
              help="Where to write CONFIG with the fitted values and a [calibration] record. Must not exist unless --force.")
@click.option("--scale", type=click.FloatRange(0, 1, min_open=True), default=None, help="Override calibration.scale of TARGETS.")
@click.option("--replicates", type=click.IntRange(1, 100), default=None, help="Override calibration.replicates of TARGETS.")
@click.option("--max-iterations", type=click.IntRange(1, 50), default=None, help="Override calibration.max_iterations of TARGETS.")
@click.option("--confirm-scale", type=click.FloatRange(0, 1, min_open=True), default=None, help="Override calibration.confirm_scale.")
@click.option("--confirm-replicates", type=click.IntRange(1, 100), default=None, help="Override calibration.confirm_replicates.")
@_engine_options
@click.option("--force", is_flag=True, help="Replace CALIBRATED.toml if it exists (it may be CONFIG itself).")
@click.option("--quiet", is_flag=True, help="No progress bar on stderr (it is shown only on a terminal anyway).")
def calibrate(config_path: Path, targets_path: Path, out_path: Path, scale, replicates, max_iterations, confirm_scale,
              confirm_replicates, engine_name: str, jobs, scheduler, force: bool, quiet: bool) -> None:
    """Fit the free parameters of CONFIG to the published figures of TARGETS. Each point is run
    at a reduced scale over several seeds (the same seeds at every point); Gauss-Newton steps
    move the parameters within their ranges until every fitted target is met; a confirming run
    at a larger scale over other seeds checks the result. Writes CONFIG, comments and all, with
    the fitted values and a [calibration] table (targets, fitted values, residuals, seeds) to
    CALIBRATED.toml, and prints the fit.

    \b
    Example:
      matchsim calibrate configs/august-2025.toml --targets configs/published-2025.toml \\
          -o configs/august-2025.toml --force      # how the shipped baseline was made
    """
    import os

    from sim.studies.calibrate import check_calibrated_path
    from sim.config import load_config, load_targets

    config = load_config(config_path)
    plan = load_targets(targets_path)
    check_calibrated_path(out_path, force=force)   # before the fit, which takes minutes
    if plan.calibration is None and None in (scale, replicates, max_iterations, confirm_scale, confirm_replicates):
        raise click.UsageError(f"{targets_path} has no [calibration] table; give --scale, --replicates, --max-iterations, "
                               "--confirm-scale and --confirm-replicates")
    from sim.config import CalibrationSettings

    given = {"scale": scale, "replicates": replicates, "max_iterations": max_iterations,
             "confirm_scale": confirm_scale, "confirm_replicates": confirm_replicates}
    base = plan.calibration.to_dict() if plan.calibration else {}
    settings = CalibrationSettings.model_validate({**base, **{k: v for k, v in given.items() if v is not None}})

    from sim.studies.calibrate import calibrate as fit, calibrated_text, write_calibrated

    with _open_engine(engine_name, jobs, scheduler, most=settings.replicates * (len(plan.parameters) + 1)) as engine:
        result = fit(config, plan, settings=settings, engine=engine, progress=not quiet and sys.stderr.isatty())
    targets_file = os.path.relpath(targets_path.resolve(), out_path.resolve().parent)
    write_calibrated(calibrated_text(config_path, result, targets_file=Path(targets_file).as_posix()), out_path, force=force)
    for line in result.summary_lines():
        click.echo(line)
    click.echo(f"written to {out_path}")


@cli.command()
@click.argument("sweep_path", metavar="SWEEP.toml", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="The sweep's directory. Started again with the same command, the sweep runs only the units "
                   "(point, seed) not yet recorded there.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one key of the base scenario at every point (after the sweep file's set), e.g. "
                   "--set world.scale=0.005; VALUE is read as TOML. Repeatable.")
@_engine_options
@click.option("--retry-failed", is_flag=True, help="Run the units recorded as failed again (a failure is otherwise final).")
@click.option("--no-report", is_flag=True, help="Write results.parquet and summary.json, not report.html.")
@click.option("--force", is_flag=True, help="Start the sweep over: delete DIR and every unit recorded in it first.")
@click.option("--quiet", is_flag=True, help="No progress bar on stderr (it is shown only on a terminal anyway).")
def sweep(sweep_path: Path, out_dir: Path, overrides: tuple[str, ...], engine_name: str, jobs: int | None,
          scheduler: str | None, retry_failed: bool, no_report: bool, force: bool, quiet: bool) -> None:
    """Run the base scenario of SWEEP.toml at every point of its design (a grid, or random or
    Latin-hypercube draws over the swept keys), each point over the same replicate seeds, and
    write DIR/results.parquet (one row per point and seed: the swept values, the seed and every
    metric of the run's summary.json), DIR/summary.json (each point's metrics with a 95%
    interval over seeds) and DIR/report.html (figures of each metric against each parameter).

    Each (point, seed) is recorded in DIR/units/ as soon as it finishes: a sweep that is
    interrupted, even killed, finishes with the same command, running only what is missing. A
    point that fails is recorded with its error and the others go on (exit code 1 at the end).
    Results are identical on either engine and any number of workers.

    \b
    Example:
      matchsim sweep configs/sweeps/address-gate.toml -o out/address-gate
      matchsim sweep configs/sweeps/address-quality.toml -o out/aq --engine dask --workers 4
      matchsim sweep configs/sweeps/threshold.toml -o out/t --engine dask --scheduler tcp://10.0.0.5:8786
    """
    from sim.common.io import check_output_dir, check_writable
    from sim.studies.sweep import plan_sweep, run_sweep

    plan = plan_sweep(sweep_path, overrides)
    if force and out_dir.exists():      # --force starts the sweep over: never over its own sweep file
        check_output_dir(out_dir, force=True, inputs=[sweep_path])
    check_writable(out_dir if out_dir.is_dir() else out_dir.parent, shown=str(out_dir))   # before any unit runs
    with _open_engine(engine_name, jobs, scheduler, most=len(plan.units())) as engine:
        result = run_sweep(plan, out_dir, engine=engine, force=force, retry_failed=retry_failed,
                           progress=not quiet and sys.stderr.isatty())
    if not no_report:
        from sim.report.sweep import write_sweep_report

        write_sweep_report(result.summary, out_dir, force=True)
    for line in result.summary_lines():
        click.echo(line)
    click.echo(f"written to {out_dir}")
    if result.summary["units"]["failed"]:
        raise SweepFailures(_sweep_failures(plan, result.summary, out_dir))


def _sweep_failures(plan, summary: dict, out_dir: Path) -> str:
    """What failed in a sweep and what to do: a point whose values make no valid scenario fails
    the same way every time (change the sweep file; --retry-failed skips it), a run that failed
    (out of memory, a lost worker) may succeed again (--retry-failed)."""
    failures = summary.get("failures") or []
    invalid = sorted({f["point"] for f in failures if plan.points[f["point"]].error})
    runs = [f for f in failures if not plan.points[f["point"]].error]
    head = (f"{summary['units']['failed']} of {summary['units']['total']} units failed (listed above and in "
            f"{out_dir}/summary.json); the others are in the results.")
    advice = []
    if invalid:
        shown = ", ".join(str(i) for i in invalid[:10]) + (", ..." if len(invalid) > 10 else "")
        advice.append(f"{len(invalid)} point{'s' if len(invalid) != 1 else ''} ({shown}) make{'s' if len(invalid) == 1 else ''} "
                      "no valid scenario: change their values or ranges in the sweep file (--retry-failed does not run them "
                      "again, the config would be refused again)")
    if runs:
        advice.append(f"{len(runs)} run{'s' if len(runs) != 1 else ''} failed while running: fix the cause and run the "
                      "same command with --retry-failed to run them again")
    return " ".join([head, *(a[0].upper() + a[1:] + "." for a in advice)])


@cli.command()
@click.argument("study_dir", metavar="DIR", type=click.Path(path_type=Path))
@click.option("--no-pdf", is_flag=True, help="Write report.html and report.md, not report.pdf (which needs Chromium).")
@click.option("--force", is_flag=True, help="Replace the report files already in DIR.")
def report(study_dir: Path, no_pdf: bool, force: bool) -> None:
    """Render the audit report of a finished `matchsim run` again, from DIR/summary.json alone:
    DIR/report.html (one self-contained file), DIR/report.md and DIR/report.pdf (printed from
    the HTML by headless Chromium; install Debian's chromium, or set MATCHSIM_CHROMIUM to a
    Chromium or Chrome binary). Existing report files are kept unless --force is given.

    \b
    Example:
      matchsim report out/august-2025 --force
    """
    from sim.common.io import check_writable
    from sim.report import write_report
    from sim.common.summaries import read_summary

    summary = read_summary(study_dir, "study")
    check_writable(study_dir)
    written = write_report(summary, study_dir, pdf=not no_pdf, force=force)
    for path in written:
        click.echo(f"written {path}")


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help=_SET_HELP)
def validate(config_path: Path, overrides: tuple[str, ...]) -> None:
    """Check CONFIG and print its hash, generating nothing. Every problem (with any --set
    overrides applied) is reported at once with its key path, the value received and what is
    allowed; the exit code is 0 when the config is valid and 2 when it is not. The config_sha256
    identifies the validated configuration, so two runs with the same hash used the same settings.

    \b
    Example:
      matchsim validate configs/august-2025.toml --set world.scale=0.001
    """
    from sim.config import load_config

    config = load_config(config_path, overrides)
    click.echo(f"ok: {config_path} (config_sha256 {config.sha256()})")


@cli.command()
@click.argument("left_path", metavar="LEFT", type=click.Path(path_type=Path))
@click.argument("right_path", metavar="RIGHT", type=click.Path(path_type=Path))
@click.option("-c", "--config", "config_path", required=True, metavar="LINK.toml", type=click.Path(path_type=Path),
              help="Link config: the policy and how each file's columns map onto the match columns (see configs/link/example.toml).")
@click.option("-o", "--out", "out_dir", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Output directory for pairs.parquet, decisions.parquet and summary.json. Must not exist unless --force.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override one key of the link config, e.g. --set left.encoding=latin-1 or "
                   "--set policy.paths.0.address_gate=sufficient; VALUE is read as TOML, otherwise as a string. Repeatable.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Seed of the random record pairs a Fellegi-Sunter policy estimates u from; the same seed gives identical outputs.")
@click.option("--truth", metavar="LEFT_COLUMN=RIGHT_COLUMN", callback=lambda ctx, param, value: _truth_option(value),
              help="Columns of LEFT and RIGHT holding each record's true identity: the summary then adds precision, "
                   "recall, F1 and, for a Fellegi-Sunter policy, the precision-recall frontier over its thresholds.")
@click.option("--force", is_flag=True, help="Replace an existing output directory (only once the new one is complete).")
def link(left_path: Path, right_path: Path, config_path: Path, out_dir: Path, overrides: tuple[str, ...],
         seed: int, truth: tuple[str, str] | None, force: bool) -> None:
    """Match the records of LEFT (CSV or Parquet) against those of RIGHT under a policy, with the
    simulation's own matcher, and write what it decided. LEFT's records look for a match, as
    ICE's requests did; RIGHT is searched, as the IRS master file was. Writes DIR/pairs.parquet
    (every scored candidate pair with its comparison levels), DIR/decisions.parquet (one row per
    LEFT record: its outcome and the RIGHT record linked, with its address) and DIR/summary.json
    (provenance: version, config hash, the inputs' sha256 and row counts; counts by outcome),
    and prints the counts. The same files, config and seed give byte-identical outputs.

    \b
    Example:
      matchsim link tests/data/link/people.csv tests/data/link/records.parquet \\
          --config configs/link/example.toml -o out/link
      matchsim link people.csv roster.csv -c my-link.toml -o out/link --set left.encoding=latin-1
    """
    from sim.config import load_link_config
    from sim.common.io import check_output_dir

    config = load_link_config(config_path, overrides)
    check_output_dir(out_dir, force=force, inputs=[left_path, right_path, config_path])

    from sim.runs.link import link as link_files, write_link

    result = link_files(config, left_path, right_path, seed=seed, truth=truth)
    write_link(result, out_dir, force=force)
    for line in result.summary_lines():
        click.echo(line)
    click.echo(f"written to {out_dir}")


@cli.command()
@click.argument("world_dir", metavar="WORLD_DIR", type=click.Path(path_type=Path))
@click.argument("links_path", metavar="LINKS", type=click.Path(path_type=Path))
@click.option("-o", "--out", "out_dir", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="Output directory for decisions.parquet and summary.json. Must not exist unless --force.")
@click.option("--request-id", "request_column", default="request_id", show_default=True, metavar="COLUMN",
              help="The column of LINKS holding the request's id (the world's requests/ request_id).")
@click.option("--tin", "tin_column", default="tin", show_default=True, metavar="COLUMN",
              help="The column of LINKS holding the master-file record's TIN (the world's master_file/ tin).")
@click.option("--score", "score_column", metavar="COLUMN",
              help="For a table of scored pairs: the column of each pair's score (with --threshold).")
@click.option("--threshold", type=float, metavar="T",
              help="For a table of scored pairs: a request's top pair is a link when its score is at least T.")
@click.option("--force", is_flag=True, help="Replace an existing output directory (only once the new one is complete).")
def score(world_dir: Path, links_path: Path, out_dir: Path, request_column: str, tin_column: str,
          score_column: str | None, threshold: float | None, force: bool) -> None:
    """Score another linker's output, LINKS (CSV or Parquet), against the ground truth of a world
    written by `matchsim generate`, as `matchsim run` scores its own: right- and wrong-person
    disclosures by whose record it was, missed matches by reason, and the breakdowns by address
    class, SSN source, corruption, origin group and name commonness. LINKS is either a table of
    links (a request id and the TIN disclosed; a request linked to two TINs is ambiguous) or,
    with --score and --threshold, a table of scored candidate pairs (each request's top pair is
    a link when it reaches the threshold; the summary adds the precision-recall frontier over
    the scores). Writes DIR/decisions.parquet (one row per request, as a run's) and
    DIR/summary.json, and prints the counts.

    \b
    Example:
      matchsim generate configs/august-2025.toml -o out/world --set world.scale=0.01
      matchsim score out/world links.csv -o out/score
      matchsim score out/world splink-pairs.parquet -o out/score-splink \\
          --request-id unique_id_l --tin unique_id_r --score match_probability --threshold 0.99
    """
    from sim.common.io import check_output_dir
    from sim.runs.score import score as score_links, write_score

    check_output_dir(out_dir, force=force, inputs=[world_dir, links_path])
    result = score_links(world_dir, links_path, request_column=request_column, tin_column=tin_column,
                         score_column=score_column, threshold=threshold)
    write_score(result, out_dir, force=force)
    for line in result.summary_lines():
        click.echo(line)
    click.echo(f"written to {out_dir}")


def _write_report(summary: dict, out_dir: Path, *, pdf: bool) -> None:
    """A study's audit report, written into its directory before the directory appears."""
    from sim.report import write_report

    write_report(summary, out_dir, pdf=pdf)


def _truth_option(value: str | None) -> tuple[str, str] | None:
    """``--truth LEFT_COLUMN=RIGHT_COLUMN`` as (left column, right column)."""
    if value is None:
        return None
    left, sep, right = value.partition("=")
    if not sep or not left.strip() or not right.strip():
        raise click.BadParameter(f"expected LEFT_COLUMN=RIGHT_COLUMN, e.g. --truth person_id=person_id; got {value!r}")
    return left.strip(), right.strip()


def _stop_on_sigterm(signum, frame) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point (``matchsim``); exits with the command's exit code. SIGTERM
    stops a command as Ctrl-C does, cleaning up on the way out (:class:`sim.common.errors.Terminated`)."""
    import signal

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        cli.main(args=argv, prog_name="matchsim")
    except SimError as err:  # raised outside a command, e.g. by a future parameter callback
        click.echo(f"error: {err}", err=True)
        sys.exit(err.exit_code)

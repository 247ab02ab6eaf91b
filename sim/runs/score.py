"""Any linker's output scored against a generated world's ground truth (``matchsim score``).

A world written by ``matchsim generate`` is a benchmark: ICE's request file and the IRS master
file, each row with the truth of whose it is. Another tool (Splink, a commercial matcher, a
hand-written rule) links the two files; its output, LINKS, is scored here exactly as a
``matchsim run`` scores its own decisions (:func:`sim.evaluate.evaluate`), so its summary has the
same figures: right- and wrong-person disclosures (whose record it was: the owner of a borrowed
SSN, a household member, a same-name neighbour, another), missed matches by reason, and the
breakdowns by address class, SSN source, corruption, origin group and name commonness.

LINKS is a CSV or Parquet table in one of two shapes:

* **links**: a request id and the master-file TIN the tool disclosed for it, one row a link. A
  request with links to several TINs is *ambiguous* and nothing is disclosed for it (the IRS
  rejects a request that matches more than one record); a request without a row is *unmatched*.
* **scored pairs** (``score_column`` and ``threshold`` given): a request id, a TIN and the
  tool's score of the pair (Splink's ``match_probability``, say), one row a candidate pair. A
  request discloses its highest-scoring TIN when that score is at least the threshold; two TINs
  tied at the top score are *ambiguous*; a request whose pairs all fall short is *unmatched*.
  Every pair listed counts as a candidate, so ``true_record_candidate`` says whether the tool's
  blocking paired the request with the person's own record, and the summary's ``frontier``
  gives precision and recall at every threshold the scores allow.

A TIN is unique on the master file, so it identifies the record; ids and TINs are compared as
text (a TIN written with dashes or an integer column is normalized to its 9 digits). An id or
TIN that the world does not hold is an error, not a silent miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim import evaluate
from sim.common import metrics
from sim.common.errors import InputError
from sim.common.io import output_dir
from sim.match.policy import OUTCOMES
from sim.match.prepare import prepare_master_file, prepare_requests
from sim.common.provenance import provenance
from sim.common.summaries import MANIFEST_FILE, parquet_metadata, read_summary, write_summary
from sim.common.text import percent
from sim.world.generate import dense, read_dataset

DECISIONS_FILE = "decisions.parquet"
#: The path name the decisions carry: an outside tool has no paths of matchsim's.
PATH_NAME = "links"
#: Thresholds of the frontier of scored pairs: this many quantiles of the requests' top scores.
FRONTIER_POINTS = 50


@dataclass
class Links:
    """LINKS read and checked: for each row, the request's row in the world and the master-file
    row of its TIN, and the score (NaN when LINKS has none)."""

    path: Path
    sha256: str
    n_rows: int
    request_row: np.ndarray
    master_row: np.ndarray
    score: np.ndarray
    columns: dict[str, str | None]
    threshold: float | None


@dataclass
class ScoreResult:
    decisions: pa.Table
    summary: dict

    def summary_lines(self) -> list[str]:
        s = self.summary
        c, e, r = s["simulated"], s["estimates"], s["rates"]
        width = max(len(k) for k in metrics.COUNT_KEYS)
        shape = (f"scored pairs at {s['links']['columns']['score']} >= {s['links']['threshold']:g}"
                 if s["links"]["threshold"] is not None else "links")
        lines = [f"scored {s['links']['file']} ({s['links']['rows']:,} rows, {shape}) on world '{s['scenario']}' "
                 f"(seed {s['seed']}, scale {s['scale']:g}, world {s['world_sha256'][:12]})",
                 f"  {'':<{width}}  {'simulated':>10}  {'national estimate':>17}"]
        lines += [f"  {key:<{width}}  {c[key]:>10,}  {e[key]:>17,}" for key in metrics.COUNT_KEYS]
        lines.append(f"  precision {percent(r['precision'])}, recall {percent(r['recall'])}, wrong person "
                     f"{percent(r['wrong_person_rate'])} of disclosures, deficient address {percent(r['deficient_address_rate'])}")
        return lines


def score(world_dir: str | Path, links_path: str | Path, *, request_column: str = "request_id",
          tin_column: str = "tin", score_column: str | None = None, threshold: float | None = None) -> ScoreResult:
    """Score LINKS (see the module docstring) on the world generated into ``world_dir``."""
    world_dir, links_path = Path(world_dir), Path(links_path)
    manifest = _manifest(world_dir)
    requests, master = dense(read_dataset(world_dir, "requests")), dense(read_dataset(world_dir, "master_file"))
    if requests.num_rows == 0 or master.num_rows == 0:
        raise InputError(f"world '{world_dir}' has no requests or no master file; pass a directory written by "
                         f"`matchsim generate`")
    links = read_links(links_path, requests, master, request_column=request_column, tin_column=tin_column,
                       score_column=score_column, threshold=threshold)
    decided, pairs = decide(links, requests.num_rows)
    left = prepare_requests(requests)
    right = prepare_master_file(master)
    for name in evaluate.RIGHT_TRUTH_COLUMNS:
        right = right.append_column(name, master.column(name))
    decisions = evaluate.evaluate(requests, left, right, decided, [pairs], [PATH_NAME], name_ranks=evaluate.census_ranks())
    return ScoreResult(decisions, summarize(manifest, links, decisions))


def _manifest(world_dir: Path) -> dict:
    if not world_dir.is_dir() or not (world_dir / MANIFEST_FILE).is_file():
        raise InputError(f"'{world_dir}' is not a generated world (no {MANIFEST_FILE}); pass the directory "
                         f"`matchsim generate CONFIG -o DIR` wrote")
    manifest = read_summary(world_dir, "world")
    n_requests = manifest["config"].get("world", {}).get("n_requests") if isinstance(manifest["config"].get("world"), dict) else None
    if not isinstance(n_requests, int):     # what the summary needs of the config
        raise InputError(f"the world's manifest '{world_dir / MANIFEST_FILE}' has no config.world.n_requests; "
                         f"generate the world again")
    return manifest


def read_links(path: Path, requests: pa.Table, master: pa.Table, *, request_column: str, tin_column: str,
               score_column: str | None, threshold: float | None) -> Links:
    """LINKS as rows of the world, every id and TIN checked to be the world's."""
    from sim.runs.link import file_sha256, quoted, read_table_file

    if (score_column is None) != (threshold is None):
        raise InputError("--score and --threshold go together: give the column holding each pair's score and the "
                         "score from which a pair is a link (e.g. --score match_probability --threshold 0.99), or neither "
                         "for a table of links")
    shown = f"LINKS '{path}'"
    table, _ = read_table_file(path, shown, where="LINKS is the second argument of matchsim score")
    wanted = {"request id (--request-id)": request_column, "TIN (--tin)": tin_column,
              **({"score (--score)": score_column} if score_column else {})}
    missing = [f"{what} column '{name}'" for what, name in wanted.items() if name not in table.column_names]
    if missing:
        raise InputError(f"{shown} has no {' and no '.join(missing)}; its columns are {quoted(table.column_names)}: "
                         f"name them with --request-id, --tin and --score")
    ids = _as_text(table.column(request_column), shown, request_column)
    tins = _as_text(table.column(tin_column), shown, tin_column)
    tins = pc.replace_substring_regex(tins, r"[^0-9]", "")
    tins = pc.if_else(pc.less(pc.utf8_length(tins), 9), pc.utf8_lpad(tins, 9, "0"), tins)
    request_row = _rows(ids, requests.column("request_id"), shown, request_column, "request id", "the world's request file")
    master_row = _rows(tins, master.column("tin"), shown, tin_column, "TIN", "the world's master file")
    scores = np.full(table.num_rows, np.nan)
    if score_column is not None:
        column = table.column(score_column)
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column = pc.cast(column, pa.float64())
            except pa.ArrowInvalid:
                raise InputError(f"{shown}: the score column '{score_column}' holds text that is not a number; "
                                 f"name the column of the pairs' scores with --score") from None
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise InputError(f"{shown}: the score column '{score_column}' holds {column.type} values, not numbers; "
                             f"name the column of the pairs' scores with --score")
        scores = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        if np.isnan(scores).any():
            raise InputError(f"{shown}: the score column '{score_column}' has {int(np.isnan(scores).sum()):,} empty "
                             f"or NaN scores; every pair needs a score (drop the pairs the tool did not score)")
        if not np.isfinite(threshold):
            raise InputError(f"--threshold must be a finite number; got {threshold}")
    return Links(path, file_sha256(path), table.num_rows, request_row, master_row, scores,
                 {"request_id": request_column, "tin": tin_column, "score": score_column}, threshold)


def _as_text(column, shown: str, name: str) -> pa.Array:
    values = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_nested(values.type) or not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
                                               or pa.types.is_integer(values.type)):
        raise InputError(f"{shown}: column '{name}' holds {values.type} values; it must hold ids as text or whole numbers")
    values = pc.utf8_trim_whitespace(values.cast(pa.string()))
    blank = int(pc.sum(pc.cast(pc.or_kleene(pc.is_null(values), pc.equal(values, "")), pa.int64())).as_py() or 0)
    if blank:
        raise InputError(f"{shown}: column '{name}' is blank in {blank:,} rows; every row needs a request id and a TIN")
    return values


def _rows(values: pa.Array, world: pa.ChunkedArray, shown: str, name: str, what: str, where: str) -> np.ndarray:
    """The row of ``world`` holding each value; an error listing some values it does not hold."""
    world = world.combine_chunks() if isinstance(world, pa.ChunkedArray) else world
    rows = pc.index_in(values, value_set=world)
    unknown = pc.is_null(rows)
    n = int(pc.sum(pc.cast(unknown, pa.int64())).as_py() or 0)
    if n:
        examples = ", ".join(repr(v) for v in pc.filter(values, unknown).unique().to_pylist()[:3])
        rows_name = "1 row names" if n == 1 else f"{n:,} rows name"
        raise InputError(f"{shown}: {rows_name} a {what} that is not in {where} (column '{name}': {examples}); "
                         f"score the links made on this world, with --request-id and --tin naming the columns that "
                         f"hold its request_id and its master-file tin")
    return rows.to_numpy(zero_copy_only=False).astype(np.int64)


@dataclass
class _Pairs:
    """The pairs LINKS lists, as the candidates :func:`sim.evaluate.evaluate` looks through for the
    person's own record (``true_record_candidate``)."""

    left_idx: np.ndarray
    right_idx: np.ndarray


def decide(links: Links, n_requests: int) -> tuple[dict[str, np.ndarray], _Pairs]:
    """The decisions :func:`sim.evaluate.evaluate` reads, from LINKS: each request's outcome
    (disclosed, ambiguous or unmatched), the master-file row disclosed, its candidate and match
    counts, and for scored pairs the top two scores and the row at the top."""
    # each (request, TIN) once, with its best score if listed twice
    order = np.lexsort((-np.nan_to_num(links.score, nan=-np.inf), links.master_row, links.request_row))
    req, row, sc = links.request_row[order], links.master_row[order], links.score[order]
    first = np.ones(len(req), bool)
    first[1:] = (req[1:] != req[:-1]) | (row[1:] != row[:-1])
    req, row, sc = req[first], row[first], sc[first]
    n_candidates = np.bincount(req, minlength=n_requests)
    scored = links.threshold is not None
    match = sc >= links.threshold if scored else np.ones(len(req), bool)
    n_matches = np.bincount(req[match], minlength=n_requests)
    # rank each request's pairs by score, highest first (a table of links: all equal)
    rank = np.lexsort((row, -np.nan_to_num(sc, nan=0.0), req))
    req_r, row_r, sc_r = req[rank], row[rank], sc[rank]
    start = np.ones(len(req_r), bool)
    start[1:] = req_r[1:] != req_r[:-1]
    heads = np.flatnonzero(start)
    top_row = np.full(n_requests, -1, np.int64)
    top_score = np.full(n_requests, np.nan)
    second_score = np.full(n_requests, np.nan)
    top_row[req_r[heads]] = row_r[heads]
    top_score[req_r[heads]] = sc_r[heads]
    has_second = heads + 1 < len(req_r)
    has_second[has_second] = ~start[heads[has_second] + 1]
    second_score[req_r[heads[has_second]]] = sc_r[heads[has_second] + 1]
    if scored:
        tied = ~np.isnan(second_score) & (second_score == top_score)
        linked = n_matches > 0
    else:
        tied = n_matches > 1
        linked = n_matches > 0
    disclosed = linked & ~tied
    outcome = np.where(disclosed, OUTCOMES.index("disclosed"),
                       np.where(linked, OUTCOMES.index("ambiguous"), OUTCOMES.index("unmatched")))
    decided = {
        "path": np.zeros(n_requests, np.int64),
        "gate_passed": np.ones(n_requests, bool),
        "outcome": outcome.astype(np.int8),
        "n_candidates": n_candidates,
        "n_matches": n_matches,
        "right_row": np.where(disclosed, top_row, -1),
        "score": np.where(disclosed, top_score, np.nan),
    }
    if scored:
        decided |= {"top_row": top_row, "top_weight": top_score, "second_weight": second_score}
    return decided, _Pairs(req, row)


def summarize(manifest: dict, links: Links, decisions: pa.Table) -> dict:
    """``summary.json``: the world's and LINKS' provenance, then the figures a run's summary has
    (simulated counts, national estimates, rates, breakdowns, address ages) and, for scored pairs, the frontier."""
    config = manifest["config"]
    return {
        "command": "score",
        "scenario": config.get("scenario"),
        "seed": config.get("seed"),
        "scale": config["world"].get("scale"),
        "world_sha256": manifest["world_sha256"],
        "links": {"file": links.path.name, "sha256": links.sha256, "rows": links.n_rows,
                  "columns": links.columns, "threshold": links.threshold},
        **provenance(),
        **evaluate.figures(decisions, config["world"]["n_requests"]),
        **({"frontier": frontier(decisions)} if links.threshold is not None else {}),
    }


def frontier(decisions: pa.Table, points: int = FRONTIER_POINTS) -> list[dict]:
    """Precision and recall of the scored pairs at thresholds spread over the requests' top
    scores (quantiles, and the top score itself): the request's top pair is disclosed when its
    score reaches the threshold and no other pair ties it. Simulated counts."""
    top = decisions.column("top_match_weight").to_numpy(zero_copy_only=False)
    second = decisions.column("second_match_weight").to_numpy(zero_copy_only=False)
    right = np.asarray(decisions.column("top_right_person").fill_null(False).to_numpy(zero_copy_only=False), bool)
    findable = int(pc.sum(pc.cast(decisions.column("findable"), pa.int64())).as_py() or 0)
    ranked = ~np.isnan(top) & ~(second == top)
    if not ranked.any():
        return []
    thresholds = np.unique(np.quantile(top[ranked], np.linspace(0, 1, points)))
    out = []
    for t in thresholds:
        hit = ranked & (top >= t)
        n, r = int(hit.sum()), int((hit & right).sum())
        out.append({"threshold": float(t), "disclosed": n, "right_person_disclosures": r,
                    "wrong_person_disclosures": n - r, "precision": r / n if n else None,
                    "recall": r / findable if findable else None})
    return out


def write_score(result: ScoreResult, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write ``decisions.parquet`` and ``summary.json`` into ``out_dir``, all or nothing."""
    out_dir = Path(out_dir)
    with output_dir(out_dir, force=force) as tmp:
        s = result.summary
        meta = parquet_metadata({k: s[k] for k in ("scenario", "seed", "scale", "world_sha256", "version")})
        pq.write_table(result.decisions.replace_schema_metadata(meta), tmp / DECISIONS_FILE,
                       compression="zstd", compression_level=3)
        write_summary(tmp, s, "score")
    return out_dir


__all__ = ["score", "read_links", "decide", "summarize", "frontier", "write_score", "ScoreResult", "Links"]

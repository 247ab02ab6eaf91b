"""``matchsim link``: the matcher on two files of one's own.

The policies that match ICE's requests to the IRS master file run on any two tables: a *left*
file whose records look for a match (the requests) and a *right* file that is searched (the
master file). A link config (``configs/link/example.toml``) names the policy and maps each file's
columns onto the match columns (:data:`sim.config.MATCH_COLUMNS`); the rest is the simulation's
own code path: :func:`sim.match.prepare.prepare` on each side, then :func:`sim.match.policy.match`.

The data flows top to bottom:

1. :func:`read_input` - read a CSV (every column as text, in the side's encoding) or Parquet
   file and check it: it exists, has a header and rows, holds every mapped column, its dates of
   birth are dates and its ids are unique. Every failure is an :class:`~sim.common.errors.InputError`
   that says what was wrong, what was received, and how to fix it (rows are numbered from 1,
   the header not counted).
2. :func:`link_inputs` - pure: prepare both sides, run the policy, and build two tables:
   ``pairs`` (every scored candidate pair with its comparison levels, ``gamma_<column>``) and
   ``decisions`` (one row per left record: its outcome and the right record's address as
   disclosed).
3. :func:`write_link` - ``pairs.parquet``, ``decisions.parquet`` and ``summary.json``, all or
   nothing; the same inputs, config and seed give byte-identical files.

>>> from sim.config import load_link_config                                              # doctest: +SKIP
>>> config = load_link_config("configs/link/example.toml")                               # doctest: +SKIP
>>> result = link(config, "tests/data/link/people.csv", "tests/data/link/records.parquet")  # doctest: +SKIP
>>> result.summary["outcomes"]["disclosed"]                                               # doctest: +SKIP
"""

from __future__ import annotations

import codecs
import csv
import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sim.config import LinkConfig, LinkSideConfig
from sim.common.errors import InputError
from sim.common.io import output_dir
from sim.match import policy as policy_mod
from sim.compare.encode import as_array
from sim.match.prepare import prepare
from sim.common.provenance import provenance
from sim.common.rng import stream
from sim.common.summaries import parquet_metadata, write_summary
from sim.common.text import percent

#: Match columns that hold names: a column of numbers mapped to one is a mistake, not a name.
_NAME_COLUMNS = ("first_name", "last_name", "name_control")
#: The file formats read, by suffix (case-insensitive).
FORMATS = {".csv": "csv", ".parquet": "parquet"}
PAIRS_FILE = "pairs.parquet"
DECISIONS_FILE = "decisions.parquet"
#: Text columns that a Parquet file may hold as integers, losing leading zeros: the width they
#: are padded back to.
_DIGIT_WIDTHS = {"zip5": 5, "zip4": 4, "tin": 9}
_DATE_FORM = "YYYY-MM-DD"
_ADDRESS = "__address_text"     # the address column inside the table handed to prepare()


# ---------------------------------------------------------------------------------------------
# 1. Reading and checking an input


@dataclass(frozen=True)
class LinkInput:
    """One input file, read and checked: ``table`` holds the mapped columns as prepare() takes
    them (dates of birth as dates, digit columns as text), ``ids`` one id per row."""

    side: str                   # "left" or "right"
    path: Path
    format: str                 # "csv" or "parquet"
    sha256: str
    table: pa.Table
    ids: pa.Array
    columns: Mapping[str, str]  # match column -> column of ``table``
    address: str | None         # column of ``table`` holding the free-text address
    truth: pa.Array | None = None   # each record's true identity, as text (--truth), null where blank

    @property
    def n_rows(self) -> int:
        return self.table.num_rows

    def provenance(self) -> dict:
        return {"file": self.path.name, "format": self.format, "sha256": self.sha256, "rows": self.n_rows}


def read_input(path: str | Path, side_config: LinkSideConfig, *, side: str, truth: str | None = None) -> LinkInput:
    """Read and check the ``side`` ("left" or "right") input file at ``path``; ``truth`` names a
    column holding each record's true identity (``matchsim link --truth``).

    Raises :class:`InputError` for a missing or unreadable file, a suffix other than .csv or
    .parquet, a file without a header or rows, a CSV that is not valid in ``encoding``, a mapped
    column (or the truth column) the file lacks, a date of birth that is not a date, and blank or
    duplicate ids.
    """
    path = Path(path)
    shown = f"{side} input '{path}'"
    table, fmt = read_table_file(path, shown, encoding=side_config.encoding, side=side,
                                 where="LEFT and RIGHT are the first two arguments of matchsim link")
    _check_columns(table, side_config, side=side, shown=shown)
    columns, address = {}, None
    converted = {}
    for match_column, source in side_config.columns.items():
        name = f"__{match_column}"
        values = as_array(table.column(source))
        if pa.types.is_nested(values.type):
            raise InputError(f"{shown}: column '{source}' (mapped to {match_column}) holds {values.type} values, several "
                             f"per record; a match column needs one value per record (text, a number or a date): map a "
                             f"column of single values, or flatten it first")
        if match_column in _NAME_COLUMNS and (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            raise InputError(f"{shown}: column '{source}' (mapped to {match_column}) holds numbers ({values.type}), not "
                             f"names; check [{side}.columns] maps {match_column} to the column with the names")
        if match_column == "date_of_birth":
            values = _dates(values, source=source, shown=shown)
        elif pa.types.is_integer(values.type) and match_column in _DIGIT_WIDTHS:
            values = pc.utf8_lpad(values.cast(pa.string()), _DIGIT_WIDTHS[match_column], "0")
        converted[name] = values
        columns[match_column] = name
    if side_config.address is not None:
        converted[_ADDRESS] = as_array(table.column(side_config.address))
        address = _ADDRESS
    ids = _ids(table, side_config.id, shown=shown, side=side)
    identity = None
    if truth is not None:
        if truth not in table.column_names:
            raise InputError(f"{shown} has no column '{truth}' for --truth; its columns are {quoted(table.column_names)}: "
                             f"give --truth LEFT_COLUMN=RIGHT_COLUMN naming the column of each file that holds the true identity")
        values = as_array(table.column(truth))
        if pa.types.is_nested(values.type):
            raise InputError(f"{shown}: the --truth column '{truth}' holds {values.type} values; it must hold one "
                             f"identity per record (text or a number)")
        identity = pc.utf8_trim_whitespace(values.cast(pa.string()))
        identity = pc.if_else(pc.equal(identity, ""), pa.scalar(None, pa.string()), identity)
    return LinkInput(side, path, fmt, file_sha256(path), pa.table(converted) if converted else pa.table({"__row": ids}),
                     ids, columns, address, identity)


def read_table_file(path: Path, shown: str, *, encoding: str = "utf-8", side: str = "left",
                    where: str = "") -> tuple[pa.Table, str]:
    """A CSV (every column as text) or Parquet file with at least one row, and its format; a
    missing, unreadable, empty or malformed file is an :class:`InputError` naming ``shown``."""
    if not path.exists():
        raise InputError(f"{shown} does not exist; check the path" + (f" ({where})" if where else ""))
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        got = f"suffix '{path.suffix}'" if path.suffix else "no suffix"
        raise InputError(f"{shown} has {got}; matchsim reads {' and '.join(FORMATS)} files: "
                         f"save it as CSV with a header line, or as Parquet, with one of those suffixes")
    if not path.is_file():
        raise InputError(f"{shown} is not a file; give the path of a {fmt.upper()} file")
    table = _read_csv(path, encoding, shown, side) if fmt == "csv" else _read_parquet(path, shown)
    if table.num_rows == 0:
        raise InputError(f"{shown} has no rows (columns: {quoted(table.column_names)}); "
                         f"give a file with at least one record")
    return table, fmt


def _read_csv(path: Path, encoding: str, shown: str, side: str) -> pa.Table:
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise InputError(f"{shown}: unknown encoding {encoding!r} (set by {side}.encoding); use one Python knows, "
                         f"e.g. \"utf-8\", \"latin-1\" or \"cp1252\"") from None
    try:
        # The header is read here so every column can be typed as text: inferred types would
        # drop the leading zeros of ZIP codes and TINs.
        with open(path, encoding="utf-8-sig" if codec == "utf-8" else encoding, newline="") as fh:
            header = next(csv.reader(fh), None)
    except UnicodeDecodeError:
        raise _encoding_error(path, encoding, shown, side) from None
    except OSError as exc:
        raise InputError(f"cannot read {shown}: {exc.strerror or exc}; check that the file is readable") from None
    except csv.Error as exc:
        raise InputError(f"cannot read {shown} as CSV: {exc}; check the header line") from None
    if not header or all(not name.strip() for name in header):
        raise InputError(f"{shown} is empty: it has no header line; a CSV needs a first line naming its "
                         f"columns, then one line per record")
    dupes = sorted({name for name in header if header.count(name) > 1})
    if dupes:
        raise InputError(f"{shown}: the header names {quoted(dupes)} more than once; give every column a distinct name")
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=encoding),
            convert_options=pacsv.ConvertOptions(column_types={name: pa.string() for name in header},
                                                 strings_can_be_null=True, null_values=[""]),
        )
    except (pa.ArrowInvalid, UnicodeError) as exc:
        bad = _first_undecodable(path, encoding)
        if bad is not None:
            raise _encoding_error(path, encoding, shown, side, bad) from None
        raise InputError(f"cannot read {shown} as CSV: {exc}; check that every line has as many "
                         f"fields as the header ({len(header)}) and that quotes are closed") from None
    _check_no_swallowed_records(table, len(header), shown)
    return table


def _check_no_swallowed_records(table: pa.Table, n_fields: int, shown: str) -> None:
    """Refuse a CSV whose quote was left open. A quoted field may span lines (an address written
    on two), so the parser reads on to the next quote, taking the records between into one field
    and linking the file without them, silently. A value holding a line that is itself a whole
    record (as many fields as the header) is taken for that."""
    for name in table.column_names:
        column = table.column(name)
        multiline = pc.match_substring_regex(column, r"[\r\n]")
        if not pc.any(multiline).as_py():
            continue
        for row in np.flatnonzero(pc.fill_null(multiline, False).to_numpy(zero_copy_only=False)):
            value = column[int(row)].as_py()
            lines = value.splitlines()
            swallowed = [line for line in lines[1:] if len(next(csv.reader([line]), [])) == n_fields]
            if swallowed:
                raise InputError(
                    f"{shown}: record {int(row) + 1} (line {int(row) + 2} if no earlier field spans lines) has a quote "
                    f"that is not closed: its field {name!r} runs on over {len(lines) - 1} more line(s), taking in "
                    f"{len(swallowed)} that look like records of their own (the first: {swallowed[0][:60]!r}). "
                    f"Close the quote, or remove it")


def _encoding_error(path: Path, encoding: str, shown: str, side: str, bad: tuple[int, bytes] | None = None) -> InputError:
    line, byte = bad if bad is not None else _first_undecodable(path, encoding) or (1, b"")
    got = f"byte 0x{byte.hex().upper()} on line {line}" if byte else f"line {line}"
    return InputError(f"{shown} is not valid {encoding} text: {got} cannot be decoded; if the file was saved "
                      f"in Latin-1, set encoding = \"latin-1\" under [{side}] in the link config (or --set "
                      f"{side}.encoding=latin-1; \"cp1252\" for files from Windows), or save it as UTF-8")


def _first_undecodable(path: Path, encoding: str) -> tuple[int, bytes] | None:
    """(line number, first bad byte) of the first text ``encoding`` cannot decode, or None."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    line = 1
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # exc.object is this chunk after any bytes held over from the last one, which
                # are part of a character and never a newline
                return line + exc.object.count(b"\n", 0, exc.start), exc.object[exc.start:exc.start + 1]
            line += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return line, b""
    return None


def _read_parquet(path: Path, shown: str) -> pa.Table:
    try:
        return pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {shown} as Parquet ({exc}); check that it is a Parquet file, "
                         f"or give a CSV file the suffix .csv") from None


def _check_columns(table: pa.Table, side_config: LinkSideConfig, *, side: str, shown: str) -> None:
    mapped = [(f"{side}.columns.{k}", v) for k, v in side_config.columns.items()]
    mapped += [(f"{side}.{k}", getattr(side_config, k)) for k in ("address", "id") if getattr(side_config, k) is not None]
    names = table.column_names
    missing = []
    for key, column in mapped:
        if column in names:
            continue
        guess = difflib.get_close_matches(column, names, n=1, cutoff=0.6)
        if not guess:   # a difference of case only ("Surname" for "SURNAME")
            guess = [n for n in names if n.lower() == column.lower()][:1]
        missing.append(f"'{column}' (mapped by {key}" + (f"; did you mean '{guess[0]}'?)" if guess else ")"))
    if missing:
        what = "no column" if len(missing) == 1 else f"none of the {len(missing)} columns"
        raise InputError(f"{shown} has {what} {', '.join(missing)}; its columns are: {quoted(names)}; "
                         f"fix the names under [{side}] in the link config")


def _dates(values: pa.Array, *, source: str, shown: str) -> pa.Array:
    """Dates of birth as an Arrow date column: date and timestamp columns as they are, text in
    the form YYYY-MM-DD (blank is missing). Anything else is refused with an example."""
    if pa.types.is_date32(values.type):
        return values
    if pa.types.is_date64(values.type) or pa.types.is_timestamp(values.type):
        return values.cast(pa.date32())
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        raise InputError(f"{shown}: column '{source}' (date_of_birth) holds {values.type} values, not dates; "
                         f"give dates, or text in the form {_DATE_FORM} (e.g. 1984-07-21)")
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    parsed = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True)
    # strptime rolls 1984-02-30 over to March 1 and takes 1984-7-1: only the exact form passes
    ok = pc.equal(pc.strftime(parsed, format="%Y-%m-%d"), text)
    bad = np.flatnonzero(pc.and_(pc.is_valid(text), pc.invert(pc.fill_null(ok, False))).to_numpy(zero_copy_only=False))
    if len(bad):
        example = values[int(bad[0])].as_py()
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise InputError(f"{shown}: column '{source}' (date_of_birth) cannot be read as dates: {example!r} "
                         f"on row {bad[0] + 1}{more}; write dates as {_DATE_FORM} (e.g. 1984-07-21), "
                         f"leave unknown dates blank, or map another column")
    return parsed.cast(pa.date32())


def _ids(table: pa.Table, column: str | None, *, shown: str, side: str) -> pa.Array:
    """The id of each row: the ``id`` column (unique, never blank), else the row number from 1."""
    if column is None:
        return pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64))
    ids = as_array(table.column(column))
    blank = pc.is_null(ids)
    if pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type):
        blank = pc.or_(blank, pc.equal(pc.utf8_trim_whitespace(ids), ""))
    blank_rows = np.flatnonzero(pc.fill_null(blank, True).to_numpy(zero_copy_only=False))
    fix = f"give every record a distinct id, or remove id from [{side}] to number the rows"
    if len(blank_rows):
        raise InputError(f"{shown}: id column '{column}' is blank on {len(blank_rows)} row"
                         f"{'s' if len(blank_rows) > 1 else ''} (first: row {blank_rows[0] + 1}); {fix}")
    encoded = pc.dictionary_encode(ids)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(codes, minlength=len(encoded.dictionary))
    if (counts > 1).any():
        first_dupe = int(codes[np.flatnonzero(counts[codes] > 1)[0]])
        rows = np.flatnonzero(codes == first_dupe)[:3] + 1
        n_dupes = int((counts > 1).sum())
        others = f"; {n_dupes} ids occur more than once" if n_dupes > 1 else ""
        raise InputError(f"{shown}: id column '{column}' has duplicate ids: {encoded.dictionary[first_dupe].as_py()!r} "
                         f"on rows {', '.join(str(r) for r in rows)}{others}; {fix}")
    return ids


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# 2. Linking: pure, no file I/O


@dataclass
class LinkResult:
    """What :func:`link` produced: the scored pairs, one decision per left record, the summary."""

    config: LinkConfig
    pairs: pa.Table
    decisions: pa.Table
    summary: dict
    models: dict = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        s = self.summary
        left, right = s["inputs"]["left"], s["inputs"]["right"]
        lines = [f"linked {left['file']} ({left['rows']:,} records) to {right['file']} ({right['rows']:,} records) "
                 f"under policy '{s['policy']}' (seed {s['seed']}, config {s['config_sha256'][:12]})",
                 f"  {s['n_pairs']:,} candidate pairs, {s['n_matched_pairs']:,} matched"]
        width = max(len(k) for k in s["outcomes"])
        lines += [f"  {k:<{width}}  {v:>10,}" for k, v in s["outcomes"].items()]
        if "truth" in s:
            t = s["truth"]

            lines.append(f"  against the truth: {t['right_links']:,} right and {t['wrong_links']:,} wrong links, "
                         f"{t['findable']:,} findable; precision {percent(t['precision'])}, recall {percent(t['recall'])}, F1 {percent(t['f1'])}")
        lines += [f"  note: {note}" for note in s.get("notes", [])]
        return lines


def link(config: LinkConfig, left_path: str | Path, right_path: str | Path, *, seed: int = 0,
         matcher: str | None = None, truth: tuple[str, str] | None = None) -> LinkResult:
    """Read and check both files, then link them under ``config`` (see :func:`link_inputs`).

    ``seed`` feeds the only random draw, the record pairs a Fellegi-Sunter path estimates its u
    probabilities from (stream ``match.u_sample``), so a run is reproducible. ``truth`` names a
    column of each file holding the true identity: the summary then scores the links
    (:func:`score_truth`).
    """
    _check_policy_fits(config)
    left = read_input(left_path, config.left, side="left", truth=truth[0] if truth else None)
    right = read_input(right_path, config.right, side="right", truth=truth[1] if truth else None)
    return link_inputs(config, left, right, rng=stream(seed, "match.u_sample", 0), seed=seed, matcher=matcher)


def link_inputs(config: LinkConfig, left: LinkInput, right: LinkInput, *, rng: np.random.Generator,
                seed: int | None = None, matcher: str | None = None) -> LinkResult:
    """Prepare both sides, run ``config.policy`` on them, and tabulate pairs and decisions."""
    policy = config.policy
    left_p = prepare(left.table, columns=left.columns, address=left.address)
    right_p = prepare(right.table, columns=right.columns, address=right.address)
    try:
        decided, cands, models = policy_mod.match(policy, left_p, right_p, matcher=matcher, rng=rng)
    except ValueError as exc:   # the policy's own messages: no pairs to fit, a gate with no text
        raise InputError(f"policy '{policy.name}' cannot run on {left.path.name} and {right.path.name}: {exc}") from None
    pairs = pairs_table(policy, cands, models, left.ids, right.ids)
    decisions = decisions_table(policy, decided, left.ids, right.ids, right_p)
    summary = summarize(config, left, right, pairs, decided, models, seed=seed)
    if left.truth is not None and right.truth is not None:
        scored = truth_columns(policy, decided, left.truth, right.truth)
        decisions = decisions.append_column("right_person", scored.column("right_person"))
        summary["truth"] = score_truth(policy, scored)
    return LinkResult(config, pairs, decisions, summary, models)


def truth_columns(policy, decided: Mapping[str, np.ndarray], left_truth: pa.Array, right_truth: pa.Array) -> pa.Table:
    """The decisions of one link with the truth beside them, in the columns
    :func:`sim.evaluate.frontier` reads: whether a link went to the right record (same identity),
    whether the left record's identity is on the right side at all (findable), and whether the
    best-ranked candidate of a Fellegi-Sunter path is the right one."""
    disclosed = decided["right_row"] >= 0
    top = decided["top_row"]
    ranked = top >= 0
    findable = pc.fill_null(pc.is_in(left_truth, value_set=right_truth.drop_null()), False).to_numpy(zero_copy_only=False)
    left_np = left_truth.to_numpy(zero_copy_only=False)

    def same(rows, where) -> np.ndarray:
        got = right_truth.take(pa.array(np.where(where, rows, 0))).to_numpy(zero_copy_only=False)
        return where & (got == left_np) & pc.is_valid(left_truth).to_numpy(zero_copy_only=False)

    right_person = same(decided["right_row"], disclosed)
    names = pa.array([p.name for p in policy.paths] + [None], pa.string())
    path = decided["path"].astype(np.int64)
    return pa.table({
        "path": names.take(pa.array(np.where(path < 0, len(policy.paths), path))),
        "address_gate_passed": pa.array(decided["gate_passed"].astype(bool)),
        "disclosed": pa.array(disclosed),
        "right_person": pa.array(right_person, mask=~disclosed),
        "findable": pa.array(findable),
        "top_match_weight": pa.array(decided["top_weight"], mask=~ranked),
        "second_match_weight": pa.array(decided["second_weight"], mask=np.isnan(decided["second_weight"])),
        "top_right_person": pa.array(same(top, ranked), mask=~ranked),
    })


def score_truth(policy, scored: pa.Table) -> dict:
    """Precision, recall and F1 of the links against the truth (:func:`truth_columns`), and for
    a Fellegi-Sunter policy the precision-recall frontier over its thresholds, so a policy can
    be tuned on labelled data."""
    from sim import evaluate

    def n(name: str) -> int:
        return int(pc.sum(pc.cast(pc.fill_null(scored.column(name), False), pa.int64())).as_py() or 0)

    disclosed, right, findable = n("disclosed"), n("right_person"), n("findable")
    precision = right / disclosed if disclosed else None
    recall = right / findable if findable else None
    f1 = 2 * precision * recall / (precision + recall) if precision and recall else None
    out = {"findable": findable, "linked": disclosed, "right_links": right, "wrong_links": disclosed - right,
           "precision": precision, "recall": recall, "f1": f1}
    fs_paths = evaluate.fellegi_sunter_paths(policy)
    if fs_paths:
        out["frontier"] = evaluate.frontier(scored, fs_paths)
    return out


def pairs_table(policy, cands: list[policy_mod.PathCandidates], models: dict, left_ids: pa.Array,
                right_ids: pa.Array) -> pa.Table:
    """Every scored candidate pair, ordered by left then right row: ids, path, one int8
    ``gamma_<column>`` per comparison of any path (-1 missing, 0 different, up to the exact
    level; null when the pair's path does not compare that column), ``score`` (the match weight
    of a Fellegi-Sunter path; under rules the sum of the levels, which only ranks), ``matched``."""
    columns = list(dict.fromkeys(c.key for p in policy.paths for c in p.comparisons))
    parts: dict[str, list] = {k: [] for k in ("left", "right", "path", "score", "matched")}
    gammas: dict[str, list] = {c: [] for c in columns}
    for i, c in enumerate(cands):
        n = len(c.left_idx)
        matched, score = policy_mod.pair_scores(c, models) if n else (np.zeros(0, bool), np.zeros(0))
        parts["left"].append(c.left_idx.astype(np.int64))
        parts["right"].append(c.right_idx.astype(np.int64))
        parts["path"].append(np.full(n, i, dtype=np.int64))
        parts["score"].append(np.asarray(score, dtype=np.float64))
        parts["matched"].append(np.asarray(matched, dtype=bool))
        compared = [comp.key for comp in c.path.comparisons]
        for column in columns:
            if column in compared:
                gammas[column].append(pa.array(c.levels[:, compared.index(column)].astype(np.int8)))
            else:
                gammas[column].append(pa.nulls(n, pa.int8()))
    cat = {k: np.concatenate(v) if v else np.zeros(0) for k, v in parts.items()}
    order = np.lexsort((cat["right"], cat["left"]))
    take = pa.array(order, pa.int64())
    names = pa.array([p.name for p in policy.paths], pa.string())
    out = {
        "left_id": left_ids.take(pa.array(cat["left"][order].astype(np.int64))),
        "right_id": right_ids.take(pa.array(cat["right"][order].astype(np.int64))),
        "path": names.take(pa.array(cat["path"][order].astype(np.int64))),
    }
    for column in columns:
        chunks = gammas[column]
        out[f"gamma_{column}"] = (pa.concat_arrays(chunks) if chunks else pa.array([], pa.int8())).take(take)
    out["score"] = pa.array(cat["score"][order].astype(np.float64))
    out["matched"] = pa.array(cat["matched"][order].astype(bool))
    return pa.table(out)


def decisions_table(policy, decided: Mapping[str, np.ndarray], left_ids: pa.Array, right_ids: pa.Array,
                    right: pa.Table) -> pa.Table:
    """One row per left record, in file order: the path that took it, whether its address passed
    the path's gate, the outcome (:data:`sim.match.policy.OUTCOMES`), the number of candidates
    and of matches, the best score, and for a disclosed record its right id and address."""
    columns = policy_mod.decision_columns([p.name for p in policy.paths], decided, right)
    score = decided["score"]
    out = {
        "left_id": left_ids,
        **{name: columns[name] for name in ("path", "address_gate_passed", "outcome", "n_candidates", "n_matches")},
        "score": pa.array(score.astype(np.float64), mask=np.isnan(score)),
        "right_id": policy_mod.disclosed_values(decided, right_ids),
        **{name: columns[name] for name in policy_mod.DISCLOSED_COLUMNS},
    }
    return pa.table(out)


def summarize(config: LinkConfig, left: LinkInput, right: LinkInput, pairs: pa.Table,
              decided: Mapping[str, np.ndarray], models: dict, *, seed: int | None) -> dict:
    """``summary.json``: provenance (version, config hash, inputs with their sha256 and row
    counts), counts by outcome overall and by path, and the Fellegi-Sunter parameters used."""
    n_out = len(policy_mod.OUTCOMES)
    names = [p.name for p in config.policy.paths]
    # path -1 (no path took the record) is counted last
    path = np.where(decided["path"] < 0, len(names), decided["path"]).astype(np.int64)
    table = np.bincount(path * n_out + decided["outcome"].astype(np.int64),
                        minlength=(len(names) + 1) * n_out).reshape(-1, n_out)
    by_path = {name: {o: int(k) for o, k in zip(policy_mod.OUTCOMES, row) if k}
               for name, row in zip([*names, "(none)"], table) if row.any()}
    return {
        "command": "link",
        **provenance(),
        "policy": config.policy.name,
        "seed": seed,
        "config_sha256": config.sha256(),
        "inputs": {"left": left.provenance(), "right": right.provenance()},
        "n_pairs": pairs.num_rows,
        "n_matched_pairs": int(pc.sum(pairs.column("matched")).as_py() or 0),
        "outcomes": {o: int(k) for o, k in zip(policy_mod.OUTCOMES, table.sum(axis=0))},
        "by_path": by_path,
        "fellegi_sunter": {name: m.parameters() for name, m in models.items()},
        "notes": fellegi_sunter_notes(config.policy, decided, models),
        "config": config.to_dict(),
    }


def fellegi_sunter_notes(policy, decided: Mapping[str, np.ndarray], models: dict) -> list[str]:
    """What a reader of a probabilistic link must be told when its result looks like a failure:
    a path that disclosed none of the records it had candidates for (the highest weight reached
    against the threshold, and why that happens on small files), and an EM that stopped at its
    iteration limit. Empty when nothing needs saying."""
    notes = []
    for i, path in enumerate(policy.paths):
        fs = path.fellegi_sunter
        if fs is None:
            continue
        mine = decided["path"] == i
        scored = mine & ~np.isnan(decided["top_weight"])
        disclosed = int(np.sum(mine & (decided["outcome"] == policy_mod.OUTCOMES.index("disclosed"))))
        model = models.get(path.name)
        if scored.any() and disclosed == 0:
            best = float(np.nanmax(decided["top_weight"][scored]))
            prior = model.parameters().get("prior", {}) if model is not None else {}
            notes.append(
                f"path '{path.name}' disclosed none of the {int(scored.sum()):,} records it found candidates for: the "
                f"highest match weight was {best:.1f}, below the threshold of {fs.threshold_weight:.1f}. The model "
                f"estimates its m, u and prior from these files alone (prior method {prior.get('method', fs.prior)!r}, "
                f"{prior.get('pairs_accepted', 'n/a')} pairs accepted by its deterministic rules): with few records, "
                f"or with files that agree on little, it has too little to learn from. Check the column mapping, "
                f"lower the threshold, or fix m and u (estimate = \"fixed\"); pairs.parquet has every pair's weight")
        if model is not None and not model.parameters()["converged"]:
            notes.append(f"path '{path.name}': EM stopped at its limit of {fs.max_iterations} iterations without "
                         f"converging (tolerance {fs.tolerance:g}); its m and u may be far from their maximum "
                         f"likelihood, so raise max_iterations or check the training rules")
    return notes


def _check_policy_fits(config: LinkConfig) -> None:
    """A path that gates on the address text needs a left ``address`` column: say so before
    reading anything, rather than fail halfway through."""
    if config.left.address is not None:
        return
    for i, path in enumerate(config.policy.paths):
        if path.address_gate == "none" or (path.requests == "with_tin" and "tin" not in config.left.columns):
            continue
        raise InputError(f"policy path '{path.name}' gates on the left file's free-text address "
                         f"(address_gate = {path.address_gate!r}), and [left] maps no address column; set "
                         f"left.address to the column holding it, or --set policy.paths.{i}.address_gate=none")


# ---------------------------------------------------------------------------------------------
# 3. Writing


def write_link(result: LinkResult, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write ``pairs.parquet``, ``decisions.parquet`` and ``summary.json`` into ``out_dir``, all or
    nothing (:func:`sim.common.io.output_dir`); an existing ``out_dir`` is replaced only with ``force``."""
    out_dir = Path(out_dir)
    s = result.summary
    meta = parquet_metadata({**{k: s[k] for k in ("command", "version", "policy", "seed", "config_sha256")},
                             "left_sha256": s["inputs"]["left"]["sha256"], "right_sha256": s["inputs"]["right"]["sha256"]})
    with output_dir(out_dir, force=force) as tmp:
        for name, table in ((PAIRS_FILE, result.pairs), (DECISIONS_FILE, result.decisions)):
            pq.write_table(table.replace_schema_metadata(meta), tmp / name, compression="zstd", compression_level=3)
        write_summary(tmp, s, "link")
    return out_dir


# ---------------------------------------------------------------------------------------------



def quoted(names) -> str:
    names = list(names)
    shown = ", ".join(f"'{n}'" for n in names[:30])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 30 else "")


__all__ = ["score_truth", "truth_columns", "link", "link_inputs", "read_input", "write_link", "LinkInput", "LinkResult",
           "pairs_table", "decisions_table", "summarize", "FORMATS"]

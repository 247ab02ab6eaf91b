"""``matchsim link``: the matcher on two files of one's own (sim/runs/link.py and its command)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import sim
from sim.cli import cli
from sim.config import LinkSideConfig, load_link_config, load_policy
from sim.runs.link import read_input
from sim.match.policy import DISCLOSED_COLUMNS
from sim.match import policy as policy_mod
from sim.match.prepare import prepare_master_file, prepare_requests

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data" / "link"
EXAMPLE = REPO / "configs" / "link" / "example.toml"
PEOPLE, PEOPLE_LATIN1, RECORDS = DATA / "people.csv", DATA / "people-latin1.csv", DATA / "records.parquet"
OUTPUTS = ["decisions.parquet", "pairs.parquet", "summary.json"]
PEOPLE_COLUMNS = "'case_id', 'given_name', 'family_name', 'birth_date', 'ssn', 'home_address'"


def run(*args):
    # catch_exceptions=False: a bug surfaces as its own traceback, not as exit code 1.
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="matchsim", catch_exceptions=False)


def link(left, right, out, *extra, config=EXAMPLE):
    return run("link", left, right, "--config", config, "-o", out, *extra)


# ---------------------------------------------------------------------------------------------
# The example config and data


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "link").glob("*.toml")), ids=lambda p: p.name)
def test_every_link_config_validates(path):
    config = load_link_config(path)
    assert config.policy.paths


def test_example_config_reads_irs_2025_and_maps_columns_the_example_files_have():
    config = load_link_config(EXAMPLE)
    assert config.policy == load_policy(REPO / "configs" / "irs-2025.toml")
    people = pacsv.read_csv(PEOPLE).column_names
    records = pq.read_schema(RECORDS).names
    for side, names in ((config.left, people), (config.right, records)):
        mapped = [*side.columns.values(), *(c for c in (side.address, side.id) if c is not None)]
        assert set(mapped) <= set(names)


def test_example_files_are_what_their_script_writes(tmp_path):
    spec = importlib.util.spec_from_file_location("make_examples", DATA / "make_examples.py")
    make_examples = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_examples)
    make_examples.write(tmp_path)
    for name in ("people.csv", "people-latin1.csv"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
    assert pq.read_table(tmp_path / "records.parquet").equals(pq.read_table(RECORDS))


# ---------------------------------------------------------------------------------------------
# End to end on the example files


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("link") / "example"
    result = link(PEOPLE, RECORDS, out)
    assert result.exit_code == 0, result.output
    return out, result


def test_link_writes_pairs_decisions_and_a_summary_and_prints_the_counts(example_run):
    out, result = example_run
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS
    summary = json.loads((out / "summary.json").read_text())
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"linked people.csv (30 records) to records.parquet (48 records) under policy 'irs-2025' "
        f"(seed 0, config {summary['config_sha256'][:12]})",
        "  28 candidate pairs, 23 matched",   # 3 pairs share surname and address, not first name
        "  no_path             0",
        "  gated               3",
        "  unmatched           6",
        "  ambiguous           1",
        "  disclosed          20",
        f"written to {out}",
    ]


def test_decisions_follow_the_left_file_and_agree_with_the_pairs(example_run):
    out, _ = example_run
    decisions = pq.read_table(out / "decisions.parquet").to_pandas()
    pairs = pq.read_table(out / "pairs.parquet").to_pandas()
    assert decisions["left_id"].tolist() == pacsv.read_csv(PEOPLE).column("case_id").to_pylist()
    by_left = pairs.groupby("left_id")
    n_pairs = by_left.size().reindex(decisions["left_id"], fill_value=0).to_numpy()
    n_matched = by_left["matched"].sum().reindex(decisions["left_id"], fill_value=0).to_numpy()
    assert (decisions["n_candidates"].to_numpy() == n_pairs).all()
    assert (decisions["n_matches"].to_numpy() == n_matched).all()
    matched = set(zip(pairs.loc[pairs["matched"], "left_id"], pairs.loc[pairs["matched"], "right_id"]))
    linked = decisions[decisions["outcome"] == "disclosed"]
    assert len(linked) == 20
    for row in linked.itertuples():
        # the linked record is a matched pair of that left record, and its best
        assert (row.left_id, row.right_id) in matched
        best = pairs[(pairs["left_id"] == row.left_id) & pairs["matched"]]["score"].max()
        assert row.score == best
    others = decisions[decisions["outcome"] != "disclosed"]
    assert others["right_id"].isna().all()
    assert others[[*DISCLOSED_COLUMNS]].isna().all().all()
    assert (decisions.loc[decisions["outcome"] == "gated", "n_candidates"] == 0).all()
    assert (decisions.loc[decisions["outcome"] == "unmatched", "n_matches"] == 0).all()
    assert (decisions.loc[decisions["outcome"] == "ambiguous", "n_matches"] >= 2).all()
    # every pair's path is its left record's path
    assert (pairs["path"].to_numpy() == decisions.set_index("left_id").loc[pairs["left_id"], "path"].to_numpy()).all()


def test_pairs_carry_one_gamma_column_per_comparison(example_run):
    out, _ = example_run
    pairs = pq.read_table(out / "pairs.parquet")
    assert pairs.column_names == ["left_id", "right_id", "path", "gamma_name_control", "gamma_street6", "gamma_zip5",
                                  "gamma_first_name", "gamma_date_of_birth", "score", "matched"]
    assert all(pairs.schema.field(n).type == pa.int8() for n in pairs.column_names if n.startswith("gamma_"))
    assert pairs.schema.field("left_id").type == pa.string()      # a CSV's ids are text
    assert pairs.schema.field("right_id").type == pa.int64()      # a Parquet id keeps its type
    tin = pairs.filter(pc.equal(pairs["path"], "tin"))
    # the TIN path compares only the name control; the address path's columns are null there
    assert tin["gamma_street6"].null_count == tin.num_rows
    assert tin["gamma_name_control"].null_count == 0


def test_example_outcomes_are_the_ones_the_data_was_made_for(example_run):
    out, _ = example_run
    d = pq.read_table(out / "decisions.parquet").to_pandas().set_index("left_id")
    expected = {
        "C001": ("tin", "disclosed", 1001),        # TIN and name control agree
        "C002": ("tin", "disclosed", 1002),        # "Muñoz" is MUNOZ
        "C005": ("tin", "disclosed", 1005),        # "FAILED TO PROVIDE 89509" passes the ZIP filter
        "C007": ("tin", "gated", None),            # blank address
        "C008": ("tin", "gated", None),            # "UNKNOWN"
        "C011": ("tin", "unmatched", None),        # another person's number: name control differs
        "C012": ("tin", "unmatched", None),        # a number not on file
        "C013": ("tin", "disclosed", 1011),        # an address that is only a city and ZIP
        "C015": ("address", "disclosed", 1016),    # MARIA, not MARIO, LOPEZ at the same address
        "C016": ("address", "ambiguous", None),    # JOHN SMITH father and son, no date of birth
        "C020": ("address", "gated", None),        # blank address, no TIN
        "C021": ("address", "unmatched", None),    # the wrong ZIP
        "C022": ("address", "unmatched", None),    # no street
    }
    for case, (path, outcome, right_id) in expected.items():
        got = d.loc[case]
        assert (got["path"], got["outcome"]) == (path, outcome), case
        assert (None if np.isnan(got["right_id"]) else int(got["right_id"])) == right_id, case
    assert d.loc["C015", ["disclosed_street_address", "disclosed_city", "disclosed_state", "disclosed_zip5", "disclosed_zip4"]].tolist() == [
        "1010 LAKE ST", "RENO", "NV", "89501", "2301"]
    assert d.loc["C006", "disclosed_zip5"] == "02134"
    assert bool(d.loc["C007", "address_gate_passed"]) is False


def test_summary_holds_the_provenance_and_the_counts(example_run):
    out, _ = example_run
    summary = json.loads((out / "summary.json").read_text())
    assert summary["command"] == "link"
    assert summary["version"] == sim.__version__
    assert summary["policy"] == "irs-2025"
    assert summary["seed"] == 0
    assert summary["config_sha256"] == load_link_config(EXAMPLE).sha256()
    assert summary["inputs"] == {
        "left": {"file": "people.csv", "format": "csv", "sha256": hashlib.sha256(PEOPLE.read_bytes()).hexdigest(), "rows": 30},
        "right": {"file": "records.parquet", "format": "parquet", "sha256": hashlib.sha256(RECORDS.read_bytes()).hexdigest(), "rows": 48},
    }
    assert summary["outcomes"] == {"no_path": 0, "gated": 3, "unmatched": 6, "ambiguous": 1, "disclosed": 20}
    assert summary["by_path"] == {"tin": {"gated": 2, "unmatched": 3, "disclosed": 13},
                                  "address": {"gated": 1, "unmatched": 3, "ambiguous": 1, "disclosed": 7}}
    assert summary["n_pairs"] == 28 and summary["n_matched_pairs"] == 23
    assert summary["config"]["left"]["id"] == "case_id"
    meta = pq.read_schema(out / "decisions.parquet").metadata
    assert meta[b"matchsim.config_sha256"].decode() == summary["config_sha256"]
    assert meta[b"matchsim.left_sha256"].decode() == summary["inputs"]["left"]["sha256"]


def test_the_config_hash_changes_with_the_config_not_with_the_run():
    base = load_link_config(EXAMPLE).sha256()
    assert load_link_config(EXAMPLE).sha256() == base
    assert load_link_config(EXAMPLE, ["left.encoding=latin-1"]).sha256() != base


def test_a_second_run_gives_byte_identical_outputs(example_run, tmp_path):
    out, _ = example_run
    again = link(PEOPLE, RECORDS, tmp_path / "again")
    assert again.exit_code == 0, again.output
    for name in OUTPUTS:
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name


def test_a_latin1_file_read_in_its_encoding_links_as_the_utf8_one(example_run, tmp_path):
    out, _ = example_run
    result = link(PEOPLE_LATIN1, RECORDS, tmp_path / "latin1", "--set", "left.encoding=latin-1")
    assert result.exit_code == 0, result.output
    for name in ("decisions.parquet", "pairs.parquet"):
        assert pq.read_table(tmp_path / "latin1" / name).equals(pq.read_table(out / name))


def test_a_fellegi_sunter_policy_draws_its_u_pairs_from_the_seed(tmp_path):
    args = ("--set", "policy=../probabilistic.toml")
    runs = {name: link(PEOPLE, RECORDS, tmp_path / name, *args, *seed)
            for name, seed in (("a", ()), ("b", ("--seed", "0")), ("c", ("--seed", "7")))}
    assert all(r.exit_code == 0 for r in runs.values()), [r.output for r in runs.values()]
    for name in OUTPUTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    a, c = (json.loads((tmp_path / n / "summary.json").read_text()) for n in "ac")
    assert (a["seed"], c["seed"]) == (0, 7)
    assert set(a["fellegi_sunter"]) == {"all"}
    assert a["fellegi_sunter"]["all"]["u"] != c["fellegi_sunter"]["all"]["u"]


def test_an_existing_output_directory_is_kept_unless_forced(example_run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    refused = link(PEOPLE, RECORDS, out)
    assert refused.exit_code == 2
    assert refused.stderr == f"error: output directory exists: '{out}'; pass --force to replace it, or choose another -o\n"
    assert (out / "keep.txt").read_text() == "mine"
    # --force replaces only what matchsim wrote: not a directory of the user's own files ...
    refused = link(PEOPLE, RECORDS, out, "--force")
    assert refused.exit_code == 2 and "is not a matchsim output" in refused.stderr
    assert (out / "keep.txt").read_text() == "mine"
    # ... but an earlier link's output, yes
    (out / "keep.txt").unlink()
    out.rmdir()
    assert link(PEOPLE, RECORDS, out).exit_code == 0
    forced = link(PEOPLE, RECORDS, out, "--force")
    assert forced.exit_code == 0, forced.output
    assert sorted(p.name for p in out.iterdir()) == OUTPUTS


def test_force_never_deletes_the_inputs_in_the_output_directory(example_run, tmp_path):
    """The issue-13 case: link A/people.csv A/records.parquet -o A --force deleted both inputs."""
    out = tmp_path / "A"
    shutil.copytree(example_run[0], out)         # an earlier link output, which --force may replace ...
    for source in (PEOPLE, RECORDS):             # ... holding this link's inputs, which it may not
        shutil.copy(source, out / source.name)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = link(out / PEOPLE.name, out / RECORDS.name, out, "--force")
    assert result.exit_code == 2
    assert result.stderr == (f"error: refusing to replace '{out}': it holds '{out / PEOPLE.name}', an input of this "
                             "command, which --force would delete; choose another -o, or move the input out of it first\n")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_integer_zip_and_tin_columns_get_their_leading_zeros_back(tmp_path):
    path = tmp_path / "roster.parquet"
    pq.write_table(pa.table({"zip": pa.array([2134, 89501]), "tin": pa.array([12345678, 531224817])}), path)
    got = read_input(path, LinkSideConfig(columns={"zip5": "zip", "tin": "tin"}), side="right")
    assert got.table.column("__zip5").to_pylist() == ["02134", "89501"]
    assert got.table.column("__tin").to_pylist() == ["012345678", "531224817"]
    assert got.ids.to_pylist() == [1, 2]


# ---------------------------------------------------------------------------------------------
# The simulated world, through files with other column names: the same outcomes as the matcher


@pytest.mark.parametrize("policy_name", ["irs-2025", "statute-6103", "probabilistic"])
def test_link_on_the_worlds_own_files_gives_the_matchers_outcomes(world_dir, tmp_path, policy_name):
    from sim.world.generate import dense, read_dataset

    requests = dense(read_dataset(world_dir, "requests")).slice(0, 800)
    master = dense(read_dataset(world_dir, "master_file"))
    # the master-file rows of the ZIP areas those requests live in, and of every TIN they carry
    tins = pc.replace_substring_regex(requests["ssn"].drop_null(), r"\D", "")
    keep = pc.or_(pc.is_in(master["zip5"], value_set=pc.unique(requests["truth_zip"])),
                  pc.is_in(master["tin"], value_set=tins))
    master = master.filter(keep)
    assert 5_000 < master.num_rows < 200_000

    left_names = {"request_id": "Request No", "first_name": "GIVEN", "last_name": "FAMILY", "date_of_birth": "Born",
                  "earm_address": "EARM Address", "ssn": "SSN", "truth_person_id": "Who"}
    right_names = {"tin": "TaxId", "first_name": "First", "last_name": "Last", "name_control": "NC",
                   "date_of_birth": "DOB", "street_address": "Line1", "street_number": "HouseNo",
                   "street_name": "StreetName", "unit": "Unit", "city": "City", "state": "St", "zip5": "ZIP",
                   "zip4": "Plus4", "truth_person_id": "Person"}
    left_file, right_file = tmp_path / "requests.csv", tmp_path / "master.parquet"
    pacsv.write_csv(requests.select(list(left_names)).rename_columns(list(left_names.values())), left_file)
    pq.write_table(master.select(list(right_names)).rename_columns(list(right_names.values())), right_file)
    config_file = tmp_path / "link.toml"
    config_file.write_text(
        f'policy = "{REPO / "configs" / f"{policy_name}.toml"}"\n'
        '[left]\nid = "Request No"\naddress = "EARM Address"\n'
        '[left.columns]\ntin = "SSN"\nfirst_name = "GIVEN"\nlast_name = "FAMILY"\ndate_of_birth = "Born"\n'
        '[right]\nid = "TaxId"\n'
        '[right.columns]\n' + "".join(f'{ours} = "{theirs}"\n' for ours, theirs in right_names.items()
                                      if ours not in ("street_address", "tin", "truth_person_id")) +
        'tin = "TaxId"\nstreet_line = "Line1"\n'
    )
    result = link(left_file, right_file, tmp_path / "out", "--truth", "Who=Person", config=config_file)
    assert result.exit_code == 0, result.output
    got = pq.read_table(tmp_path / "out" / "decisions.parquet")

    policy = load_policy(REPO / "configs" / f"{policy_name}.toml")
    rng = sim.common.rng.stream(0, "match.u_sample", 0)        # link's own stream at --seed 0
    decided, _, _ = policy_mod.match(policy, prepare_requests(requests), prepare_master_file(master), rng=rng)
    outcomes = [policy_mod.OUTCOMES[i] for i in decided["outcome"]]
    assert got["left_id"].to_pylist() == requests["request_id"].to_pylist()
    assert got["outcome"].to_pylist() == outcomes
    disclosed_tin = [master["tin"][int(r)].as_py() if r >= 0 else None for r in decided["right_row"]]
    assert got["right_id"].to_pylist() == disclosed_tin
    assert got["n_candidates"].to_pylist() == decided["n_candidates"].tolist()
    assert got["path"].to_pylist() == [policy.paths[p].name if p >= 0 else None for p in decided["path"]]
    # every outcome a policy can reach on a world is reached, so the comparison means something
    assert {"gated", "unmatched", "disclosed"} <= set(outcomes)

    # --truth: each link scored by the person ids the two files carry, as the simulation scores it
    truth = json.loads((tmp_path / "out" / "summary.json").read_text())["truth"]
    person = requests["truth_person_id"].to_numpy()
    owner = master["truth_person_id"].to_numpy()
    rows = decided["right_row"]
    right = int(((rows >= 0) & (owner[np.maximum(rows, 0)] == person)).sum())
    findable = int(np.isin(person, owner).sum())
    assert (truth["linked"], truth["right_links"], truth["findable"]) == (int((rows >= 0).sum()), right, findable)
    assert truth["precision"] == pytest.approx(right / truth["linked"]) and truth["recall"] == pytest.approx(right / findable)
    assert got["right_person"].to_pylist() == [None if r < 0 else bool(owner[r] == p) for r, p in zip(rows, person)]
    assert ("frontier" in truth) == (policy_name == "probabilistic")
    if policy_name == "probabilistic":
        own = min(truth["frontier"], key=lambda q: abs(q["match_probability"] - 0.99))
        assert (own["disclosed"], own["right_person_disclosures"]) == (truth["linked"], truth["right_links"])
        assert "against the truth" in result.output


# ---------------------------------------------------------------------------------------------
# Errors: what was wrong, what was received, how to fix it; exit code 2; nothing written


@pytest.mark.parametrize("truth, message", [
    ("case_id", "Invalid value for '--truth': expected LEFT_COLUMN=RIGHT_COLUMN, e.g. --truth person_id=person_id; got 'case_id'"),
    ("case_id=", "expected LEFT_COLUMN=RIGHT_COLUMN"),
    ("person=record_id", f"left input '{PEOPLE}' has no column 'person' for --truth; its columns are {PEOPLE_COLUMNS}"),
    ("case_id=who", "right input"),
])
def test_a_bad_truth_option_is_refused(tmp_path, truth, message):
    out = tmp_path / "out"
    result = link(PEOPLE, RECORDS, out, "--truth", truth)
    assert result.exit_code == 2, result.output
    assert message in result.output and not out.exists()


def assert_refused(result, out: Path, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert result.stderr == f"error: {message}\n"
    assert not out.exists()
    assert not list(out.parent.glob(f"{out.name}.tmp-*"))


@pytest.fixture
def files(tmp_path):
    """Copies of the example files in a fresh folder, to be broken one way or another."""
    shutil.copy(PEOPLE, tmp_path / "people.csv")
    shutil.copy(RECORDS, tmp_path / "records.parquet")
    return tmp_path


def test_a_missing_input_file(files):
    missing = files / "nobody.csv"
    result = link(missing, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"left input '{missing}' does not exist; check the path "
                                          f"(LEFT and RIGHT are the first two arguments of matchsim link)")


def test_a_file_of_another_format(files):
    sheet = files / "records.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    result = link(files / "people.csv", sheet, files / "out")
    assert_refused(result, files / "out", f"right input '{sheet}' has suffix '.xlsx'; matchsim reads .csv and "
                                          f".parquet files: save it as CSV with a header line, or as Parquet, with "
                                          f"one of those suffixes")


def test_a_file_without_a_suffix(files):
    bare = files / "records"
    bare.write_bytes(b"x")
    result = link(files / "people.csv", bare, files / "out")
    assert_refused(result, files / "out", f"right input '{bare}' has no suffix; matchsim reads .csv and "
                                          f".parquet files: save it as CSV with a header line, or as Parquet, with "
                                          f"one of those suffixes")


def test_an_unreadable_parquet_file(files):
    fake = files / "records.parquet"
    fake.write_bytes(PEOPLE.read_bytes())       # a CSV under a Parquet name
    with pytest.raises(pa.ArrowInvalid) as arrow:
        pq.read_table(fake)
    result = link(files / "people.csv", fake, files / "out")
    assert_refused(result, files / "out", f"cannot read right input '{fake}' as Parquet ({arrow.value}); check that "
                                          f"it is a Parquet file, or give a CSV file the suffix .csv")


def test_a_csv_that_is_malformed(files):
    ragged = files / "people.csv"
    ragged.write_text("case_id,given_name\nC001,Ana,extra\n")
    result = link(ragged, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"cannot read left input '{ragged}' as CSV: CSV parse error: Expected 2 "
                                          f"columns, got 3: C001,Ana,extra; check that every line has as many fields "
                                          f"as the header (2) and that quotes are closed")


def test_a_csv_with_an_unclosed_quote_is_refused_not_linked_without_the_records_it_swallowed(files):
    """Issue 13: the quote opened on line 3 ran on to the next quote, and the records between
    were linked as part of one given name, silently."""
    import csv

    rows = list(csv.reader(PEOPLE.read_text(encoding="utf-8").splitlines()))
    lines = [",".join(field.replace(",", " ") for field in row) for row in rows]      # nothing quoted
    assert lines[2].startswith("C002,José,")
    lines[2] = lines[2].replace("C002,José,", 'C002,"José,')
    # a later record quotes its given name: that quote closes the open one, and the records
    # between become one given name, with the later record's other fields the record's own
    fields = lines[9].split(",")
    lines[9] = ",".join([fields[0], f'"{fields[1]}"', *fields[2:]])
    broken = files / "people.csv"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = link(broken, files / "records.parquet", files / "out")
    assert result.exit_code == 2
    assert (f"left input '{broken}': record 2 (line 3 if no earlier field spans lines) has a quote that is not "
            f"closed: its field 'given_name' runs on over ") in result.stderr
    assert "that look like records of their own (the first: 'C003," in result.stderr
    assert not (files / "out").exists()


def test_a_quoted_field_may_span_lines(files):
    """An address written on two lines is one field, not a swallowed record: it links."""
    lines = PEOPLE.read_text(encoding="utf-8").splitlines()
    lines[1] = lines[1].replace("Apt 3, Reno", "Apt 3\nReno")
    assert "\n" in lines[1]
    two_lines = files / "people.csv"
    two_lines.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = link(two_lines, files / "records.parquet", files / "out")
    assert result.exit_code == 0, result.output


def test_an_empty_csv_without_a_header(files):
    empty = files / "people.csv"
    empty.write_bytes(b"")
    result = link(empty, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"left input '{empty}' is empty: it has no header line; a CSV needs a first "
                                          f"line naming its columns, then one line per record")


def test_a_csv_with_a_header_and_no_rows(files):
    header_only = files / "people.csv"
    header_only.write_text(PEOPLE.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    result = link(header_only, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"left input '{header_only}' has no rows (columns: {PEOPLE_COLUMNS}); "
                                          f"give a file with at least one record")


def test_a_parquet_file_with_no_rows(files):
    empty = files / "records.parquet"
    pq.write_table(pq.read_table(RECORDS).slice(0, 0), empty)
    result = link(files / "people.csv", empty, files / "out")
    assert_refused(result, files / "out", f"right input '{empty}' has no rows (columns: 'record_id', 'tin', 'first', "
                                          f"'last', 'dob', 'address_line', 'city', 'state', 'zip', 'zip4'); give a "
                                          f"file with at least one record")


def test_a_mapped_column_missing_from_the_file(files):
    result = link(files / "people.csv", files / "records.parquet", files / "out",
                  "--set", "left.columns.last_name=family_nme", "--set", "left.id=Case_ID")
    assert_refused(result, files / "out", f"left input '{files / 'people.csv'}' has none of the 2 columns 'family_nme' "
                                          f"(mapped by left.columns.last_name; did you mean 'family_name'?), 'Case_ID' "
                                          f"(mapped by left.id; did you mean 'case_id'?); its columns are: "
                                          f"{PEOPLE_COLUMNS}; fix the names under [left] in the link config")


def test_a_mapped_column_with_nothing_like_it(files):
    result = link(files / "people.csv", files / "records.parquet", files / "out", "--set", "right.columns.zip5=POSTCODE")
    assert_refused(result, files / "out", f"right input '{files / 'records.parquet'}' has no column 'POSTCODE' (mapped by "
                                          f"right.columns.zip5); its columns are: 'record_id', 'tin', 'first', 'last', "
                                          f"'dob', 'address_line', 'city', 'state', 'zip', 'zip4'; fix the names under "
                                          f"[right] in the link config")


def test_a_csv_not_in_the_declared_encoding(files):
    latin1 = files / "people-latin1.csv"
    shutil.copy(PEOPLE_LATIN1, latin1)
    result = link(latin1, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"left input '{latin1}' is not valid utf-8 text: byte 0xE9 on line 3 cannot "
                                          f"be decoded; if the file was saved in Latin-1, set encoding = \"latin-1\" "
                                          f"under [left] in the link config (or --set left.encoding=latin-1; \"cp1252\" "
                                          f"for files from Windows), or save it as UTF-8")


def test_a_bad_byte_in_the_header_is_an_encoding_error_too(files):
    latin1 = files / "people.csv"
    latin1.write_bytes("pr\u00e9nom,nom\nAna,Ruiz\n".encode("latin-1"))
    result = link(latin1, files / "records.parquet", files / "out")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: left input '{latin1}' is not valid utf-8 text: byte 0xE9 on line 1 cannot be decoded;")


def test_an_unknown_encoding(files):
    result = link(files / "people.csv", files / "records.parquet", files / "out", "--set", "left.encoding=latin-9x")
    assert_refused(result, files / "out", f"left input '{files / 'people.csv'}': unknown encoding 'latin-9x' (set by "
                                          f"left.encoding); use one Python knows, e.g. \"utf-8\", \"latin-1\" or \"cp1252\"")


@pytest.mark.parametrize("bad", ["03/14/1979", "1979-3-14", "1979-02-30", "unknown"])
def test_dates_of_birth_that_are_not_dates(files, bad):
    people = files / "people.csv"
    people.write_text(PEOPLE.read_text(encoding="utf-8").replace("1985-11-02", bad), encoding="utf-8")
    result = link(people, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"left input '{people}': column 'birth_date' (date_of_birth) cannot be read "
                                          f"as dates: '{bad}' on row 2; write dates as YYYY-MM-DD (e.g. 1984-07-21), "
                                          f"leave unknown dates blank, or map another column")


def test_a_date_of_birth_column_of_numbers(files):
    records = files / "records.parquet"
    pq.write_table(pq.read_table(RECORDS).set_column(4, "dob", pa.array(np.arange(48, dtype=np.int64))), records)
    result = link(files / "people.csv", records, files / "out")
    assert_refused(result, files / "out", f"right input '{records}': column 'dob' (date_of_birth) holds int64 values, "
                                          f"not dates; give dates, or text in the form YYYY-MM-DD (e.g. 1984-07-21)")


def test_duplicate_ids(files):
    people = files / "people.csv"
    people.write_text(PEOPLE.read_text(encoding="utf-8").replace("C002,", "C001,").replace("C009,", "C008,"), encoding="utf-8")
    result = link(people, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"left input '{people}': id column 'case_id' has duplicate ids: 'C001' on "
                                          f"rows 1, 2; 2 ids occur more than once; give every record a distinct id, "
                                          f"or remove id from [left] to number the rows")


def test_duplicate_integer_ids(files):
    records = files / "records.parquet"
    table = pq.read_table(RECORDS)
    pq.write_table(table.set_column(0, "record_id", pa.array([7] * table.num_rows, pa.int64())), records)
    result = link(files / "people.csv", records, files / "out")
    assert_refused(result, files / "out", f"right input '{records}': id column 'record_id' has duplicate ids: 7 on "
                                          f"rows 1, 2, 3; give every record a distinct id, or remove id from [right] "
                                          f"to number the rows")


def test_blank_ids(files):
    people = files / "people.csv"
    people.write_text(PEOPLE.read_text(encoding="utf-8").replace("C003,", ",").replace("C004,", " ,"), encoding="utf-8")
    result = link(people, files / "records.parquet", files / "out")
    assert_refused(result, files / "out", f"left input '{people}': id column 'case_id' is blank on 2 rows (first: "
                                          f"row 3); give every record a distinct id, or remove id from [left] to "
                                          f"number the rows")


def test_an_address_gate_without_an_address_column(files, tmp_path):
    config = tmp_path / "no-address.toml"
    config.write_text(EXAMPLE.read_text().replace('address = "home_address"\n', "").replace(
        'policy = "../irs-2025.toml"', f'policy = "{REPO / "configs" / "irs-2025.toml"}"'))
    result = link(files / "people.csv", files / "records.parquet", files / "out", config=config)
    assert_refused(result, files / "out", "policy path 'tin' gates on the left file's free-text address "
                                          "(address_gate = 'zip_regex'), and [left] maps no address column; set "
                                          "left.address to the column holding it, or --set "
                                          "policy.paths.0.address_gate=none")


def test_a_bad_link_config_is_a_config_error(files):
    result = link(files / "people.csv", files / "records.parquet", files / "out", "--set", "left.columns.surname=x")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {EXAMPLE}: 1 problem in the configuration\n  - left.columns: maps unknown match columns ['surname']")
    assert not (files / "out").exists()


# ---------------------------------------------------------------------------------------------


def test_link_has_help_with_an_example():
    result = run("link", "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: matchsim link [OPTIONS] LEFT RIGHT\n")
    assert "Example:\n    matchsim link tests/data/link/people.csv tests/data/link/records.parquet" in result.output
    for option in ("--config", "--out", "--set", "--seed", "--force"):
        assert option in result.output
    assert "link" in run("--help").output


@pytest.mark.parametrize(("column", "values", "message"), [
    ("last", pa.array([["GARCIA"], ["LOPEZ"]]), "column 'last' (mapped to last_name) holds list<element: string> values, "
     "several per record; a match column needs one value per record (text, a number or a date)"),
    ("last", pa.array([{"a": "GARCIA"}, {"a": "LOPEZ"}]), "column 'last' (mapped to last_name) holds struct<a: string> values"),
    ("first", pa.array([123, 456]), "column 'first' (mapped to first_name) holds numbers (int64), not names; "
     "check [right.columns] maps first_name to the column with the names"),
])
def test_a_mapped_column_of_lists_or_of_numbers_for_names_is_refused(tmp_path, column, values, message):
    """Issue 13: a list or struct column crashed in Arrow's cast, and numbers became a name of digits."""
    records = pq.read_table(RECORDS).slice(0, 2)
    path = tmp_path / "records.parquet"
    pq.write_table(records.set_column(records.schema.get_field_index(column), column, values), path)
    out = tmp_path / "out"
    result = link(PEOPLE, path, out)
    assert result.exit_code == 2 and result.stdout == "" and not out.exists()
    assert result.stderr.startswith(f"error: right input '{path}': {message}")


# --- a probabilistic link that links nothing says why (issue 13, item 5) ----------------------

#: The example records' columns, mapped the same way on both sides
_RECORD_COLUMNS = """id = "record_id"
[{side}.columns]
tin = "tin"
first_name = "first"
last_name = "last"
date_of_birth = "dob"
street_line = "address_line"
city = "city"
state = "state"
zip5 = "zip"
"""
SELF_LINK = 'policy = "{policy}"\n' + "".join(f"[{side}]\n" + _RECORD_COLUMNS.replace("{side}", side)
                                             for side in ("left", "right"))


def test_the_probabilistic_policy_links_each_record_to_itself_and_says_why_when_it_links_none(tmp_path):
    """The 48 example records linked to themselves: all 48 under the shipped probabilistic policy,
    no note; at a threshold no weight reaches, none, and the summary and the terminal say why."""
    config = tmp_path / "self.toml"
    config.write_text(SELF_LINK.format(policy=REPO / "configs" / "probabilistic.toml"))
    ungated = ["--set", "policy.paths.0.address_gate=none"]
    result = link(RECORDS, RECORDS, tmp_path / "all", *ungated, config=config)
    assert result.exit_code == 0, result.output
    decisions = pq.read_table(tmp_path / "all" / "decisions.parquet").to_pylist()
    assert len(decisions) == 48 and all(d["outcome"] == "disclosed" for d in decisions)
    assert all(d["left_id"] == d["right_id"] for d in decisions)
    assert json.loads((tmp_path / "all" / "summary.json").read_text())["notes"] == [] and "note:" not in result.stdout
    result = link(RECORDS, RECORDS, tmp_path / "none", *ungated, "--set",
                  "policy.paths.0.fellegi_sunter.match_probability_threshold=0.999999999999", config=config)
    assert result.exit_code == 0, result.output
    notes = json.loads((tmp_path / "none" / "summary.json").read_text())["notes"]
    assert len(notes) == 1 and notes[0].startswith("path 'all' disclosed none of the 48 records it found candidates "
                                                   "for: the highest match weight was ")
    assert "below the threshold of 39.9" in notes[0] and f"  note: {notes[0]}" in result.stdout


def test_blocking_past_max_pairs_is_refused_with_advice_that_fits_the_rule(files):
    """Issue 13: link advised "raise max_pairs" (no such setting) and "add zip5" to a rule that
    had it. The limit is now policy.max_pairs, and the advice adds a column the rule lacks."""
    result = link(files / "people.csv", files / "records.parquet", files / "out",
                  "--set", 'policy.paths.1.blocking=[["zip5"]]', "--set", "policy.max_pairs=20")
    assert_refused(result, files / "out",
                   "path 'address' of policy 'irs-2025' would make 84 candidate pairs in one block (11 records against "
                   "48; by rule: ['zip5']: 84), more than the policy's max_pairs of 20. To fix: block on more columns: "
                   "['zip5', 'name_control'] makes 13; ['zip5', 'surname_1'] makes 13; ['zip5', 'street6'] makes 13; "
                   "or, where the memory is there (fewer parallel jobs, a larger machine), raise the limit with "
                   "--set policy.max_pairs=84")
    result = link(files / "people.csv", files / "records.parquet", files / "out",
                  "--set", 'policy.paths.1.blocking=[["zip5"]]', "--set", "policy.max_pairs=84")
    assert result.exit_code == 0, result.output

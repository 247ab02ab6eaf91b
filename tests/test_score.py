"""`matchsim score`: any linker's output scored on a generated world, as a run scores its own.

The scoring is checked three ways: against links whose truth is known by construction (each
findable request to its own record; to a household member's), against matchsim's own run on the
same world (its disclosures, fed back as links, must score exactly as the run scored them), and
end to end with Splink (scripts/splink-world) on a small world.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from sim.common import metrics
from sim.cli import cli
from sim.runs.score import score

REPO = Path(__file__).resolve().parent.parent


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], prog_name="matchsim", catch_exceptions=False)


@pytest.fixture(scope="module")
def own_tin(master_file) -> dict[int, str]:
    """Each person's own TIN on the master file (a TIN is one person's)."""
    return dict(zip(master_file.column("truth_person_id").to_pylist(), master_file.column("tin").to_pylist()))


def write_links(path: Path, rows: list[tuple], names=("request_id", "tin")) -> Path:
    columns = list(zip(*rows)) if rows else [[] for _ in names]
    table = pa.table({name: pa.array(list(col)) for name, col in zip(names, columns)})
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


def test_links_to_each_persons_own_record_are_all_right_and_find_everyone(world_dir, requests_table, own_tin, tmp_path):
    findable = [(rid, own_tin[pid]) for rid, pid, on_file in zip(requests_table.column("request_id").to_pylist(),
                                                                 requests_table.column("truth_person_id").to_pylist(),
                                                                 requests_table.column("truth_in_master_file").to_pylist())
                if on_file]
    assert len(findable) > 100
    result = score(world_dir, write_links(tmp_path / "oracle.csv", findable))
    c, r = result.summary["simulated"], result.summary["rates"]
    assert c["requests"] == requests_table.num_rows and c["findable"] == len(findable)
    assert c["disclosed"] == c["right_person_disclosures"] == len(findable)
    assert c["wrong_person_disclosures"] == c["missed_matches"] == c["ambiguous"] == 0
    assert c["unmatched"] == requests_table.num_rows - len(findable)
    assert r["precision"] == r["recall"] == 1.0
    assert result.summary["estimates"]["requests"] == 1_280_000
    assert "frontier" not in result.summary


def test_links_to_a_relative_are_wrong_person_household_member_and_two_tins_are_ambiguous(
        world_dir, requests_table, master_file, own_tin, tmp_path):
    """A request linked to another member of the person's household is a wrong-person disclosure
    of kind household_member (unless the SSN ICE holds is that member's: ssn_owner, tested
    first), and a request linked to two TINs discloses nothing."""
    households: dict[int, list[int]] = {}
    for pid, hid in zip(master_file.column("truth_person_id").to_pylist(), master_file.column("truth_household_id").to_pylist()):
        households.setdefault(hid, []).append(pid)
    relative, both = [], []
    for rid, pid, hid, source in zip(*(requests_table.column(c).to_pylist() for c in
                                       ("request_id", "truth_person_id", "truth_household_id", "truth_ssn_source"))):
        others = [p for p in households.get(hid, []) if p != pid]
        if others and source in ("none", "correct"):
            relative.append((rid, own_tin[others[0]]))
            if pid in own_tin:
                both += [(rid, own_tin[pid]), (rid, own_tin[others[0]])]
    assert len(relative) > 50 and len(both) > 20
    result = score(world_dir, write_links(tmp_path / "relatives.parquet", relative))
    c = result.summary["simulated"]
    assert c["disclosed"] == c["wrong_person_disclosures"] == len(relative) and c["right_person_disclosures"] == 0
    kinds = pc.value_counts(pc.drop_null(result.decisions.column("wrong_person_kind"))).to_pylist()
    assert kinds == [{"values": "household_member", "counts": len(relative)}]
    result = score(world_dir, write_links(tmp_path / "both.parquet", both))
    assert result.summary["simulated"]["ambiguous"] == len(both) // 2
    assert result.summary["simulated"]["disclosed"] == 0


def test_a_runs_own_disclosures_score_exactly_as_the_run_scored_them(world_config, world_dir, tmp_path):
    """matchsim's run of the IRS policy on the same world, its disclosures written as links: the
    same requests disclosed, the same right and wrong people, the same breakdowns."""
    from sim.runs.pipeline import run as run_pipeline

    ran = run_pipeline(world_config)
    d = ran.decisions.filter(ran.decisions.column("disclosed"))
    rows = list(zip(d.column("request_id").to_pylist(), d.column("disclosed_tin").to_pylist()))
    assert len(rows) > 100
    scored = score(world_dir, write_links(tmp_path / "irs.parquet", rows))
    mine, theirs = ran.summary["simulated"], scored.summary["simulated"]
    same = [k for k in metrics.COUNT_KEYS if k not in ("gated", "unmatched", "ambiguous", "no_path")]
    assert {k: theirs[k] for k in same} == {k: mine[k] for k in same}
    assert theirs["wrong_person_disclosures"] > 0         # the comparison covers wrong people too
    # a run's gated, ambiguous and no-path requests are, to an outside tool's links, unlinked
    assert theirs["unmatched"] == mine["unmatched"] + mine["gated"] + mine["ambiguous"] + mine["no_path"]
    for key in ("wrong_person_kind", "address_class", "ssn_source", "origin_group", "name_commonness"):
        for value, figures in ran.summary["breakdowns"][key].items():
            for figure in ("disclosed", "right_person_disclosures", "wrong_person_disclosures", "deficient_address_disclosures"):
                assert scored.summary["breakdowns"][key][value][figure] == figures[figure], (key, value, figure)


def test_scored_pairs_link_the_top_pair_at_the_threshold_and_give_a_frontier(world_dir, requests_table, own_tin, tmp_path):
    """Each request on file paired with its own record at 0.9 and with a stranger's at 0.95 (one
    in four at 0.9, a tie): at 0.99 nothing is disclosed; at 0.92 and 0.5 the strangers' records,
    the higher score, so every disclosure is wrong; a tie at the top at or above the threshold is
    ambiguous."""
    rng = np.random.default_rng(0)
    tins = list(own_tin.values())
    rows = []
    ids = requests_table.column("request_id").to_pylist()
    pids = requests_table.column("truth_person_id").to_pylist()
    for rid, pid in zip(ids, pids):
        if pid in own_tin:
            rows += [(rid, own_tin[pid], 0.9), (rid, tins[int(rng.integers(len(tins)))], 0.95 if len(rows) % 4 else 0.9)]
    path = write_links(tmp_path / "pairs.parquet", rows, names=("rid", "record_tin", "p"))
    n = len(rows) // 2
    tied = sum(1 for i in range(0, len(rows), 2) if rows[i + 1][2] == 0.9)
    cli_args = ["--request-id", "rid", "--tin", "record_tin", "--score", "p"]
    for threshold, disclosed, right in ((0.99, 0, 0), (0.92, n - tied, 0), (0.5, n - tied, 0)):
        result = run("score", world_dir, path, "-o", tmp_path / f"at-{threshold}", *cli_args, "--threshold", threshold)
        assert result.exit_code == 0, result.output
        summary = json.loads((tmp_path / f"at-{threshold}" / "summary.json").read_text())
        assert summary["simulated"]["disclosed"] == disclosed, threshold
        assert summary["simulated"]["right_person_disclosures"] == right
        assert summary["links"]["threshold"] == threshold and summary["links"]["columns"]["score"] == "p"
        assert summary["simulated"]["ambiguous"] == (tied if threshold <= 0.9 else 0)
        # missed matches by reason: every findable request is missed: unlinked at 0.99; else for
        # a stranger's record, or, tied at 0.9, unlinked at 0.92 and ambiguous at 0.5
        missed = {k: v["missed_matches"] for k, v in summary["breakdowns"]["miss_reason"].items() if v["missed_matches"]}
        findable = summary["simulated"]["findable"]
        assert sum(missed.values()) == findable > 0
        tie = {0.99: "unmatched", 0.92: "unmatched", 0.5: "ambiguous"}[threshold]
        assert set(missed) == ({tie} if threshold == 0.99 else {"wrong_person", tie}), missed
    frontier = summary["frontier"]
    assert frontier and all(p["right_person_disclosures"] == 0 for p in frontier)
    decisions = pq.read_table(tmp_path / "at-0.5" / "decisions.parquet")
    assert decisions.num_rows == requests_table.num_rows
    assert pc.sum(decisions.column("n_candidates")).as_py() == len({(rid, tin) for rid, tin, _ in rows})


@pytest.mark.parametrize(("make", "args", "message"), [
    (lambda d: write_links(d / "l.csv", [("R-NOPE", "123456789")]), [],
     "1 row names a request id that is not in the world's request file (column 'request_id': 'R-NOPE')"),
    (lambda d: write_links(d / "l.csv", [("R0000001", "1")], names=("id", "tin")), [],
     "has no request id (--request-id) column 'request_id'; its columns are 'id', 'tin'"),
    (lambda d: write_links(d / "l.csv", [("R0000001", "1", 0.5)], names=("request_id", "tin", "p")), ["--score", "p"],
     "--score and --threshold go together"),
    (lambda d: write_links(d / "l.csv", [("R0000001", "1", "high")], names=("request_id", "tin", "p")),
     ["--score", "p", "--threshold", "0.5"], None),
    (lambda d: d / "missing.csv", [], "does not exist; check the path (LINKS is the second argument of matchsim score)"),
])
def test_bad_links_are_a_clean_error_and_nothing_is_written(world_dir, requests_table, master_file, tmp_path, make, args,
                                                           message):
    path = make(tmp_path)
    if message is None:     # the world's own request id and TIN, so the score is what is wrong
        first, tin = requests_table.column("request_id")[0].as_py(), master_file.column("tin")[0].as_py()
        path.write_text(f"request_id,tin,p\n{first},{tin},high\n")
        message = "the score column 'p' holds text that is not a number; name the column of the pairs' scores with --score"
    result = run("score", world_dir, path, "-o", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_directory_that_is_not_a_world_is_refused(tmp_path):
    links = write_links(tmp_path / "l.csv", [("R1", "123456789")])
    result = run("score", tmp_path, links, "-o", tmp_path / "out")
    assert result.exit_code == 2
    assert f"'{tmp_path}' is not a generated world (no manifest.json)" in result.stderr


def test_splink_on_a_small_world_is_scored(baseline_config_path, tmp_path):
    """The README's recipe: a world generated, linked by Splink (scripts/splink-world, which lets
    Splink estimate its own model) and scored. Splink's result at 0.99 is a good linkage, as the
    field expects of Fellegi-Sunter on these fields: most findable requests found, few wrong."""
    pytest.importorskip("splink", reason="Splink is not installed: pip install -e '.[splink]'")
    world = tmp_path / "world"
    result = run("generate", baseline_config_path, "-o", world, "--set", "world.scale=0.001", "--quiet")
    assert result.exit_code == 0, result.output
    pairs = tmp_path / "splink.parquet"
    proc = subprocess.run([sys.executable, REPO / "scripts" / "splink-world", world, pairs],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = run("score", world, pairs, "-o", tmp_path / "score", "--request-id", "unique_id_l", "--tin", "unique_id_r",
                 "--score", "match_probability", "--threshold", "0.99")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "score" / "summary.json").read_text())
    r = summary["rates"]
    assert r["precision"] >= 0.95 and r["recall"] >= 0.9, r
    frontier = summary["frontier"]
    recalls = [p["recall"] for p in frontier]
    assert recalls == sorted(recalls, reverse=True)          # a higher threshold never finds more

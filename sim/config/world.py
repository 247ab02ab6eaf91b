"""The world's schema (``[world]``): households, movers, the master file, the requested
population and how ICE's file records it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from sim.config.base import ConfigModel, Float, Int, mean_sd, Share, SHARE_TOLERANCE, Shares, size_shares


class HouseholdsConfig(ConfigModel):
    size_shares_general: tuple[Float, ...]
    size_shares_immigrant: tuple[Float, ...]
    renter_share_general: Share
    renter_share_immigrant: Share
    multiunit_share_renter: Share
    multiunit_share_owner: Share
    mean_building_units: Annotated[Float, Field(ge=2)]
    doubled_up_share: Share
    partner_share: Share
    child_share: Share
    requested_head_female_share: Share
    head_age_general: tuple[Float, ...]
    head_age_requested: tuple[Float, ...]

    _check_general = field_validator("size_shares_general")(size_shares)
    _check_immigrant = field_validator("size_shares_immigrant")(size_shares)
    _check_ages = field_validator("head_age_general", "head_age_requested")(mean_sd)


def _bands_and_values(edges: tuple[float, ...], values: tuple[float, ...], what: str) -> None:
    """``edges``: the lower edges of consecutive bands, increasing from >= 0; ``values`` one per band, >= 0."""
    if not edges or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
        raise ValueError(f"{what} bands must be lower edges in years, increasing from >= 0, got {list(edges)}")
    if len(values) != len(edges) or any(v < 0 for v in values):
        raise ValueError(f"{what} needs one value >= 0 per band ({len(edges)}), got {list(values)}")


class MobilityConfig(ConfigModel):
    owner_annual_move_rate: Share
    renter_annual_move_rate: Share
    age_bands: tuple[Float, ...]
    age_factors: tuple[Float, ...]
    same_zip_move_share: Share
    ncoa_update_rate: Share
    ncoa_window_years: Annotated[Float, Field(ge=0, le=20)]

    @model_validator(mode="after")
    def _age_bands(self):
        _bands_and_values(self.age_bands, self.age_factors, "age_factors")
        if not any(self.age_factors):
            raise ValueError("age_factors must not all be 0 (no household would ever move)")
        return self


class HispanicSurnameForms(Shares):
    paternal_only: Share
    both_spaced: Share
    hyphenated: Share
    maternal_only: Share
    married_de: Share


class MasterFileConfig(ConfigModel):
    adult_on_file_rate: Share
    child_on_file_rate: Share
    zip4_known_rate: Share
    compound_given_kept: Share
    middle_initial_rate: Share
    anglicized_given_share: Share
    filing_rate_ssn: Share
    filing_rate_itin: Share
    max_filing_gap_years: Annotated[Int, Field(ge=0, le=30)]
    hispanic_surname_forms: HispanicSurnameForms


class OriginCounts(ConfigModel):
    """Final-order docket counts by country of citizenship; only their proportions are used."""

    honduras: Annotated[Int, Field(ge=0)]
    guatemala: Annotated[Int, Field(ge=0)]
    mexico: Annotated[Int, Field(ge=0)]
    el_salvador: Annotated[Int, Field(ge=0)]
    cuba: Annotated[Int, Field(ge=0)]
    brazil: Annotated[Int, Field(ge=0)]
    china: Annotated[Int, Field(ge=0)]
    haiti: Annotated[Int, Field(ge=0)]
    ecuador: Annotated[Int, Field(ge=0)]
    colombia: Annotated[Int, Field(ge=0)]
    other: Annotated[Int, Field(ge=0)]

    @model_validator(mode="after")
    def _not_all_zero(self):
        if sum(self.as_dict().values()) == 0:
            raise ValueError("at least one origin group needs a positive count")
        return self

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class RequestedConfig(ConfigModel):
    in_master_file_share: Share
    itin_share: Share
    household_on_file_rate: Share
    origin_counts: OriginCounts


class NamesConfig(ConfigModel):
    ice_particles_dropped: Share
    ice_one_surname: Share
    ice_compound_given_truncated: Share
    transliteration_variant: Share
    given_surname_swapped: Share
    typo_rate: Share


class OriginShares(ConfigModel):
    """A share for each origin group of the docket (the groups of :class:`OriginCounts`)."""

    honduras: Share
    guatemala: Share
    mexico: Share
    el_salvador: Share
    cuba: Share
    brazil: Share
    china: Share
    haiti: Share
    ecuador: Share
    colombia: Share
    other: Share

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in type(self).model_fields}


class DatesConfig(ConfigModel):
    dob_error_rate: Share
    january_first_share: Share
    unknown_dob: OriginShares


class SsnSources(Shares):
    correct: Share
    mistyped: Share
    borrowed_relative: Share
    borrowed_stranger: Share
    never_issued: Share


class SsnConfig(ConfigModel):
    share_if_on_file: Share
    share_if_not_on_file: Share
    sources: SsnSources


class AddressClasses(Shares):
    complete: Share
    missing_unit: Share
    no_street_number: Share
    city_state_only: Share
    zip_only: Share
    placeholder: Share
    blank: Share
    shared: Share


class FormattingConfig(ConfigModel):
    suffix_spelled_out: Share
    directional_spelled_out: Share
    unit_hash: Share
    lowercase: Share
    titlecase: Share
    no_commas: Share
    typo_rate: Share
    zip_typo_rate: Share

    @model_validator(mode="after")
    def _case_shares(self):
        if self.lowercase + self.titlecase > 1 + SHARE_TOLERANCE:
            raise ValueError(
                f"lowercase + titlecase must be at most 1 (the rest is upper case), "
                f"got {self.lowercase + self.titlecase:.6g}"
            )
        return self


class AddressConfig(ConfigModel):
    classes: AddressClasses
    formatting: FormattingConfig


class OrderAgeShares(Shares):
    """The final-order docket by the age of its orders: ``years_A_B`` is the share of orders
    issued A to B years before the reference day."""
    years_0_1: Share
    years_1_3: Share
    years_3_5: Share
    years_5_10: Share
    years_10_20: Share
    years_20_30: Share

    @staticmethod
    def bands() -> tuple[tuple[float, float], ...]:
        """Each field's (from, to) years, in field order."""
        return tuple((float(a), float(b)) for a, b in (name.split("_")[1:] for name in OrderAgeShares.model_fields))


class RecordConfig(ConfigModel):
    """When ICE last recorded each address: the final order's date, drawn from the docket's age
    mix, or a later contact for people who report or are on Alternatives to Detention."""
    order_age: OrderAgeShares
    reporting_share: Share
    reporting_interval_years: Annotated[Float, Field(ge=0, le=10)]
    atd_share: Share
    atd_interval_years: Annotated[Float, Field(ge=0, le=10)]

    @model_validator(mode="after")
    def _contacts(self):
        if self.reporting_share + self.atd_share > 1 + SHARE_TOLERANCE:
            raise ValueError(f"reporting_share + atd_share must be at most 1, got {self.reporting_share + self.atd_share:.6g}")
        return self


class RequestsConfig(ConfigModel):
    names: NamesConfig
    dates: DatesConfig
    ssn: SsnConfig
    record: RecordConfig
    address: AddressConfig


#: The most requests a world can hold: every request reserves room for a household of
#: sim.world.geography.MAX_HOUSEHOLD (8) ITINs in the 43,995,600 the ITIN format allows
#: (sim.world.tin.ITIN_DOMAIN). ICE's refused June requests (7.6M, 7.3M records) are beyond it.
MAX_REQUESTS = 5_000_000


class WorldConfig(ConfigModel):
    scale: Annotated[Float, Field(gt=0.0, le=1.0)]
    n_requests: Annotated[Int, Field(ge=1)]

    @field_validator("n_requests")
    @classmethod
    def _room_for_itins(cls, value: int) -> int:
        if value > MAX_REQUESTS:
            raise ValueError(f"must be at most {MAX_REQUESTS:,} (each request reserves 8 of the 44.0 million numbers "
                             f"the ITIN format allows); got {value:,}")
        return value
    reference_year: Annotated[Int, Field(ge=2000, le=2030)]
    population_growth: Annotated[Float, Field(gt=0.0, le=10.0)]
    max_block_population: Annotated[Int, Field(ge=10_000)]
    households: HouseholdsConfig
    mobility: MobilityConfig
    master_file: MasterFileConfig
    requested: RequestedConfig
    requests: RequestsConfig

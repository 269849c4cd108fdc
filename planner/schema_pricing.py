"""The ``pricing:`` section of a scenario: hours per month, discount layers and effective rates.

Layers are applied in this order (see :mod:`costmodels.design_costs`):

1. **list price**: catalog prices, or ``effective_rates`` where the scenario gives them (rates
   taken from a billing export already include every discount, so no layer below changes them);
2. **negotiated discount**: ``negotiated_discounts`` (% by provider: AWS EDP, GCP private
   pricing) off on-demand and commitment list rates, never off spot;
3. **commitments**: ``commitments`` (reserved instances, savings plans, committed-use discounts)
   cover on-demand usage of one instance type hour by hour, up to their size; unused
   commitment is still paid;
4. **spot**: spot node-hours at the spot price.

Example::

    pricing:
      hours_per_month: 730
      negotiated_discounts: {aws: 8}
      commitments:
        - instance: aws:g5.xlarge
          kind: savings_plan
          term: 1yr               # rate from the catalog's savings_plan_1yr column
          coverage: 0.8           # 80 % of the always-on on-demand floor
      # source: billing                 # effective $/h from your bills, catalog where they have none
      # paths: [exports/cur-2026-10.parquet]
      # month: "2026-10"
      effective_rates:
        - instance: aws:p5.48xlarge
          purchase: spot
          usd_per_hour: 21.50
          source: CUR 2026-10 effective rate
          as_of: "2026-10-31"
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from domain.purchase import AnyPurchase
from planner.schema_base import PROVIDERS, Name, _Frozen, _resolve_path
from planner.schema_errors import problem
from planner.schema_fleet import instance_key_hint


def _check_instance_key(value: str) -> str:
    provider, _, instance_type = value.partition(":")
    if provider not in PROVIDERS or not instance_type.strip():
        raise problem(("", f"must be 'provider:instance_type' with provider one of "
                           f"{', '.join(PROVIDERS)} (got {value!r}); {instance_key_hint(value)}"
                           "write e.g. 'aws:g5.xlarge'"))
    return value


class Commitment(_Frozen):
    """A commitment on one instance type that covers its on-demand usage hour by hour.

    Size it with exactly one of ``coverage`` (a share of the always-on floor: the minimum hourly
    on-demand usage), ``nodes`` (a node count) or ``usd_per_hour_committed`` (a spend
    commitment, USD/h at the committed rate). Price it with ``term`` (the catalog's
    ``<kind>_<term>`` rate: reserved_1yr, savings_plan_3yr, ...; a ``cud`` uses the catalog's
    reserved columns, where GCP committed-use prices live) or with an explicit rate:
    ``usd_per_hour`` (effective USD per node-hour), or ``hourly_usd`` + ``upfront_usd``
    (upfront amortised over 8,760 h per year of ``term``).
    """

    instance: str
    region: str | None = None
    kind: Literal["reserved", "savings_plan", "cud"]
    term: Literal["1yr", "3yr"] = "1yr"
    coverage: float | None = Field(default=None, gt=0, le=1)
    nodes: float | None = Field(default=None, gt=0)
    usd_per_hour_committed: float | None = Field(default=None, gt=0)
    usd_per_hour: float | None = Field(default=None, gt=0)
    hourly_usd: float | None = Field(default=None, ge=0)
    upfront_usd: float | None = Field(default=None, ge=0)

    @field_validator("instance")
    @classmethod
    def _check_instance(cls, value: str) -> str:
        return _check_instance_key(value)

    @model_validator(mode="after")
    def _check_basis(self) -> Commitment:
        sizes = [n for n in ("coverage", "nodes", "usd_per_hour_committed")
                 if getattr(self, n) is not None]
        if len(sizes) != 1:
            raise problem(("", f"a commitment sets exactly one of coverage, nodes and "
                               f"usd_per_hour_committed (got {sizes or 'none'}); e.g. "
                               "coverage: 0.8 for 80 % of the always-on usage"))
        explicit = self.usd_per_hour is not None
        amortised = self.hourly_usd is not None or self.upfront_usd is not None
        if explicit and amortised:
            raise problem(("usd_per_hour", f"give either usd_per_hour or hourly_usd + "
                                           f"upfront_usd (got usd_per_hour {self.usd_per_hour} "
                                           "and hourly/upfront); keep one"))
        if amortised and (self.hourly_usd is None or self.upfront_usd is None):
            raise problem(("hourly_usd", "hourly_usd and upfront_usd go together (got one); "
                                         "write 0 for the one that does not apply"))
        if amortised and self.hourly_usd == 0 and self.upfront_usd == 0:
            raise problem(("hourly_usd", "a commitment cannot be free (got hourly_usd 0 and "
                                         "upfront_usd 0); give its real rate"))
        return self

    @property
    def catalog_purchase(self) -> str:
        """The catalog column holding this commitment's rate when no explicit rate is given."""
        return f"{'savings_plan' if self.kind == 'savings_plan' else 'reserved'}_{self.term}"

    @property
    def term_years(self) -> int:
        """Length of the term, years."""
        return 1 if self.term == "1yr" else 3


class EffectiveRate(_Frozen):
    """A price that replaces the catalog's (e.g. an effective rate from a billing export)."""

    instance: str
    region: str | None = None
    purchase: AnyPurchase
    usd_per_hour: float = Field(gt=0)
    source: Name
    as_of: str

    @field_validator("instance")
    @classmethod
    def _check_instance(cls, value: str) -> str:
        return _check_instance_key(value)

    @field_validator("as_of", mode="before")
    @classmethod
    def _check_date(cls, value: object) -> str:
        text = value.isoformat() if isinstance(value, dt.date) else str(value)
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise problem(("", f"must be an ISO date (got {value!r}); write e.g. "
                               "'2026-10-31'")) from None
        return text


class Pricing(_Frozen):
    """How simulated usage becomes money.

    ``hours_per_month`` projects monthly cost (h); ``negotiated_discounts`` maps a provider to
    its discount in percent (0 <= % < 100); ``commitments`` and ``effective_rates`` as their
    classes say.
    """

    hours_per_month: float = Field(default=730.0, gt=0, le=744)  # 31 days
    negotiated_discounts: dict[Literal["aws", "gcp"], float] = Field(default_factory=dict)
    commitments: tuple[Commitment, ...] = ()
    effective_rates: tuple[EffectiveRate, ...] = ()
    source: Literal["catalog", "billing"] = "catalog"
    paths: tuple[str, ...] = ()
    month: str | None = None

    @field_validator("paths")
    @classmethod
    def _resolve_paths(cls, value: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # a URI (s3://, and any other scheme the reader then refuses by name) is not a path
        return tuple(v if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", v) else _resolve_path(v, info)
                     for v in value)

    @field_validator("month")
    @classmethod
    def _check_month(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
            raise problem(("", f"must be a month 'YYYY-MM' (got {value!r}); e.g. month: "
                               "'2026-10'"))
        return value

    @field_validator("negotiated_discounts")
    @classmethod
    def _check_percent(cls, value: dict[str, float]) -> dict[str, float]:
        for provider, percent in value.items():
            if isinstance(percent, bool) or not 0 <= percent < 100:
                raise problem((provider, f"must be a percentage in [0, 100) (got {percent!r}); "
                                         "write e.g. 8 for 8 % off list prices"))
        return value

    @model_validator(mode="after")
    def _check_billing(self) -> Pricing:
        if self.source == "billing" and not self.paths:
            raise problem(("paths", "source: billing needs the billing exports to read (got no "
                                    "paths); add paths: [exports/cur-2026-10.parquet] (files, "
                                    "folders, globs or s3://bucket/prefix)"))
        if self.source == "catalog" and (self.paths or self.month):
            raise problem(("source", "paths and month apply to source: billing (got source: "
                                     "catalog); set source: billing or remove them"))
        return self

    @model_validator(mode="after")
    def _check_unique(self) -> Pricing:
        seen: dict[tuple[str, str | None], int] = {}
        for i, c in enumerate(self.commitments):
            key = (c.instance, c.region)
            if key in seen:
                raise problem((f"commitments[{i}].instance", f"{c.instance} already has a "
                               f"commitment (commitments[{seen[key]}]); combine them into one"))
            seen[key] = i
        rates: dict[tuple[str, str | None, str], int] = {}
        for i, r in enumerate(self.effective_rates):
            key = (r.instance, r.region, r.purchase)
            if key in rates:
                raise problem((f"effective_rates[{i}]", f"{r.instance} {r.purchase} is already "
                               f"given by effective_rates[{rates[key]}]; keep one"))
            rates[key] = i
        return self

    def commitment_for(self, instance: str, region: str | None) -> Commitment | None:
        """Return the commitment on ``instance`` in ``region`` (one without a region matches any)."""
        for c in self.commitments:
            if c.instance == instance and c.region in (None, region):
                return c
        return None

    def effective_rate(self, instance: str, region: str | None,
                       purchase: str) -> EffectiveRate | None:
        """Return the effective rate that replaces the catalog price, if the scenario gives one."""
        for r in self.effective_rates:
            if r.instance == instance and r.purchase == purchase and r.region in (None, region):
                return r
        return None

    def negotiated_percent(self, provider: str) -> float:
        """Return the negotiated discount for ``provider``, % (0 when none)."""
        return float(self.negotiated_discounts.get(provider, 0.0))

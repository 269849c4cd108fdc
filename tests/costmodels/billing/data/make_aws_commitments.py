"""Fill in the commitment columns koku-nise leaves empty, turning its CUR into the test fixture.

koku-nise 5.4.4 writes the line items of reserved-instance and Savings Plan usage
(``DiscountedUsage``, ``SavingsPlanCoveredUsage``, ``SavingsPlanNegation``,
``SavingsPlanRecurringFee``) but leaves the commitment's identity and amortisation columns empty
and writes no ``RIFee`` line.  This script, standard library only (it shares no code with the
planner), fills them in by the AWS CUR rules for one reservation and one Savings Plan that both
expire at 2026-10-03T00:00Z, so the 48 hours of the nise report are their whole term in the
billing period:

* reserved instance: 1 x r4.large, Partial Upfront, amortised upfront ``UPFRONT_PER_HOUR`` and
  recurring ``RECURRING_PER_HOUR`` per reserved hour.  Each ``DiscountedUsage`` row gets the ARN,
  ``reservation/AmortizedUpfrontCostForUsage``, ``reservation/RecurringFeeForUsage`` and their
  sum ``reservation/EffectiveCost``, ``pricing/term`` Reserved and its on-demand price (nise
  writes the offering class and payment option into ``pricing/publicOnDemandCost`` and
  ``pricing/publicOnDemandRate``; they move to ``pricing/OfferingClass`` and
  ``pricing/PurchaseOption``).  One ``RIFee`` line for the month carries the recurring fee of
  the reserved hours as its cost, ``reservation/AmortizedUpfrontFeeForBillingPeriod``, and the
  unreserved-but-unused hours' ``reservation/UnusedQuantity``,
  ``reservation/UnusedAmortizedUpfrontFeeForBillingPeriod`` and
  ``reservation/UnusedRecurringFee``.
* Savings Plan: nise's hourly ``SavingsPlanRecurringFee`` cost is the hourly commitment.  Every
  Savings Plan row gets the ARN in nise's own column ``savingsPlan/SavingsPlanArn`` (AWS spells
  it ``SavingsPlanARN``); each fee row gets ``savingsPlan/TotalCommitmentToDate`` (the hour's
  commitment) and ``savingsPlan/UsedCommitment`` (the hour's sum of
  ``savingsPlan/SavingsPlanEffectiveCost`` of the covered usage), and loses the instance
  attributes nise copies onto it.

Everything else, including nise's ``None`` text in the Savings Plan columns of data-transfer
rows, is left as nise wrote it.  Usage::

    python make_aws_commitments.py October-2026-None.csv aws_commitments_cur.csv.gz
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import sys
from collections import defaultdict
from decimal import Decimal

PAYER = "123456789012"
RI_ARN = f"arn:aws:ec2:us-east-1:{PAYER}:reserved-instances/4b2a9c1e-0d3f-4e5a-9b8c-7d6e5f4a3b2c"
SP_ARN = f"arn:aws:savingsplans::{PAYER}:savingsplan/9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b"
UPFRONT_PER_HOUR = Decimal("0.0396")
RECURRING_PER_HOUR = Decimal("0.0377")
ON_DEMAND_R4_LARGE = Decimal("0.133")
RESERVED_HOURS = 48
TERM_END = "2026-10-03T00:00:00Z"
FEE_INSTANCE_COLUMNS = ("product/instanceType", "product/instanceFamily", "product/vcpu",
                        "product/memory", "product/physicalCores", "product/storage",
                        "product/clockSpeed", "product/ecu", "product/processorArchitecture")


def _money(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _fill_reservation(row: dict[str, str]) -> None:
    amount = Decimal(row["lineItem/UsageAmount"])
    row["reservation/ReservationARN"] = RI_ARN
    row["reservation/AmortizedUpfrontCostForUsage"] = _money(UPFRONT_PER_HOUR * amount)
    row["reservation/RecurringFeeForUsage"] = _money(RECURRING_PER_HOUR * amount)
    row["reservation/EffectiveCost"] = _money((UPFRONT_PER_HOUR + RECURRING_PER_HOUR) * amount)
    row["reservation/EndTime"] = TERM_END
    row["pricing/OfferingClass"] = row["pricing/publicOnDemandCost"]
    row["pricing/PurchaseOption"] = "Partial Upfront"
    row["pricing/LeaseContractLength"] = "1yr"
    row["pricing/term"] = "Reserved"
    row["pricing/publicOnDemandRate"] = _money(ON_DEMAND_R4_LARGE)
    row["pricing/publicOnDemandCost"] = _money(ON_DEMAND_R4_LARGE * amount)


def _ri_fee(template: dict[str, str], used_hours: Decimal) -> dict[str, str]:
    """The month's RIFee line of the reservation (built on a DiscountedUsage row's columns)."""
    unused = RESERVED_HOURS - used_hours
    kept = ("bill/", "product/", "lineItem/UsageAccountId", "lineItem/CurrencyCode",
            "lineItem/LegalEntity", "lineItem/ProductCode", "lineItem/AvailabilityZone")
    row = {key: value if key.startswith(kept) else "" for key, value in template.items()}
    recurring = RECURRING_PER_HOUR * RESERVED_HOURS
    row.update({
        "identity/LineItemId": hashlib.sha1(RI_ARN.encode()).hexdigest(),
        "identity/TimeInterval": "2026-10-01T00:00:00Z/2026-11-01T00:00:00Z",
        "lineItem/LineItemType": "RIFee",
        "lineItem/UsageStartDate": "2026-10-01 00:00:00+00:00",
        "lineItem/UsageEndDate": "2026-11-01 00:00:00+00:00",
        "lineItem/UsageType": "HeavyUsage:r4.large",
        "lineItem/Operation": "RunInstances",
        "lineItem/UsageAmount": str(RESERVED_HOURS),
        "lineItem/UnblendedRate": _money(RECURRING_PER_HOUR),
        "lineItem/UnblendedCost": _money(recurring),
        "lineItem/BlendedRate": _money(RECURRING_PER_HOUR),
        "lineItem/BlendedCost": _money(recurring),
        "lineItem/LineItemDescription": (f"USD {_money(RECURRING_PER_HOUR)} hourly fee per "
                                         "Linux/UNIX (Amazon VPC), r4.large instance"),
        "pricing/term": "Reserved",
        "pricing/unit": "Hrs",
        "pricing/OfferingClass": "convertible",
        "pricing/PurchaseOption": "Partial Upfront",
        "pricing/LeaseContractLength": "1yr",
        "reservation/ReservationARN": RI_ARN,
        "reservation/EndTime": TERM_END,
        "reservation/NumberOfReservations": "1",
        "reservation/TotalReservedUnits": str(RESERVED_HOURS),
        "reservation/AmortizedUpfrontFeeForBillingPeriod":
            _money(UPFRONT_PER_HOUR * RESERVED_HOURS),
        "reservation/UnusedQuantity": _money(unused),
        "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod": _money(UPFRONT_PER_HOUR * unused),
        "reservation/UnusedRecurringFee": _money(RECURRING_PER_HOUR * unused),
    })
    return row


def enrich(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Return nise's rows with the commitment columns filled in and the RIFee line appended."""
    used_by_hour: dict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        if row["lineItem/LineItemType"] == "SavingsPlanCoveredUsage":
            used_by_hour[row["lineItem/UsageStartDate"]] += Decimal(
                row["savingsPlan/SavingsPlanEffectiveCost"])
    used_hours = Decimal(0)
    template = None
    for row in rows:
        kind = row["lineItem/LineItemType"]
        if kind.startswith("SavingsPlan"):
            row["savingsPlan/SavingsPlanArn"] = SP_ARN
            row["savingsPlan/EndTime"] = TERM_END
        if kind == "SavingsPlanRecurringFee":
            row["savingsPlan/TotalCommitmentToDate"] = row["lineItem/UnblendedCost"]
            row["savingsPlan/UsedCommitment"] = _money(
                used_by_hour[row["lineItem/UsageStartDate"]])
            row["savingsPlan/PaymentOption"] = "No Upfront"
            row["savingsPlan/PurchaseTerm"] = "3yr"
            row["savingsPlan/OfferingType"] = "ComputeSavingsPlans"
            for key in FEE_INSTANCE_COLUMNS:
                row[key] = ""
        elif kind == "DiscountedUsage":
            _fill_reservation(row)
            used_hours += Decimal(row["lineItem/UsageAmount"])
            template = template or dict(row)
    if template is None:
        raise SystemExit("the nise report has no DiscountedUsage rows")
    return [*rows, _ri_fee(template, used_hours)]


def main(source: str, target: str) -> None:
    with open(source, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        header = list(reader.fieldnames or [])
        rows = enrich(list(reader))
    binary = (gzip.GzipFile(target, "wb", mtime=0) if target.endswith(".gz")
              else open(target, "wb"))  # noqa: SIM115 - closed by the wrapper below
    with io.TextIOWrapper(binary, encoding="utf-8", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main(*sys.argv[1:3])

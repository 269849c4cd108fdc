-- The independent truth of aws_commitments_cur.csv.gz by the AWS CUR amortisation rules
-- (from the repository root: duckdb < tests/costmodels/billing/data/aws_commitments_truth.sql).
CREATE TABLE cur AS SELECT * FROM read_csv('tests/costmodels/billing/data/aws_commitments_cur.csv.gz', all_varchar=true, header=true);
-- Reserved instance: used = reservation/EffectiveCost of DiscountedUsage, unused = the RIFee's
-- unused amortised upfront fee + unused recurring fee, on-demand equivalent of the used hours.
WITH ri AS (
  SELECT
    sum(CASE WHEN "lineItem/LineItemType" = 'DiscountedUsage' THEN CAST("reservation/EffectiveCost" AS DECIMAL(38,10)) END) AS used,
    sum(CASE WHEN "lineItem/LineItemType" = 'RIFee' THEN CAST("reservation/UnusedAmortizedUpfrontFeeForBillingPeriod" AS DECIMAL(38,10)) + CAST("reservation/UnusedRecurringFee" AS DECIMAL(38,10)) END) AS unused,
    sum(CASE WHEN "lineItem/LineItemType" = 'DiscountedUsage' THEN CAST("pricing/publicOnDemandCost" AS DECIMAL(38,10)) END) AS on_demand,
    sum(CASE WHEN "lineItem/LineItemType" = 'DiscountedUsage' THEN CAST("lineItem/UsageAmount" AS DECIMAL(38,10)) END) AS hours
  FROM cur),
sp AS (
  SELECT
    sum(CASE WHEN "lineItem/LineItemType" = 'SavingsPlanCoveredUsage' THEN CAST("savingsPlan/SavingsPlanEffectiveCost" AS DECIMAL(38,10)) END) AS used,
    sum(CASE WHEN "lineItem/LineItemType" = 'SavingsPlanRecurringFee' THEN CAST("savingsPlan/TotalCommitmentToDate" AS DECIMAL(38,10)) - CAST("savingsPlan/UsedCommitment" AS DECIMAL(38,10)) END) AS unused,
    sum(CASE WHEN "lineItem/LineItemType" = 'SavingsPlanCoveredUsage' THEN CAST("pricing/publicOnDemandCost" AS DECIMAL(38,10)) END) AS on_demand,
    sum(CASE WHEN "lineItem/LineItemType" = 'SavingsPlanCoveredUsage' THEN CAST("lineItem/UsageAmount" AS DECIMAL(38,10)) END) AS hours
  FROM cur),
elig AS (
  SELECT sum(CAST("lineItem/UsageAmount" AS DECIMAL(38,10))) AS hours FROM cur
  WHERE "lineItem/LineItemType" IN ('Usage', 'DiscountedUsage', 'SavingsPlanCoveredUsage')
    AND "lineItem/UsageType" LIKE '%BoxUsage:%')
SELECT 'Reserved Instance' AS kind, used, unused, round(used / (used + unused), 6) AS utilisation,
       on_demand - used - unused AS savings, round(ri.hours / elig.hours, 6) AS coverage_hours FROM ri, elig
UNION ALL
SELECT 'Savings Plan', used, unused, round(used / (used + unused), 6), on_demand - used - unused,
       round(sp.hours / elig.hours, 6) FROM sp, elig;
SELECT "lineItem/LineItemType" AS t, count(*) AS n, sum(CAST("lineItem/UnblendedCost" AS DECIMAL(38,10))) AS cost FROM cur GROUP BY 1 ORDER BY 1;
SELECT count(*) AS none_rows, sum(CAST("lineItem/UnblendedCost" AS DECIMAL(38,10))) AS cost FROM cur WHERE "savingsPlan/SavingsPlanEffectiveCost" = 'None';

"""FOCUS ServiceSubcategory: the allowed values per ServiceCategory and their derivation.

FOCUS 1.2 made ServiceSubcategory mandatory: it MUST NOT be null, MUST be one of the allowed
values and MUST have the row's ServiceCategory as its one parent (validator rules
``ServiceSubcategory-C-002-M`` ... ``C-004-M``; FOCUS 1.3 keeps the same list).  A FOCUS 1.0
file has no such column, a 1.1 file may leave it null, and a reader's own mapping may pick a
subcategory whose parent is not the row's category.  :func:`service_subcategory` keeps a
given value when it is valid for the row's category (its case corrected) and otherwise derives
one from the service name with :data:`SERVICE_NAME_PATTERNS`:

1. the first pattern (in the order listed) that matches ``ServiceName`` and whose subcategory's
   parent is the row's ServiceCategory;
2. else ``Other (<ServiceCategory>)``, the specification's catch-all for each category.

A row whose ServiceCategory is itself not an allowed value (null, or a pre-1.0 name) cannot
satisfy the parent rule whatever its subcategory; it gets the first matching pattern's
subcategory regardless of parent, else ``Other (Other)``, so that the value is still non-null
and allowed, and the failure stays with the source's category.

The patterns are matched case-insensitively on whole words against the provider's service
names as the billing exports spell them (AWS product names such as "Amazon Elastic Compute
Cloud", GCP service descriptions such as "Compute Engine", Azure service names).
"""

from __future__ import annotations

import polars as pl

ALLOWED_SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "AI and Machine Learning": ("AI Platforms", "Bots", "Generative AI", "Machine Learning",
                                "Natural Language Processing",
                                "Other (AI and Machine Learning)"),
    "Analytics": ("Analytics Platforms", "Business Intelligence", "Data Processing", "Search",
                  "Streaming Analytics", "Other (Analytics)"),
    "Business Applications": ("Productivity and Collaboration", "Other (Business Applications)"),
    "Compute": ("Containers", "End User Computing", "Quantum Compute", "Serverless Compute",
                "Virtual Machines", "Other (Compute)"),
    "Databases": ("Caching", "Data Warehouses", "Ledger Databases", "NoSQL Databases",
                  "Relational Databases", "Time Series Databases", "Other (Databases)"),
    "Developer Tools": ("Developer Platforms", "Continuous Integration and Deployment",
                        "Development Environments", "Source Code Management",
                        "Quality Assurance", "Other (Developer Tools)"),
    "Identity": ("Identity and Access Management", "Other (Identity)"),
    "Integration": ("API Management", "Messaging", "Workflow Orchestration",
                    "Other (Integration)"),
    "Internet of Things": ("IoT Analytics", "IoT Platforms", "Other (Internet of Things)"),
    "Management and Governance": ("Architecture", "Compliance", "Cost Management",
                                  "Data Governance", "Disaster Recovery", "Endpoint Management",
                                  "Observability", "Support",
                                  "Other (Management and Governance)"),
    "Media": ("Content Creation", "Gaming", "Media Streaming", "Mixed Reality", "Other (Media)"),
    "Migration": ("Data Migration", "Resource Migration", "Other (Migration)"),
    "Mobile": ("Other (Mobile)",),
    "Multicloud": ("Multicloud Integration", "Other (Multicloud)"),
    "Networking": ("Application Networking", "Content Delivery", "Network Connectivity",
                   "Network Infrastructure", "Network Routing", "Network Security",
                   "Other (Networking)"),
    "Other": ("Other (Other)",),
    "Security": ("Secret Management", "Security Posture Management",
                 "Threat Detection and Response", "Other (Security)"),
    "Storage": ("Backup Storage", "Block Storage", "File Storage", "Object Storage",
                "Storage Platforms", "Other (Storage)"),
    "Web": ("Application Platforms", "Other (Web)"),
}
"""FOCUS 1.2 / 1.3 ServiceCategory -> its allowed ServiceSubcategory values (the spec's table)."""

PARENT_CATEGORY: dict[str, str] = {sub: category
                                   for category, subs in ALLOWED_SUBCATEGORIES.items()
                                   for sub in subs}
"""Each allowed ServiceSubcategory -> its one parent ServiceCategory."""

SERVICE_NAME_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Compute; containers first ("Amazon EC2 Container Registry" is a container service)
    ("Containers", ("kubernetes", "container", "eks", "ecs", "ecr", "fargate", "gke", "aks",
                    "openshift")),
    ("Serverless Compute", ("lambda", "cloud functions", "cloud run", "functions",
                            "app runner")),
    ("End User Computing", ("workspaces", "appstream", "virtual desktop", "desktop")),
    ("Quantum Compute", ("braket", "quantum")),
    ("Virtual Machines", ("elastic compute cloud", "ec2", "compute engine", "virtual machines?",
                          "lightsail", "batch", "outposts", "dedicated host")),
    # Storage
    ("Backup Storage", ("backup", "glacier deep archive")),
    ("Block Storage", ("elastic block store", "ebs", "persistent disk", "managed disks?")),
    ("File Storage", ("elastic file system", "efs", "fsx", "filestore", "files", "file storage",
                      "netapp")),
    ("Object Storage", ("simple storage service", "s3", "glacier", "cloud storage",
                        "blob storage", "object storage")),
    ("Storage Platforms", ("storage gateway", "storage platform")),
    # Databases
    ("Caching", ("elasticache", "memorystore", "redis", "memcached", "cache")),
    ("Data Warehouses", ("redshift", "bigquery", "synapse", "data warehouse")),
    ("Ledger Databases", ("qldb", "ledger")),
    ("Time Series Databases", ("timestream", "time series")),
    ("NoSQL Databases", ("dynamodb", "documentdb", "keyspaces", "neptune", "bigtable",
                         "firestore", "datastore", "cosmos db", "nosql")),
    ("Relational Databases", ("relational database", "rds", "aurora", "cloud sql",
                              "sql database", "spanner", "alloydb", "database for postgresql",
                              "database for mysql", "database for mariadb", "sql server")),
    # AI and machine learning
    ("Generative AI", ("bedrock", "openai", "gemini", "generative", "q developer",
                       "q business")),
    ("Bots", ("lex", "bot service", "dialogflow", "bots?")),
    ("Natural Language Processing", ("comprehend", "translate", "transcribe", "polly",
                                     "natural language", "speech", "language service")),
    ("Machine Learning", ("sagemaker", "vertex ai", "machine learning", "cloud tpu", "tpu",
                          "automl", "rekognition", "textract", "personalize", "forecast")),
    ("AI Platforms", ("ai platform", "cognitive services", "ai services")),
    # Analytics
    ("Streaming Analytics", ("kinesis", "managed streaming", "kafka", "stream analytics",
                             "msk")),
    ("Business Intelligence", ("quicksight", "looker", "power bi", "data studio")),
    ("Search", ("opensearch", "elasticsearch", "cloudsearch", "kendra", "search")),
    ("Data Processing", ("glue", "athena", "emr", "elastic mapreduce", "dataproc", "dataflow",
                         "dataprep", "data factory", "databricks", "data pipeline",
                         "lake formation")),
    ("Analytics Platforms", ("analytics",)),
    # Integration
    ("API Management", ("api gateway", "api management", "apigee", "appsync")),
    ("Workflow Orchestration", ("step functions", "workflows", "logic apps", "airflow", "mwaa",
                                "composer", "simple workflow")),
    ("Messaging", ("simple queue service", "sqs", "simple notification service", "sns",
                   "pub/?sub", "eventbridge", "event grid", "event hubs?", "service bus",
                   "amazon mq", "mq")),
    # Identity and security
    ("Identity and Access Management", ("iam", "identity", "cognito", "directory service",
                                        "entra", "active directory", "single sign-on", "sso")),
    ("Secret Management", ("key management service", "kms", "secrets manager",
                           "secret manager", "key vault", "certificate manager", "cloud hsm",
                           "cloudhsm")),
    ("Threat Detection and Response", ("guardduty", "inspector", "detective", "macie",
                                       "sentinel", "defender", "security command center",
                                       "threat")),
    ("Security Posture Management", ("security hub", "security posture")),
    # Networking
    ("Content Delivery", ("cloudfront", "cdn", "front door", "content delivery")),
    ("Network Security", ("waf", "shield", "firewall", "cloud armor", "ddos")),
    ("Network Connectivity", ("direct connect", "vpn", "interconnect", "expressroute",
                              "data transfer", "privatelink", "global accelerator")),
    ("Network Routing", ("route 53", "dns", "traffic manager", "cloud map")),
    ("Application Networking", (r"load balanc\w*", "elb", "app mesh", "vpc lattice",
                                "application gateway")),
    ("Network Infrastructure", ("virtual private cloud", "vpc", "nat gateway",
                                "transit gateway", "virtual network", "networking",
                                "network")),
    # Management and governance
    ("Observability", ("cloudwatch", "x-ray", "cloudtrail", "monitoring", "logging",
                       "log analytics", "application insights", "managed grafana",
                       "managed service for prometheus", "trace")),
    ("Cost Management", ("cost explorer", "budgets", "cost management", "billing")),
    ("Compliance", ("config", "audit manager", "artifact", "compliance", "policy")),
    ("Support", ("support",)),
    ("Disaster Recovery", ("elastic disaster recovery", "site recovery", "disaster recovery")),
    ("Endpoint Management", ("systems manager", "intune", "endpoint")),
    ("Architecture", ("well-architected", "trusted advisor", "advisor")),
    ("Data Governance", ("datazone", "purview", "data catalog", "dataplex")),
    # Developer tools
    ("Continuous Integration and Deployment", ("codebuild", "codepipeline", "codedeploy",
                                               "cloud build", "cloud deploy", "devops",
                                               "pipelines")),
    ("Source Code Management", ("codecommit", "source repositories", "repos",
                                "artifact registry")),
    ("Development Environments", ("cloud9", "cloud shell", "codespaces", "dev box",
                                  "workstations")),
    ("Quality Assurance", ("device farm", "test lab", "load testing")),
    ("Developer Platforms", ("codecatalyst", "codestar", "developer")),
    # Internet of things, migration, media, web, business applications, multicloud
    ("IoT Analytics", ("iot analytics", "iot events", "iot sitewise")),
    ("IoT Platforms", ("iot", "greengrass", "iot hub")),
    ("Data Migration", ("database migration", "dms", "datasync", "transfer family", "snowball",
                        "data box", "storage transfer")),
    ("Resource Migration", ("migration hub", "application migration", "server migration",
                            "migrate")),
    ("Media Streaming", ("elemental", "interactive video", "ivs", "media services", "media")),
    ("Gaming", ("gamelift", "gaming", "game")),
    ("Mixed Reality", ("sumerian", "mixed reality", "spatial")),
    ("Content Creation", ("nimble studio", "deadline", "content creation")),
    ("Application Platforms", ("elastic beanstalk", "amplify", "app engine", "app service",
                               "static web apps", "web apps?")),
    ("Productivity and Collaboration", ("workmail", "workdocs", "chime", "connect",
                                        "workspace", "simple email service", "ses",
                                        "pinpoint")),
    ("Multicloud Integration", ("anthos", "arc", "multicloud")),
)
"""ServiceName keywords (regular expressions, whole words, case-insensitive) -> subcategory.

Tried in order; a pattern counts only when its subcategory's parent is the row's category."""

_OTHER = "Other (Other)"


def _matches(service_name: pl.Expr, keywords: tuple[str, ...]) -> pl.Expr:
    pattern = "|".join(keywords)
    return service_name.str.contains(rf"(?i)\b(?:{pattern})\b").fill_null(False)


def derived_subcategory(category: pl.Expr, service_name: pl.Expr) -> pl.Expr:
    """The ServiceSubcategory :data:`SERVICE_NAME_PATTERNS` give a row (never null)."""
    known = category.is_in(list(ALLOWED_SUBCATEGORIES)).fill_null(False)

    def condition(subcategory: str, keywords: tuple[str, ...]) -> pl.Expr:
        parent_ok = (category == PARENT_CATEGORY[subcategory]).fill_null(False) | ~known
        return parent_ok & _matches(service_name, keywords)

    (first_sub, first_keywords), *rest = SERVICE_NAME_PATTERNS
    chain = pl.when(condition(first_sub, first_keywords)).then(pl.lit(first_sub))
    for subcategory, keywords in rest:
        chain = chain.when(condition(subcategory, keywords)).then(pl.lit(subcategory))
    return (chain.when(known).then(pl.concat_str(pl.lit("Other ("), category, pl.lit(")")))
            .otherwise(pl.lit(_OTHER)))


def canonical_subcategory(given: pl.Expr) -> pl.Expr:
    """``given`` with its case corrected when it is an allowed value, else null."""
    lowered = given.str.strip_chars().str.to_lowercase()
    return lowered.replace_strict({sub.lower(): sub for sub in PARENT_CATEGORY}, default=None,
                                  return_dtype=pl.String)


def fits_category(subcategory: pl.Expr, category: pl.Expr) -> pl.Expr:
    """Whether ``subcategory`` is an allowed value whose parent is ``category`` (never null)."""
    parent = subcategory.replace_strict(PARENT_CATEGORY, default=None, return_dtype=pl.String)
    return (parent == category).fill_null(False)


def service_subcategory(category: pl.Expr, service_name: pl.Expr, given: pl.Expr) -> pl.Expr:
    """The row's ServiceSubcategory: ``given`` when valid for ``category``, else derived."""
    fixed = canonical_subcategory(given)
    return (pl.when(fits_category(fixed, category)).then(fixed)
            .otherwise(derived_subcategory(category, service_name)))


def unfit_subcategory(category: pl.Expr, given: pl.Expr) -> pl.Expr:
    """Rows whose non-null ``given`` subcategory is not allowed or not a child of ``category``."""
    return given.is_not_null() & ~fits_category(canonical_subcategory(given), category)


SUBCATEGORY_KEYS: tuple[str, str, str] = ("ServiceCategory", "ServiceName", "ServiceSubcategory")
"""The normalised columns ServiceSubcategory is derived from (and the column itself)."""


def with_service_subcategory(frame: pl.LazyFrame) -> pl.LazyFrame:
    """``frame`` with ServiceSubcategory replaced by :func:`service_subcategory`.

    The patterns run once per distinct (ServiceCategory, ServiceName, ServiceSubcategory), not
    once per row; rows keep their order and the frame its columns.
    """
    keys = list(SUBCATEGORY_KEYS)
    category, name, given = (pl.col(key) for key in keys)
    # the distinct keys are collected first (a small table), then mapped onto the rows by a
    # replace: a self-join of the lazy frame would make polars hold the whole frame in memory
    lookup = (frame.select(keys).unique()
              .with_columns(service_subcategory(category, name, given).alias("_subcategory"))
              .collect(engine="streaming"))
    key = pl.concat_str([pl.col(k).fill_null("\x00") for k in keys], separator="\x1f")
    old = lookup.select(key).to_series().to_list()
    return frame.with_columns(key.replace_strict(old, lookup["_subcategory"].to_list(),
                                                 default=None, return_dtype=pl.String)
                              .alias("ServiceSubcategory"))

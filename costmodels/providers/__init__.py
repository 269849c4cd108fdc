"""Live price-catalog providers (cloud pricing APIs) that build :class:`~costmodels.catalog.PriceCatalog` frames."""

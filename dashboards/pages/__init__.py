"""Pages of the Dash app, one module per page (registered by ``dash.register_page``)."""

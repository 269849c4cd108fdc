"""The Dash app: what-if scenarios, the monthly cost review and calibration against the bills.

``dashboards.app.create_app`` builds it; ``dashboards.app:server`` serves it under gunicorn.
"""

"""Billing exports (AWS CUR, GCP billing export, FOCUS) normalised to FOCUS 1.2 with polars."""

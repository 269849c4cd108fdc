"""Loopback fakes of cloud pricing APIs for offline tests."""

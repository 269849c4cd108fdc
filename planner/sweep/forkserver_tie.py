"""Imported only in a local sweep's fork server (a preload module): the fork server dies with
the driver that started it (Linux; see :mod:`planner.sweep.lifeline`).

Importing this module anywhere else would tie that process to its parent, so nothing else
imports it.
"""

from planner.sweep.lifeline import die_with_parent

die_with_parent()

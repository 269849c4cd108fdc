"""Design-space sweeps: many variants of one design, run locally or on Ray, and the cheapest
one that meets the constraints.

A scenario's ``sweep:`` section (:mod:`planner.schema_sweep`) names a base design and the
parameters to vary.  :func:`run_sweep` plans the points (:mod:`.points`), runs the ones not yet
in the output folder with an executor (:mod:`.executors`, the same point function
:func:`.runner.run_point` everywhere), stores each row as it finishes (:mod:`.store`), and
analyses them (:mod:`.analysis`): Pareto fronts, the cheapest feasible point, sensitivity.
"""

from planner.sweep.analysis import cheapest_feasible, feasible, pareto_front
from planner.sweep.engine import SweepResult, default_output, run_sweep
from planner.sweep.executors import LocalExecutor, RayExecutor, make_executor
from planner.sweep.points import SweepPlan, SweepPoint, plan_sweep, point_id, point_seed

__all__ = ["LocalExecutor", "RayExecutor", "SweepPlan", "SweepPoint", "SweepResult",
           "cheapest_feasible", "default_output", "feasible", "make_executor", "pareto_front",
           "plan_sweep", "point_id", "point_seed", "run_sweep"]

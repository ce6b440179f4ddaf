"""One module per recurrent architecture, installed as `zoo.tasks`; `base` holds the task
contract. Importing this package registers all five tasks, in the seed's order (the order
`zoo tasks` lists them in): the imports below are that order, so they are not sorted.
"""
# ruff: noqa: I001

from zoo.tasks.base import TASKS, DatasetSpec, Task, all_tasks, get_task, register_task
from zoo.tasks import one_to_one  # noqa: F401
from zoo.tasks import one_to_many  # noqa: F401
from zoo.tasks import many_to_one  # noqa: F401
from zoo.tasks import many_to_many_equal  # noqa: F401
from zoo.tasks import many_to_many_unequal  # noqa: F401

__all__ = ["TASKS", "DatasetSpec", "Task", "all_tasks", "get_task", "register_task"]

"""A Keras model zoo for recurrent sequence models (SimpleRNN and LSTM) in the five
input/output shapes. The public Python API mirrors the `zoo` command line."""
from zoo.errors import BadInputError, DatasetUnavailableError, UnknownNameError, ZooError
from zoo.task import TASKS, Task, all_tasks, get_task
from zoo.training import TrainResult, train

__all__ = [
    "BadInputError",
    "DatasetUnavailableError",
    "TASKS",
    "Task",
    "TrainResult",
    "UnknownNameError",
    "ZooError",
    "all_tasks",
    "get_task",
    "train",
]

"""Data-parallel training across processes (and hosts) on the JAX backend.

Keras's distribution API (`keras.distribution.DataParallel`) runs one training step as a
single SPMD program over the devices of every process: each process feeds its slice of
the global batch, gradients are reduced across processes by JAX's collectives (`gloo` on
CPU, NCCL on GPU), and every process ends with the same weights. `tf.distribute`'s
`MultiWorkerMirroredStrategy` is the TensorFlow way, but it fails in `fit` under Keras 3
(keras-team/keras#20585), so across processes the zoo trains on JAX.

Start one process per host (or per accelerator group) with the same command and data,
naming the coordinator (process 0's `host:port`), the process count and each process's
id, by flags or by Keras's environment variables `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
`KERAS_DISTRIBUTION_NUM_PROCESSES` and `KERAS_DISTRIBUTION_PROCESS_ID`; with none of them,
JAX detects a cluster it knows (Slurm, Open MPI, Cloud TPU) or trains in one process.

Each process builds the same shuffled, bucketed batches from the same seed and keeps its
own contiguous slice of every batch (`shard_batches`), so a run over N processes steps
through exactly the global batches of a one-process run with the same `batch_size`.

Source: Keras distribution API guide, https://keras.io/guides/distribution/ ; JAX
multi-process guide, https://docs.jax.dev/en/latest/multi_process.html .
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from zoo.errors import ZooError

#: Keras's environment variables of the cluster (read by `keras.distribution.initialize`)
ENVIRONMENT = {
    "coordinator": "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "num_processes": "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "process_id": "KERAS_DISTRIBUTION_PROCESS_ID",
}


@dataclass(frozen=True)
class ProcessGroup:
    """The processes that train one model together.

    Attributes:
        coordinator: process 0's `host:port` (the JAX coordination service), or None to
            let JAX detect the cluster.
        num_processes: processes in the group.
        process_id: this process's index, from 0.
    """

    coordinator: str | None = None
    num_processes: int = 1
    process_id: int = 0

    @property
    def is_chief(self) -> bool:
        """Whether this process saves the model and writes logs (process 0)."""
        return self.process_id == 0


def process_group(
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
) -> ProcessGroup:
    """The process group from the arguments, else from Keras's environment variables.

    Args:
        coordinator: `host:port` of process 0; default `KERAS_DISTRIBUTION_JOB_ADDRESSES`
            (its first address).
        num_processes: default `KERAS_DISTRIBUTION_NUM_PROCESSES`, else 1.
        process_id: default `KERAS_DISTRIBUTION_PROCESS_ID`, else 0.

    Returns:
        The `ProcessGroup`.

    Raises:
        ZooError: a count or id that is not a whole number, an id outside
            `0..num_processes-1`, or several processes without a coordinator.
    """
    coordinator = coordinator or os.environ.get(ENVIRONMENT["coordinator"]) or None
    if coordinator:
        coordinator = coordinator.split(",")[0].strip()
    numbers = {}
    for name, given, fallback in (
        ("num_processes", num_processes, 1),
        ("process_id", process_id, 0),
    ):
        raw = given if given is not None else os.environ.get(ENVIRONMENT[name], fallback)
        try:
            numbers[name] = int(raw)
        except ValueError:
            raise ZooError(f"{ENVIRONMENT[name]} must be a whole number, got {raw!r}.") from None
    group = ProcessGroup(coordinator, numbers["num_processes"], numbers["process_id"])
    if group.num_processes < 1 or not 0 <= group.process_id < group.num_processes:
        raise ZooError(
            f"process id {group.process_id} is not one of 0..{group.num_processes - 1}: give each "
            "process its own --process-id below --num-processes."
        )
    if group.num_processes > 1 and not group.coordinator:
        raise ZooError(
            f"{group.num_processes} processes need a coordinator: add --coordinator HOST:PORT "
            f"(process 0's address) or set {ENVIRONMENT['coordinator']}."
        )
    return group


def start_data_parallel(group: ProcessGroup) -> int:
    """Join the process group and make `DataParallel` over all its devices Keras's
    distribution. Call it once per process, before any model is built.

    Args:
        group: this process's group (`process_group`).

    Returns:
        The number of model replicas: the devices of all processes together.

    Raises:
        ZooError: the backend is not JAX, or the coordinator cannot be reached.
    """
    if keras.config.backend() != "jax":
        raise ZooError(
            "--strategy data-parallel runs on the JAX backend: add --backend jax "
            "(pip install 'rnn-zoo[jax]'), or use --strategy mirrored for the GPUs of one machine."
        )
    import jax

    if group.num_processes > 1:
        # CPU devices of several processes reduce gradients through gloo (GPUs use NCCL)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        try:
            keras.distribution.initialize(
                job_addresses=group.coordinator,
                num_processes=group.num_processes,
                process_id=group.process_id,
            )
        except RuntimeError as err:
            raise ZooError(
                f"could not join the {group.num_processes} training processes at "
                f"{group.coordinator}: {err}. Start every process with the same --coordinator "
                "and --num-processes, each with its own --process-id."
            ) from err
    devices = keras.distribution.list_devices()
    # every process feeds its own slice of each global batch (`shard_batches`), so Keras
    # must not shard the data again
    keras.distribution.set_distribution(
        keras.distribution.DataParallel(devices=devices, auto_shard_dataset=False)
    )
    return len(devices)


def shard_batches(batches: tf.data.Dataset, group: ProcessGroup) -> tf.data.Dataset:
    """This process's slice of every global batch.

    A batch of n examples is cut to the largest multiple of the process count (at most
    `num_processes - 1` examples of a bucket's last batch are left out of that epoch),
    then each process keeps its contiguous share, in process order.

    Args:
        batches: global batches, identical in every process (same data and seed).
        group: the process group.

    Returns:
        Batches of `n // num_processes` examples; `batches` itself for one process.
    """
    if group.num_processes == 1:
        return batches
    count, index = group.num_processes, group.process_id

    def share(*batch):
        size = tf.shape(tf.nest.flatten(batch)[0])[0] // count
        part = tf.nest.map_structure(lambda t: t[index * size : (index + 1) * size], batch)
        return part if len(part) > 1 else part[0]

    return batches.map(share).filter(lambda *batch: tf.shape(tf.nest.flatten(batch)[0])[0] > 0)


def stop_data_parallel(model: keras.Model) -> keras.Model:
    """The trained model as this process's own copy, Keras's distribution cleared, so that
    saving, evaluating and predicting afterwards run in this process alone (a program over
    the whole group would wait for the other processes).

    Args:
        model: the trained, compiled model; its weights are replicated on every device.

    Returns:
        A compiled copy of `model` with the same weights, on this process's devices only.
    """
    weights = [
        np.asarray(v.value.addressable_shards[0].data)
        if hasattr(v.value, "addressable_shards")
        else np.asarray(v.value)
        for v in model.weights
    ]
    keras.distribution.set_distribution(None)
    local = keras.models.clone_model(model)
    local.set_weights(weights)
    local.compile_from_config(model.get_compile_config())
    return local

"""`zoo tasks`, `train`, `tune`, `search-report`, `retrain` and `demo`: commands that make models."""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from zoo.cli._common import (
    backend_option,
    choice,
    data_options,
    dataset,
    hparams,
    model_name,
    model_options,
    non_negative_int,
    positive_int,
    print_metrics,
    registry_option,
)
from zoo.constants import CELLS, STRATEGIES, TUNERS


def cmd_tasks(args: argparse.Namespace) -> None:
    """`zoo tasks`: list the five tasks, their example problems, metrics and datasets.

    Args:
        args: the parsed command line.
    """
    from zoo.tasks.base import all_tasks

    print(f"{'task':<22} {'example':<26} {'metric':<10} datasets (--dataset)")
    for name, task in all_tasks().items():
        datasets = ", ".join(
            f"{k} ({v.tfds_name})" if k == "embedded" else k for k, v in task.datasets.items()
        )
        print(f"{name:<22} {task.example:<26} {task.headline_metric:<10} {datasets}")


def _check_registry(args: argparse.Namespace) -> None:
    """Refuse, before training, a registry (`--registry`, else the default) that the model
    could not be saved into (`zoo.registry.layout.check_writable`)."""
    from zoo.registry import layout

    layout.check_writable(Path(args.registry) if args.registry else layout.default_root())


def _checkpoint_dir(args: argparse.Namespace) -> str:
    """The checkpoint folder of this exact training command: the same command finds it again."""
    import hashlib

    settings = {
        k: v
        for k, v in sorted(vars(args).items())
        if k not in ("func", "resume", "checkpoint_dir", "tensorboard", "registry")
    }
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[
        :16
    ]
    root = Path(
        args.checkpoint_dir
        or os.environ.get("ZOO_CHECKPOINTS")
        or Path.home() / ".cache" / "rnn-zoo" / "checkpoints"
    )
    # a folder of its own under the root: discarding it (and Keras removing it when training
    # ends) never touches anything else there
    folder = root / f"{args.task}-{key}"
    if folder.exists() and not args.resume:
        print(
            f"discarding the checkpoint of an earlier, unfinished run in {folder} (add --resume to continue it)"
        )
        shutil.rmtree(folder)
    elif args.resume:
        print(
            f"resuming from {folder}"
            if folder.exists()
            else f"nothing to resume in {folder}: starting afresh"
        )
    return str(folder)


def cmd_train(args: argparse.Namespace) -> None:
    """`zoo train`: train a task, save the model into the registry, print its metrics.

    The registry is checked writable before training; the per-epoch checkpoint is deleted
    only once the model is saved, so a save that fails loses no training.

    Args:
        args: the parsed command line.

    Raises:
        ZooError: the registry cannot be written (before training), or the save failed
            (after it: the message names the checkpoint and how to save it again).
    """
    from zoo import registry
    from zoo.errors import ZooError
    from zoo.training.distributed import process_group
    from zoo.training.fit import hyperparameter_table, train

    if args.list_hparams:
        rows = hyperparameter_table(args.task, hparams(args))
        widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in rows[0]}
        for row in [{k: k for k in rows[0]}, *rows]:
            print("  ".join(f"{row[k]!s:<{widths[k]}}" for k in rows[0]).rstrip())
        return

    # a registry the model cannot go into is found now, not after the last epoch
    _check_registry(args)
    checkpoint = _checkpoint_dir(args)
    processes = (
        process_group(args.coordinator, args.num_processes, args.process_id)
        if args.strategy == "data-parallel"
        else None
    )
    result = train(
        args.task,
        dataset=dataset(args),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        hparams=hparams(args),
        tensorboard=args.tensorboard,
        checkpoint_dir=checkpoint,
        patience=args.patience,
        strategy=args.strategy,
        processes=processes,
        keep_checkpoint=True,  # until the model is saved
    )
    if not result.processes.is_chief:
        print(
            f"process {result.processes.process_id} of {result.processes.num_processes} done; "
            "process 0 saves the model"
        )
        return
    try:
        path = registry.save(result, args.name, root=args.registry)
    except ZooError as err:
        raise ZooError(
            f"{err} The trained model is kept in its checkpoint, {checkpoint}: make space (or "
            "make the registry writable) and run the same command with --resume, or add "
            "--registry OTHER_DIR --resume; no epoch is trained again."
        ) from err
    shutil.rmtree(checkpoint, ignore_errors=True)
    print(
        f"\n{result.task.name} ({result.hyperparameters['cell']}) on {result.spec.tfds_name}: "
        f"{len(result.history['loss'])} of {result.epochs} epochs in {result.seconds:.1f} s"
    )
    print_metrics(result.metrics)
    print(f"saved to {path}")


def cmd_tune(args: argparse.Namespace) -> None:
    """`zoo tune`: run or resume a keras-tuner search and register its best model.

    Args:
        args: the parsed command line.
    """
    from zoo.tuning import records, search

    _check_registry(args)
    result = search.tune(
        args.task,
        tuner=args.tuner,
        directory=args.directory,
        max_trials=args.max_trials,
        epochs=args.epochs,
        dataset=dataset(args),
        seed=args.seed,
        fixed=hparams(args),
        choices=dict(args.choice or []),
        objective=args.objective,
        strategy=args.strategy,
        tensorboard=not args.no_tensorboard,
        overwrite=args.overwrite,
        name=args.name,
        registry_root=args.registry,
    )
    if result.saved is None and search.role() == "worker":
        print(
            f"worker {os.environ.get('KERASTUNER_TUNER_ID')} done; the chief registers the best model"
        )
        return
    print(records.table(records.load(result.directory)))
    print(f"search folder: {result.directory}")
    print(
        f"best model saved to {result.saved}"
        if result.saved
        else "no trial completed: nothing was saved"
    )


def cmd_search_report(args: argparse.Namespace) -> None:
    """`zoo search-report`: print a search's table and write its plot.

    Args:
        args: the parsed command line.
    """
    from zoo.tuning import records

    search = records.load(args.directory)
    plot = Path(args.plot or Path(search["project"]) / records.PLOT_FILE)
    records.plot(search, plot)
    print(records.table(search))
    print(f"plot written to {plot}")


def cmd_retrain(args: argparse.Namespace) -> None:
    """`zoo retrain`: fine-tune a registry model on new data and save it under a new name.

    Args:
        args: the parsed command line.
    """
    from zoo import registry
    from zoo.errors import ZooError
    from zoo.training.finetune import retrain

    _check_registry(args)
    data = dataset(args)
    if data is None:
        raise ZooError(
            "zoo retrain needs the data to fine-tune on: --data PATH --format FORMAT (your files), "
            "or --dataset NAME (e.g. --dataset embedded for the task's generated data)."
        )
    result = retrain(
        args.model,
        data,
        epochs=args.epochs,
        head_epochs=args.head_epochs,
        gradual_unfreezing=args.gradual_unfreezing,
        freeze_encoder=args.freeze_encoder,
        batch_size=args.batch_size,
        seed=args.seed,
        patience=args.patience,
        root=args.registry,
    )
    parent = result.retrain["parent"]
    path = registry.save(
        result, args.name or f"{parent.split('@')[0]}-retrained", root=args.registry
    )
    print(
        f"\n{parent} fine-tuned on {result.spec.tfds_name} in {result.seconds:.1f} s "
        f"({'new output head' if result.retrain['head_replaced'] else 'output head kept'}; words added: {result.retrain['vocabulary_added']})"
    )
    if result.retrain.get("labels"):
        labels = result.retrain["labels"]
        print(
            f"  labels: {', '.join(labels['parent'])} -> {', '.join(labels['new'])}"
            + (
                f" ({labels['parent_options']} -> {labels['new_options']})"
                if "new_options" in labels
                else ""
            )
            + ": the embedding and recurrent layers are the parent's, the head is new"
        )
    if result.retrain.get("label_scheme"):
        schemes = result.retrain["label_scheme"]
        print(
            "  "
            + ", ".join(
                f"{name}: {schemes['parent'][name]} -> {value}"
                for name, value in schemes["new"].items()
            )
            + ": the data's scheme, in which the model now predicts and is scored"
        )
    print_metrics(result.metrics)
    print(f"saved to {path}")


def cmd_demo(args: argparse.Namespace) -> None:
    """Train every task on its embedded data, save it, reload it and predict: the main job.

    Args:
        args: the parsed command line.
    """
    from zoo import registry
    from zoo.tasks.base import all_tasks
    from zoo.training.fit import train

    for name, task_cls in all_tasks().items():
        print(
            f"\n=== {name}: {task_cls.example} on {task_cls.datasets['embedded'].tfds_name} ({args.cell})"
        )
        result = train(
            name, epochs=args.epochs, hparams={"cell": args.cell}, seed=args.seed, verbose=2
        )
        print_metrics(result.metrics)
        path = registry.save(result, f"demo-{name}-{args.cell}", root=args.registry)
        loaded = registry.load(f"demo-{name}-{args.cell}@{path.name}", root=args.registry)
        examples = result.task.load("embedded", "test").take(2).as_numpy_iterator()
        for example in examples:
            raw = loaded.task.raw_input(example)
            shown = (
                raw if isinstance(raw, (str, list)) else f"<image {'x'.join(map(str, raw.shape))}>"
            )
            # a classifier's example carries its true label (`Task.load` adds `label_name`)
            truth = (
                f"  (true label: {example['label_name'].decode()})"
                if isinstance(example.get("label_name"), bytes)
                else ""
            )
            print(f"  predict({shown!r}) -> {loaded.predict(raw)}{truth}")
        print(f"  saved to {path}")


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add this group's sub-commands to the `zoo` parser.

    Args:
        sub: the `zoo` parser's sub-parsers.
    """
    p = sub.add_parser("tasks", help="list the five tasks and their datasets")
    p.set_defaults(func=cmd_tasks)

    p = sub.add_parser("train", help="train a task and save the model into the registry")
    data_options(p)
    model_options(p, "default: lstm")
    p.add_argument(
        "--list-hparams",
        action="store_true",
        help="list every hyperparameter the task's model reads, with its type, value (default "
        "or set), search range and the values --set allows, then exit (builds the model on "
        "the embedded data; add --set optimizer=sgd to see momentum)",
    )
    p.add_argument("--epochs", type=positive_int, help="epochs (default: the task's own)")
    p.add_argument("--batch-size", type=positive_int, help="batch size (default: the task's own)")
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR")
    p.add_argument(
        "--checkpoint-dir",
        metavar="DIR",
        help="where the state is backed up every epoch, in a folder of its own for this exact command "
        "(default: $ZOO_CHECKPOINTS or ~/.cache/rnn-zoo/checkpoints)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run of the same command from its last finished epoch; without it, "
        "a leftover checkpoint is discarded and training starts afresh",
    )
    p.add_argument(
        "--patience",
        type=positive_int,
        metavar="N",
        help="stop when the validation headline metric has not improved for N epochs; keep the best weights",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "tune",
        help="hyperparameter search with keras-tuner; the best model goes into the registry",
        description="Search a task's hyperparameters (its model builder declares the space; the batch size is "
        "searched too). The objective is the task's headline metric on validation (--objective to choose another). Rerun the same command to "
        "resume an interrupted search: finished trials are kept and the interrupted one runs again; a search resumes only "
        "with the task, data, tuner, --set, --choice, --epochs and --seed it was started with. Run the same "
        "command as a chief plus workers (KERASTUNER_TUNER_ID=chief|tuner0|tuner1..., KERASTUNER_ORACLE_IP, "
        "KERASTUNER_ORACLE_PORT, a shared --directory) to run trials in parallel.",
    )
    data_options(p)
    # trials run in parallel through keras-tuner's chief and workers, not data-parallel
    model_options(p, "default: searched", tuple(s for s in STRATEGIES if s != "data-parallel"))
    p.add_argument(
        "--tuner", choices=TUNERS, default="random", help="search algorithm (default: random)"
    )
    p.add_argument(
        "--max-trials",
        type=positive_int,
        default=10,
        metavar="N",
        help="number of trials (default: 10)",
    )
    p.add_argument(
        "--epochs",
        type=positive_int,
        help="epochs per trial; for hyperband the most any trial gets (default: the task's own)",
    )
    p.add_argument(
        "--directory",
        required=True,
        metavar="DIR",
        help="search folder: the state that resume and workers share",
    )
    p.add_argument(
        "--choice",
        type=choice,
        action="append",
        metavar="KEY=V1,V2",
        help="search only these values, e.g. --choice units=64,128 (repeatable)",
    )
    p.add_argument(
        "--objective",
        metavar="METRIC",
        help="validation metric to maximise (default: the task's headline metric); "
        "many-to-one also val_macro_f1, and val_micro_f1 for multi-label data",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh instead of resuming the search in --directory (to change its settings)",
    )
    p.add_argument(
        "--no-tensorboard",
        action="store_true",
        help="skip the TensorBoard logs (default: DIR/TASK/tensorboard, with the HParams dashboard)",
    )
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser(
        "search-report", help="table and plot of a search: score per trial and per hyperparameter"
    )
    p.add_argument(
        "directory",
        metavar="DIR",
        help="the --directory of `zoo tune`, or one search folder inside it",
    )
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="where to write the plot (default: search.png in the search folder)",
    )
    p.set_defaults(func=cmd_search_report)

    p = sub.add_parser(
        "retrain",
        help="fine-tune a registry model on your data; saved as a new model that names its parent",
        description="Fine-tune a registry model. Same label set: training continues. New label set: the output "
        "head is replaced, trained alone for --head-epochs, then the layers below it are unfrozen one per epoch "
        "from the top (--gradual-unfreezing), then everything trains together. Words the parent does not know "
        "are appended to its vocabulary (known words keep their ids and embeddings; new ones start as the "
        "parent's [UNK]). Training stops early on the validation split (--patience, default 3); without a "
        "validation split in the data, a seeded one is made.",
    )
    p.add_argument("model", help="the parent: NAME, NAME@VERSION or NAME:ALIAS")
    data_options(p, task=False, default=False)
    p.add_argument(
        "--epochs", type=positive_int, help="epochs of fine-tuning (default: the task's own)"
    )
    p.add_argument(
        "--head-epochs",
        type=non_negative_int,
        default=2,
        metavar="N",
        help="epochs that train a new output head alone first (default: 2)",
    )
    p.add_argument(
        "--gradual-unfreezing",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="after a new head's own epochs, unfreeze the layers below it one per epoch from "
        "the top (ULMFiT), then train everything (default: on)",
    )
    p.add_argument(
        "--freeze-encoder",
        action="store_true",
        help="train only the output head; every other layer stays frozen",
    )
    p.add_argument("--batch-size", type=positive_int, help="batch size (default: the parent's)")
    p.add_argument(
        "--seed",
        type=non_negative_int,
        default=0,
        help="random seed, recorded in the model card (default: 0)",
    )
    p.add_argument(
        "--patience",
        type=non_negative_int,
        metavar="N",
        help="stop when the validation headline metric has not improved for N epochs, keeping "
        "the best weights (default: 3; 0: train every epoch)",
    )
    p.add_argument(
        "--name",
        type=model_name,
        help="registry name of the fine-tuned model (default: PARENT-retrained)",
    )
    backend_option(p)
    registry_option(p)
    p.set_defaults(func=cmd_retrain)

    p = sub.add_parser(
        "demo", help="train, save, reload and predict every task on its embedded data (offline)"
    )
    p.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--epochs", type=positive_int, help="epochs per task (default: each task's own)")
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default: 0)")
    registry_option(p)
    p.set_defaults(func=cmd_demo)

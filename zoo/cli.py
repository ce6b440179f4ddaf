"""The `zoo` command line: a thin layer over the public API (no model logic here).

Expected failures (`ZooError`: unknown names, unreachable datasets, bad input) print a
one-line reason and exit with code 2; anything else is a bug and exits with code 1.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

EXIT_USAGE, EXIT_BUG = 2, 1
CELLS = ("simple_rnn", "lstm")  # mirrors zoo.task.CELLS without importing TensorFlow for --help
TUNERS = ("random", "hyperband", "bayesian")  # mirrors tuning.search.TUNERS
STRATEGIES = ("default", "mirrored")  # mirrors zoo.training.STRATEGIES
FORMATS = ("conll", "text-per-class", "csv", "parallel", "captions", "image-folder", "tfds")  # mirrors zoo.formats.FORMATS


def _hparam(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _choice(text: str) -> tuple[str, list[Any]]:
    key, _, values = text.partition("=")
    if not key or not values:
        raise argparse.ArgumentTypeError(f"expected KEY=V1,V2,..., got {text!r}")
    return key, [_hparam(f"{key}={v}")[1] for v in values.split(",")]


def _print_metrics(metrics: dict[str, dict[str, float]]) -> None:
    for split, values in metrics.items():
        shown = ", ".join(f"{k}={v:.4f}" for k, v in values.items() if isinstance(v, float))
        print(f"  {split}: {shown}")


def cmd_tasks(args: argparse.Namespace) -> None:
    from zoo.task import all_tasks

    print(f"{'task':<22} {'example':<26} {'metric':<10} datasets (--dataset)")
    for name, task in all_tasks().items():
        datasets = ", ".join(f"{k} ({v.tfds_name})" if k == "embedded" else k for k, v in task.datasets.items())
        print(f"{name:<22} {task.example:<26} {task.headline_metric:<10} {datasets}")


def _hparams(args: argparse.Namespace) -> dict[str, Any]:
    hparams = dict(args.set or [])
    if args.cell:
        hparams["cell"] = args.cell
    return hparams


def _dataset(args: argparse.Namespace) -> Any:
    """`--dataset KEY`, or the files of `--data` stored as a TFDS dataset."""
    from zoo.errors import ZooError

    if args.data:
        from zoo import formats

        return formats.prepare(
            args.data, args.format, encoding=args.encoding, columns=args.columns, source=args.source,
            target=args.target, image_size=args.image_size, rename=args.rename, seed=args.seed, licence=args.data_licence,
        )
    if args.format:
        raise ZooError("--format needs --data PATH.")
    return args.dataset


def _checkpoint_dir(args: argparse.Namespace) -> str:
    """The checkpoint folder of this exact training command: the same command finds it again."""
    import hashlib
    import shutil

    settings = {k: v for k, v in sorted(vars(args).items()) if k not in ("func", "resume", "checkpoint_dir", "tensorboard", "registry")}
    key = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]
    root = Path(args.checkpoint_dir or os.environ.get("ZOO_CHECKPOINTS") or Path.home() / ".cache" / "rnn-zoo" / "checkpoints")
    # a folder of its own under the root: discarding it (and Keras removing it when training
    # ends) never touches anything else there
    folder = root / f"{args.task}-{key}"
    if folder.exists() and not args.resume:
        print(f"discarding the checkpoint of an earlier, unfinished run in {folder} (add --resume to continue it)")
        shutil.rmtree(folder)
    elif args.resume:
        print(f"resuming from {folder}" if folder.exists() else f"nothing to resume in {folder}: starting afresh")
    return str(folder)


def cmd_train(args: argparse.Namespace) -> None:
    from zoo import registry
    from zoo.training import train

    result = train(
        args.task,
        dataset=_dataset(args),
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        hparams=_hparams(args),
        tensorboard=args.tensorboard,
        checkpoint_dir=_checkpoint_dir(args),
        patience=args.patience,
        strategy=args.strategy,
    )
    path = registry.save(result, args.name, root=args.registry)
    print(f"\n{result.task.name} ({result.hyperparameters['cell']}) on {result.spec.tfds_name}: "
          f"{len(result.history['loss'])} of {result.epochs} epochs in {result.seconds:.1f} s")
    _print_metrics(result.metrics)
    print(f"saved to {path}")


def cmd_tune(args: argparse.Namespace) -> None:
    from tuning import records, search

    result = search.tune(
        args.task,
        tuner=args.tuner,
        directory=args.directory,
        max_trials=args.max_trials,
        epochs=args.epochs,
        dataset=_dataset(args),
        seed=args.seed,
        fixed=_hparams(args),
        choices=dict(args.choice or []),
        strategy=args.strategy,
        tensorboard=not args.no_tensorboard,
        overwrite=args.overwrite,
        name=args.name,
        registry_root=args.registry,
    )
    if result.saved is None and search.role() == "worker":
        print(f"worker {os.environ.get('KERASTUNER_TUNER_ID')} done; the chief registers the best model")
        return
    print(records.table(records.load(result.directory)))
    print(f"search folder: {result.directory}")
    print(f"best model saved to {result.saved}" if result.saved else "no trial completed: nothing was saved")


def cmd_search_report(args: argparse.Namespace) -> None:
    from tuning import records

    search = records.load(args.directory)
    plot = Path(args.plot or Path(search["project"]) / records.PLOT_FILE)
    records.plot(search, plot)
    print(records.table(search))
    print(f"plot written to {plot}")


def cmd_retrain(args: argparse.Namespace) -> None:
    from zoo import registry
    from zoo.finetune import retrain

    result = retrain(
        args.model, _dataset(args), epochs=args.epochs, head_epochs=args.head_epochs, freeze_encoder=args.freeze_encoder,
        batch_size=args.batch_size, seed=args.seed, patience=args.patience, root=args.registry,
    )
    parent = result.retrain["parent"]
    path = registry.save(result, args.name or f"{parent.split('@')[0]}-retrained", root=args.registry)
    print(f"\n{parent} fine-tuned on {result.spec.tfds_name} in {result.seconds:.1f} s "
          f"({'new output head' if result.retrain['head_replaced'] else 'output head kept'}; words added: {result.retrain['vocabulary_added']})")
    _print_metrics(result.metrics)
    print(f"saved to {path}")


def cmd_predict(args: argparse.Namespace) -> None:
    from zoo import registry

    model = registry.load(args.model, root=args.registry)
    inputs = [model.task.parse_cli_input(text) for text in args.inputs]
    for text, output in zip(args.inputs, model.predict_batch(inputs)):
        print(json.dumps({"input": text, "output": output}, ensure_ascii=False))


def cmd_stream(args: argparse.Namespace) -> None:
    from zoo import registry
    from zoo.errors import BadInputError

    model = registry.load(args.model, root=args.registry)
    try:
        lines = sys.stdin if args.file == "-" else open(args.file, encoding="utf-8")  # noqa: SIM115
        with lines:
            for read, result in enumerate(model.stream(lines, window=args.window), 1):
                print(f"after window {read}: {json.dumps(result, ensure_ascii=False)}")
    except (OSError, UnicodeDecodeError) as err:
        raise BadInputError(f"cannot read {args.file} as UTF-8 text: {err}") from err


def cmd_models(args: argparse.Namespace) -> None:
    from zoo import registry

    for name in registry.list_models(args.pattern, root=args.registry):
        card = registry.verify(registry.resolve(name, root=args.registry)) if args.verbose else None
        print(name if card is None else f"{name}@{card['version']}  {card['task']}  {card['cell']}  "
              f"{card['headline_metric']}={card['metrics']['validation'][card['headline_metric']]:.4f}")


def cmd_info(args: argparse.Namespace) -> None:
    from zoo import registry

    path = registry.resolve(args.model, root=args.registry)
    print((path / registry.README_FILE).read_text())


def cmd_evaluate(args: argparse.Namespace) -> None:
    from zoo import registry

    model = registry.load(args.model, root=args.registry)
    dataset = model.task.dataset(args.dataset or model.training_dataset())
    metrics = model.evaluate(dataset, args.split)
    print(f"{model.name}@{model.version} on {dataset.tfds_name} ({args.split}):")
    _print_metrics({args.split: metrics})


def cmd_alias(args: argparse.Namespace) -> None:
    from zoo import registry

    path = registry.set_alias(args.model, args.alias, root=args.registry)
    print(f"{path.parent.name}:{args.alias} -> version {path.name}")


def cmd_export(args: argparse.Namespace) -> None:
    from zoo import registry
    from zoo.export import export

    model = registry.load(args.model, root=args.registry)
    path = export(model, args.output or f"{model.name}-{model.version}-{args.format}", format=args.format)
    print(f"exported {model.name}@{model.version} to {path} (signature 'serving_default')")


def cmd_demo(args: argparse.Namespace) -> None:
    """Train every task on its embedded data, save it, reload it and predict: the main job."""
    from zoo import registry
    from zoo.task import all_tasks
    from zoo.training import train

    for name, task_cls in all_tasks().items():
        print(f"\n=== {name}: {task_cls.example} on {task_cls.datasets['embedded'].tfds_name} ({args.cell})")
        result = train(name, epochs=args.epochs, hparams={"cell": args.cell}, seed=args.seed, verbose=2)
        _print_metrics(result.metrics)
        path = registry.save(result, f"demo-{name}-{args.cell}", root=args.registry)
        loaded = registry.load(f"demo-{name}-{args.cell}@{path.name}", root=args.registry)
        examples = result.task.load("embedded", "test").take(2).as_numpy_iterator()
        for example in examples:
            raw = loaded.task.raw_input(example)
            shown = raw if isinstance(raw, (str, list)) else f"<image {'x'.join(map(str, raw.shape))}>"
            print(f"  predict({shown!r}) -> {loaded.predict(raw)}")
        print(f"  saved to {path}")


def cmd_diagnose_gradients(args: argparse.Namespace) -> None:
    from zoo import diagnostics

    profiles = diagnostics.diagnose(
        args.targets, dataset=args.dataset, split=args.split, batch_size=args.batch_size, batches=args.batches,
        hparams=dict(args.set or []), seed=args.seed, root=args.registry,
    )
    for profile in profiles:
        print(profile.summary())
    print(f"plot: {diagnostics.plot(profiles, args.output)}")
    if args.json:
        Path(args.json).write_text(json.dumps([p.as_json() for p in profiles], indent=2))
        print(f"numbers: {args.json}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo",
        description="A Keras model zoo for recurrent sequence models (SimpleRNN and LSTM) in five input/output shapes.",
        epilog="Tasks: one-to-one, one-to-many, many-to-one, many-to-many-equal, many-to-many-unequal. "
        "Environment: ZOO_REGISTRY (registry folder), ZOO_DATA_DIR (TFDS data folder).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def registry_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--registry", metavar="DIR", help="registry folder (default: $ZOO_REGISTRY or saved_models/)")

    p = sub.add_parser("tasks", help="list the five tasks and their datasets")
    p.set_defaults(func=cmd_tasks)

    def data_options(p: argparse.ArgumentParser, *, task: bool = True) -> None:
        if task:
            p.add_argument("task", help="one of the five tasks (see `zoo tasks`)")
        p.add_argument("--dataset", default="embedded", help="'embedded' (offline, default) or the task's real TFDS dataset")
        files = p.add_argument_group("training on files instead of a TFDS dataset (see zoo.formats)")
        files.add_argument("--data", metavar="PATH", help="folder (or file) of your data; it is stored once as a TFDS dataset")
        files.add_argument("--format", choices=FORMATS, help="layout of --data (see the README's table of formats)")
        files.add_argument("--encoding", help="text encoding of the files (default: utf-8), e.g. latin-1")
        files.add_argument("--columns", help="conll: column names in order (default: 'tokens pos chunks ner'); "
                           "csv: the text and label columns (default: 'text,label')")
        files.add_argument("--source", help="parallel text: source language code, e.g. de")
        files.add_argument("--target", help="parallel text: target language code, e.g. en")
        files.add_argument("--image-size", type=int,
                           help="captions, image-folder: images are resized to this square size (default: 128, 32)")
        files.add_argument("--rename", metavar="MINE=THEIRS,...",
                           help="tfds: map the task's feature names to the dataset's, e.g. text=sentence,label=label")
        files.add_argument("--data-licence", metavar="TEXT", help="the data's terms of use, recorded in the model card")

    def model_options(p: argparse.ArgumentParser, verb: str) -> None:
        p.add_argument("--cell", choices=CELLS, help=f"recurrent cell ({verb})")
        p.add_argument("--set", type=_hparam, action="append", metavar="KEY=VALUE",
                       help="fix a hyperparameter, e.g. --set units=128 --set bidirectional=false (repeatable)")
        p.add_argument("--seed", type=int, default=0, help="random seed, recorded in the model card (default: 0)")
        p.add_argument("--strategy", choices=STRATEGIES, default="default",
                       help="'mirrored': tf.distribute.MirroredStrategy over this machine's GPUs (default: one device)")
        p.add_argument("--name", help="registry name of the saved model (default: TASK-CELL-DATASET)")
        registry_option(p)

    p = sub.add_parser("train", help="train a task and save the model into the registry")
    data_options(p)
    model_options(p, "default: lstm")
    p.add_argument("--epochs", type=int, help="epochs (default: the task's own)")
    p.add_argument("--batch-size", type=int, help="batch size (default: the task's own)")
    p.add_argument("--tensorboard", metavar="DIR", help="write TensorBoard logs to DIR")
    p.add_argument("--checkpoint-dir", metavar="DIR",
                   help="where the state is backed up every epoch, in a folder of its own for this exact command "
                   "(default: $ZOO_CHECKPOINTS or ~/.cache/rnn-zoo/checkpoints)")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run of the same command from its last finished epoch; without it, "
                   "a leftover checkpoint is discarded and training starts afresh")
    p.add_argument("--patience", type=int, metavar="N",
                   help="stop when the validation headline metric has not improved for N epochs; keep the best weights")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "tune", help="hyperparameter search with keras-tuner; the best model goes into the registry",
        description="Search a task's hyperparameters (its model builder declares the space; the batch size is "
        "searched too). The objective is the task's headline metric on validation. Rerun the same command to "
        "resume an interrupted search: finished trials are kept and the interrupted one runs again. Run the same "
        "command as a chief plus workers (KERASTUNER_TUNER_ID=chief|tuner0|tuner1..., KERASTUNER_ORACLE_IP, "
        "KERASTUNER_ORACLE_PORT, a shared --directory) to run trials in parallel.",
    )
    data_options(p)
    model_options(p, "default: searched")
    p.add_argument("--tuner", choices=TUNERS, default="random", help="search algorithm (default: random)")
    p.add_argument("--max-trials", type=int, default=10, metavar="N", help="number of trials (default: 10)")
    p.add_argument("--epochs", type=int, help="epochs per trial; for hyperband the most any trial gets (default: the task's own)")
    p.add_argument("--directory", required=True, metavar="DIR", help="search folder: the state that resume and workers share")
    p.add_argument("--choice", type=_choice, action="append", metavar="KEY=V1,V2",
                   help="search only these values, e.g. --choice units=64,128 (repeatable)")
    p.add_argument("--overwrite", action="store_true", help="start afresh instead of resuming the search in --directory")
    p.add_argument("--no-tensorboard", action="store_true",
                   help="skip the TensorBoard logs (default: DIR/TASK/tensorboard, with the HParams dashboard)")
    p.set_defaults(func=cmd_tune)

    p = sub.add_parser("search-report", help="table and plot of a search: score per trial and per hyperparameter")
    p.add_argument("directory", metavar="DIR", help="the --directory of `zoo tune`, or one search folder inside it")
    p.add_argument("--plot", metavar="PNG", help="where to write the plot (default: search.png in the search folder)")
    p.set_defaults(func=cmd_search_report)

    p = sub.add_parser(
        "retrain", help="fine-tune a registry model on your data; saved as a new model that names its parent",
        description="Fine-tune a registry model. Same label set: training continues. New label set: the output "
        "head is replaced, trained alone for --head-epochs, then everything trains together. Words the parent "
        "does not know are appended to its vocabulary (known words keep their ids and embeddings). Without a "
        "validation split in the data, a seeded one is made.",
    )
    p.add_argument("model", help="the parent: NAME, NAME@VERSION or NAME:ALIAS")
    data_options(p, task=False)
    p.add_argument("--epochs", type=int, help="epochs of fine-tuning (default: the task's own)")
    p.add_argument("--head-epochs", type=int, default=2, metavar="N",
                   help="epochs that train a new output head alone first (default: 2)")
    p.add_argument("--freeze-encoder", action="store_true", help="train only the output head; every other layer stays frozen")
    p.add_argument("--batch-size", type=int, help="batch size (default: the parent's)")
    p.add_argument("--seed", type=int, default=0, help="random seed, recorded in the model card (default: 0)")
    p.add_argument("--patience", type=int, metavar="N", help="early stopping on the validation headline metric")
    p.add_argument("--name", help="registry name of the fine-tuned model (default: PARENT-retrained)")
    registry_option(p)
    p.set_defaults(func=cmd_retrain)

    p = sub.add_parser("predict", help="predict with a registry model on raw inputs")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a sentence, a JSON token list, or an image path, depending on the task")
    registry_option(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser(
        "stream", help="read a long text in windows, carrying the hidden state (stateful many-to-one models)",
        description="Score a document of any length, or text as it arrives, with a stateful copy of a unidirectional "
        "many-to-one model: prints the prediction on everything read so far after each window of tokens.",
    )
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS (trained with --set bidirectional=false)")
    p.add_argument("file", metavar="FILE", help="text file to read, or - for standard input")
    p.add_argument("--window", type=int, metavar="N", help="tokens per window (default: the model's max_tokens)")
    registry_option(p)
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("models", help="list registry models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style wildcard, e.g. '*lstm*'")
    p.add_argument("-v", "--verbose", action="store_true", help="show version, task, cell and headline metric")
    registry_option(p)
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("info", help="show a registry model's card")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    registry_option(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("evaluate", help="measure a registry model on a dataset split")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument("--dataset", help="one of the task's datasets (default: the one it was trained on)")
    p.add_argument("--split", choices=("train", "validation", "test"), default="test", help="split role (default: test)")
    registry_option(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("alias", help="point an alias (e.g. production) at a model version")
    p.add_argument("model", help="NAME@VERSION (or NAME:ALIAS) to point at")
    p.add_argument("alias", help="the alias to set; 'latest' and 'best' are kept by the registry")
    registry_option(p)
    p.set_defaults(func=cmd_alias)

    p = sub.add_parser("export", help="export a registry model for TensorFlow Serving")
    p.add_argument("model", help="NAME, NAME@VERSION or NAME:ALIAS")
    p.add_argument("--format", choices=("savedmodel",), default="savedmodel", help="export format (default: savedmodel)")
    p.add_argument("--output", metavar="DIR", help="new folder to write (default: NAME-VERSION-FORMAT)")
    registry_option(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("diagnose", help="diagnose a model's training dynamics (gradients through time)")
    what = p.add_subparsers(dest="diagnosis", required=True, metavar="DIAGNOSIS")
    p = what.add_parser(
        "gradients",
        help="per-step gradient norms ||dL/dx_t||: vanishing or exploding, and a clipnorm to use",
        description="Measure, on real batches, the gradient of the loss with respect to the input of the first "
        "recurrent layer at every time step, aligned by distance from each sequence's last step. Prints the "
        "decay rate per step, flags exploding gradients and recommends a clipnorm (the median weight-gradient "
        "norm); writes a log-scale plot with one panel per model.",
    )
    p.add_argument("targets", nargs="+", metavar="NAME|TASK",
                   help="registry models (NAME, NAME@VERSION or NAME:ALIAS; a single one is shown beside its "
                   "sibling with the other cell), or one task: a freshly built SimpleRNN and LSTM side by side")
    p.add_argument("--dataset", help="the task's dataset to measure on (default: the model's training data; "
                   "'embedded' for a task)")
    p.add_argument("--split", choices=("train", "validation", "test"), default="validation", help="split role (default: validation)")
    p.add_argument("--batch-size", type=int, default=32, help="sequences per batch (default: 32)")
    p.add_argument("--batches", type=int, default=8, metavar="N", help="batches to measure (default: 8)")
    p.add_argument("--set", type=_hparam, action="append", metavar="KEY=VALUE",
                   help="hyperparameter of a freshly built task model (repeatable), e.g. bidirectional=false")
    p.add_argument("--seed", type=int, default=0, help="seed of the fresh models' initial weights (default: 0)")
    p.add_argument("--output", default="gradients.png", metavar="PNG", help="plot file (default: gradients.png)")
    p.add_argument("--json", metavar="FILE", help="also write the measured numbers as JSON")
    registry_option(p)
    p.set_defaults(func=cmd_diagnose_gradients)

    p = sub.add_parser("demo", help="train, save, reload and predict every task on its embedded data (offline)")
    p.add_argument("--cell", choices=CELLS, default="lstm", help="recurrent cell (default: lstm)")
    p.add_argument("--epochs", type=int, help="epochs per task (default: each task's own)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    registry_option(p)
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from zoo.errors import ZooError

    try:
        args.func(args)
    except ZooError as err:
        print(f"zoo: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("zoo: interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001  (the CLI's last line of defence: report the bug)
        traceback.print_exc()
        print("zoo: unexpected error (a bug): please report it with the trace above.", file=sys.stderr)
        return EXIT_BUG
    return 0


if __name__ == "__main__":
    sys.exit(main())

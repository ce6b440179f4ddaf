"""Choice lists shared by the command line and the library, without importing TensorFlow.

`zoo --help` and argument checking read these names before any heavy import; the modules
that implement each choice import the same tuples, so there is one list of each.
"""

from __future__ import annotations

#: recurrent cells, the hyperparameter `cell` of every task
CELLS: tuple[str, ...] = ("simple_rnn", "lstm", "gru")
#: each cell as Keras names its layer, for tables and plots
CELL_LABELS: dict[str, str] = {"simple_rnn": "SimpleRNN", "lstm": "LSTM", "gru": "GRU"}
#: optimizers of every task's model, the hyperparameter `optimizer` (`zoo.models.layers.compile_model`)
OPTIMIZERS: tuple[str, ...] = ("adam", "sgd")
#: how the tagger reads a word's characters (`char_encoder`): a bidirectional recurrent
#: layer or a convolution with max pooling (`zoo.models.custom_layers.CharacterEncoder`)
CHARACTER_ENCODERS: tuple[str, ...] = ("rnn", "cnn")
#: the classifier's `class_weight` hyperparameter: no weights, or scikit-learn's "balanced"
#: weights (`zoo.training.classification.class_weights`)
CLASS_WEIGHTS: tuple[str, ...] = ("none", "balanced")
#: keras-tuner search algorithms of `zoo tune --tuner`
TUNERS: tuple[str, ...] = ("random", "hyperband", "bayesian")
#: how `--strategy` spreads training: one device, `tf.distribute.MirroredStrategy` over one
#: machine's GPUs (TensorFlow), or `keras.distribution.DataParallel` across processes (JAX)
STRATEGIES: tuple[str, ...] = ("default", "mirrored", "data-parallel")
#: the layouts of users' files whose files hold a text and its class label(s)
#: (`zoo.data.formats._labels`); their readers take `stratify`
CLASSIFICATION_FORMATS: tuple[str, ...] = (
    "text-per-class",
    "csv",
    "jsonl",
    "text-folder",
    "trec",
    "fasttext",
)
#: layouts of users' files that `zoo.prepare` turns into TFDS datasets (`--format`)
FORMATS: tuple[str, ...] = (
    "conll",
    *CLASSIFICATION_FORMATS,
    "parallel",
    "captions",
    "image-folder",
    "tfds",
)
#: split roles a task's dataset maps onto TFDS splits
SPLITS: tuple[str, ...] = ("train", "validation", "test")
#: the split role of every example of a dataset, its splits together (`zoo evaluate --split all`)
ALL_EXAMPLES = "all"
#: formats of `zoo predict --input FILE`: one input a line, a JSONL field, a CSV/TSV column
INPUT_FORMATS: tuple[str, ...] = ("lines", "jsonl", "csv")
#: metrics that count examples or tokens whose gold label or tag the model does not know
#: (`evaluate` adds them only when there are any); shown as whole numbers
COUNT_METRICS: tuple[str, ...] = ("unknown_labels", "unknown_tags")
#: export formats of `zoo export`: a TensorFlow SavedModel, ONNX, LiteRT (`zoo.registry.export`)
EXPORT_FORMATS: tuple[str, ...] = ("savedmodel", "onnx", "litert")
#: the backends of `zoo serve --runtime`: the zoo itself (TensorFlow), or exported ONNX
#: folders through the TensorFlow-free runtime
SERVE_RUNTIMES: tuple[str, ...] = ("zoo", "onnx")
#: quantisations of `zoo export --quantize` (ONNX Runtime's dynamic int8 quantisation)
QUANTIZATIONS: tuple[str, ...] = ("int8",)

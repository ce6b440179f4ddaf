"""The first rooms of the data flow: TFDS builders and users' files in, `tf.data` out.

- `loading`: TFDS access (real datasets, with a clear error offline) and dataset info;
- `builders`: the zoo's own offline TFDS builders, one per task shape;
- `formats`: users' files (CoNLL, CSV, JSONL, TREC, fastText, parallel text, text and image
  folders, ...) stored as TFDS datasets, one module a format;
- `text`, `images`: the shared text and image preparation the tasks build on;
- `pipeline`: batching, bucketing and padding for `fit`.
"""

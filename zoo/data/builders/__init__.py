"""Small offline TFDS datasets, one per sequence-task shape.

The real datasets (mnist, coco_captions, imdb_reviews, conll2003,
ted_hrlr_translate/pt_to_en) cannot be downloaded on an offline machine, so
each builder here generates a deterministic stand-in with the same feature
names. Task preprocessing therefore works unchanged on either.

Importing this package registers the builders with TFDS, after which
``tfds.load("zoo_digits")`` etc. work:

    one-to-one            zoo_digits
    one-to-many           zoo_shapes_captions
    many-to-one           zoo_reviews
    many-to-many-equal    zoo_ner
    many-to-many-unequal  zoo_numbers_translate

plus `zoo_adding`, the adding problem (a long-range memory benchmark, one config per
sequence length), used by `benchmarks/long_range.py`.
"""

from zoo.data.builders.zoo_adding.zoo_adding import ZooAdding
from zoo.data.builders.zoo_digits.zoo_digits import ZooDigits
from zoo.data.builders.zoo_ner.zoo_ner import ZooNer
from zoo.data.builders.zoo_numbers_translate.zoo_numbers_translate import (
    ZooNumbersTranslate,
)
from zoo.data.builders.zoo_reviews.zoo_reviews import ZooReviews
from zoo.data.builders.zoo_shapes_captions.zoo_shapes_captions import (
    ZooShapesCaptions,
)

__all__ = [
    "ZooAdding",
    "ZooDigits",
    "ZooNer",
    "ZooNumbersTranslate",
    "ZooReviews",
    "ZooShapesCaptions",
]

"""The `zoo_ner` TFDS builder (registered on import)."""

from zoo.data.builders.zoo_ner.zoo_ner import ZooNer

__all__ = ["ZooNer"]

"""The `zoo_numbers_translate` TFDS builder (registered on import)."""

from zoo.data.builders.zoo_numbers_translate.zoo_numbers_translate import ZooNumbersTranslate

__all__ = ["ZooNumbersTranslate"]

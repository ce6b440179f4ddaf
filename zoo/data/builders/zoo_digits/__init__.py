"""The `zoo_digits` TFDS builder (registered on import)."""

from zoo.data.builders.zoo_digits.zoo_digits import ZooDigits

__all__ = ["ZooDigits"]

"""The `zoo_adding` TFDS builder (registered on import)."""

from zoo.data.builders.zoo_adding.zoo_adding import ZooAdding

__all__ = ["ZooAdding"]

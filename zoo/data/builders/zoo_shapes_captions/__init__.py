"""The `zoo_shapes_captions` TFDS builder (registered on import)."""

from zoo.data.builders.zoo_shapes_captions.zoo_shapes_captions import ZooShapesCaptions

__all__ = ["ZooShapesCaptions"]

"""The `zoo_reviews` TFDS builder (registered on import)."""

from zoo.data.builders.zoo_reviews.zoo_reviews import ZooReviews

__all__ = ["ZooReviews"]

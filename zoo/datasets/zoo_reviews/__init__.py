"""The `zoo_reviews` TFDS builder (registered on import)."""

from zoo.datasets.zoo_reviews.zoo_reviews import ZooReviews

__all__ = ["ZooReviews"]

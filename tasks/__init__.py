"""One module per recurrent architecture; importing this package registers all five."""
from tasks import many_to_many_equal, many_to_many_unequal, many_to_one, one_to_many, one_to_one  # noqa: F401

"""One module per recurrent architecture; importing this package registers all five,
in the seed's order (which is the order `zoo tasks` lists them in)."""
from tasks import one_to_one  # noqa: F401, I001
from tasks import one_to_many  # noqa: F401
from tasks import many_to_one  # noqa: F401
from tasks import many_to_many_equal  # noqa: F401
from tasks import many_to_many_unequal  # noqa: F401

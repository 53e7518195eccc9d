"""Seeded scenario generators for the product's situations, each with documented ground truth."""

from tabloop.examples._events import CUSTOMER_EVENTS_TRUTH, customer_events
from tabloop.examples._projects import example_project
from tabloop.examples._spend import CUSTOMER_SPEND_TRUTH, customer_spend
from tabloop.examples._stops import TRAFFIC_STOPS_TRUTH, traffic_stops
from tabloop.examples._treatment import TREATMENT_MISSING, TREATMENT_TRUTH, treatment_outcomes


def scenario_config(name: str) -> str:
    """The ``tabloop.yaml`` text shipped for a scenario (``treatment`` or ``stops``).

    Examples
    --------
    >>> from tabloop.examples import scenario_config
    >>> "imputation: knn" in scenario_config("treatment")
    True
    """
    from importlib.resources import files

    from tabloop.exceptions import ConfigNotFoundError

    path = files("tabloop.examples") / "configs" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigNotFoundError(f"No shipped scenario config {name!r}; known: treatment, stops.")
    return path.read_text(encoding="utf-8")


__all__ = [
    "CUSTOMER_EVENTS_TRUTH",
    "CUSTOMER_SPEND_TRUTH",
    "TRAFFIC_STOPS_TRUTH",
    "TREATMENT_MISSING",
    "TREATMENT_TRUTH",
    "customer_events",
    "customer_spend",
    "example_project",
    "scenario_config",
    "traffic_stops",
    "treatment_outcomes",
]

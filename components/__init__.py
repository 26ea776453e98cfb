"""KFP v2 components: one per step of the step table (``streampro/steps.py``), made by
``components/factory.py``, each a thin call of the step's library entry point in the project's images
(names from params.yaml ``orchestration``)."""
from components.factory import components_of
from streampro.steps import STEPS

COMPONENTS = components_of(STEPS)
globals().update(COMPONENTS)  # components.synth, components.slice, ...

__all__ = ["COMPONENTS", *COMPONENTS]

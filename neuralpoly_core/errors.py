"""Exception types of neuralpoly_core.

Every error a user can trigger with bad input derives from :class:`NeuralPolyError`
(itself a :class:`ValueError`), so callers such as the Blender add-on and the CLI can
catch one type and show its message.
"""


class NeuralPolyError(ValueError):
    """Base class of all user-facing errors of neuralpoly."""


class TypeSpecError(NeuralPolyError):
    """An architecture type such as ``(4,2;1)`` is malformed or invalid."""


class ModelFormatError(NeuralPolyError):
    """A model file or model dictionary does not follow the neuralpoly.model format."""


class TrainingDivergedError(NeuralPolyError):
    """Training produced a non-finite loss or parameters."""


class ExtractionError(NeuralPolyError):
    """A level set could not be extracted with the requested method."""


class Cancelled(Exception):
    """Raised inside long computations when the caller asked to cancel."""

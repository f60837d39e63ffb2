"""``@noaiguard_exempt``: views noaiguard must never touch."""

from __future__ import annotations

from typing import Any, TypeVar

V = TypeVar("V")

_ATTRIBUTE = "noaiguard_exempt"


def noaiguard_exempt(view: V) -> V:
    """Mark a view (a function, or a class-based view's class) as one noaiguard leaves alone.

    Its responses get no signals and no tag, its requests are never refused, and nothing is
    recorded: for a health check, a webhook, an API that has its own clients. Like Django's
    ``csrf_exempt``, it marks the view rather than wrapping it::

        @noaiguard_exempt
        def health(request): ...

        @noaiguard_exempt
        class Webhook(View): ...
    """
    setattr(view, _ATTRIBUTE, True)
    return view


def is_exempt(view: Any) -> bool:
    """Whether a resolved view function (or the class it was made from) is exempt."""
    if getattr(view, _ATTRIBUTE, False):
        return True
    return bool(getattr(getattr(view, "view_class", None), _ATTRIBUTE, False))

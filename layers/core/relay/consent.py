"""Consent (Segment consent spec): which integrations an event may reach."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def allows(
    preferences: Mapping[str, object] | None, required: Iterable[str], *, require_consent: bool = False
) -> bool:
    """True when every required category is `true` in the event's categoryPreferences (category names
    compared case-insensitively and trimmed).

    Only JSON `true` grants: "true", "yes", "on", "1", 1 and every other value do not (the event is
    then skipped for consent, not rejected). An event without a consent object is allowed unless
    `require_consent` is set.
    """
    if preferences is None:
        return not require_consent
    for name in required:
        if preferences.get(name) is not True:
            break
    else:  # every category spelled as configured: no folding needed
        return True
    granted = {name.strip().lower() for name, value in preferences.items() if value is True}
    return all(name.strip().lower() in granted for name in required)


# The category an ad platform's browser and click ids (fbp, fbc) belong to in Segment's consent spec.
ADVERTISING = "advertising"


def refuses(preferences: Mapping[str, object] | None, category: str = ADVERTISING) -> bool:
    """True when the event's categoryPreferences name `category` (as spelled, or case-insensitively)
    with any value but JSON `true`: consent was asked and not given. No object, or no such key: False."""
    if not preferences:
        return False
    if category in preferences:
        return preferences[category] is not True
    wanted = category.strip().lower()
    for name, value in preferences.items():
        if name.strip().lower() == wanted:
            return value is not True
    return False

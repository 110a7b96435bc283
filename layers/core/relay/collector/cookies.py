"""First-party cookies the collector reads and sets: Meta's `_fbp` / `_fbc` and Relay's `_df_aid`.

Rules (Meta's fbp-and-fbc page, its parameter builder): `_fbp` is kept when valid and created when absent
(`fb.1.{ms}.{random}`); `_fbc` is created or replaced when the page URL (else the Referer) carries an
fbclid that differs from the cookie's (case untouched), kept otherwise. Each is set again on every answer
to a browser, so its 90 days run from the last visit; none is HttpOnly: Meta's Pixel reads `_fbp` and
`_fbc`, df.js reads `_df_aid`. Only requests from a browser (an Origin header) get cookies.
"""

from __future__ import annotations

import random
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from relay import identity

FBP = "_fbp"
FBC = "_fbc"
ANONYMOUS_ID = "_df_aid"
# Meta and its parameter builder keep _fbp / _fbc for 90 days (max_age 7776000).
COOKIE_MAX_AGE_S = 90 * 24 * 3600
# An anonymous id Relay reads back from its cookie: what uuid4 (and Segment's clients) write, bounded.
_ANONYMOUS_ID = re.compile(r"[A-Za-z0-9_\-]{8,64}")


def set_cookie(name: str, value: str, *, domain: str | None, secure: bool = True) -> str:
    """A Set-Cookie value: 90 days, Path=/, SameSite=Lax, Secure, Domain when given."""
    parts = [f"{name}={value}", f"Max-Age={COOKIE_MAX_AGE_S}", "Path=/"]
    if domain:
        parts.append(f"Domain={domain.lstrip('.')}")
    if secure:
        parts.append("Secure")
    parts.append("SameSite=Lax")
    return "; ".join(parts)


@dataclass
class Jar:
    """One browser's identifiers during one request (a batch's events share them), and what to set."""

    fbp: str | None = None
    fbc: str | None = None
    anonymous_id: str | None = None
    # Meta's subdomainIndex of the domain the cookies are saved on (identity.subdomain_index).
    index: int = identity.SERVER_SUBDOMAIN_INDEX
    to_set: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_cookies(cls, cookies: Mapping[str, str], *, domain: str | None = None) -> Jar:
        """The jar of a request's cookies; `domain` is where the answer's cookies will be saved."""
        aid = cookies.get(ANONYMOUS_ID)
        return cls(
            fbp=identity.valid_cookie(cookies.get(FBP)),
            fbc=identity.valid_cookie(cookies.get(FBC)),
            anonymous_id=aid if aid and _ANONYMOUS_ID.fullmatch(aid) else None,
            index=identity.subdomain_index(domain),
        )

    def browser_id(self, now_ms: int, rng: random.Random | None = None) -> str:
        """The browser's fbp: the valid cookie's, else a new one; set on the answer either way."""
        if self.fbp is None:
            self.fbp = identity.new_fbp(now_ms, rng, self.index)
        self.to_set[FBP] = self.fbp
        return self.fbp

    def click_id(self, sent: str | None, url: str | None, now_ms: int) -> str | None:
        """The fbc: Meta's rule over the event's own fbc (else the cookie's) and the URL's fbclid."""
        current = identity.valid_cookie(sent) or self.fbc
        resolved = identity.resolve_fbc(current, url, now_ms, self.index)
        if resolved is not None:
            self.fbc = resolved
            self.to_set[FBC] = resolved
        return resolved

    def anonymous(self, new_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> str:
        """The browser's anonymous id: the cookie's, else a new one; set on the answer either way."""
        if self.anonymous_id is None:
            self.anonymous_id = new_id()
        self.to_set[ANONYMOUS_ID] = self.anonymous_id
        return self.anonymous_id

    def seen_anonymous(self, sent: str) -> None:
        """The event carries its own anonymous id (df.js keeps one): it becomes the cookie when there is
        none, and the cookie's own is set again (its 90 days start over); another cookie is left alone."""
        if self.anonymous_id is None and _ANONYMOUS_ID.fullmatch(sent):
            self.anonymous_id = sent
        if sent == self.anonymous_id:
            self.to_set[ANONYMOUS_ID] = sent

    def headers(self, *, domain: str | None, secure: bool = True) -> list[str]:
        return [set_cookie(n, v, domain=domain, secure=secure) for n, v in self.to_set.items()]

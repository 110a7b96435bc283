"""/v1/admin/sources: create (the write key shown once), list, read, patch, delete, rotate-key.

A source with integrations cannot be deleted (409): delete or move its integrations first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel

from relay.api.audit import record
from relay.api.integrations import IfMatch, answers, etag, if_match_version
from relay.api.problems import JSON
from relay.errors import Conflict
from relay.integrations import decode_cursor, encode_cursor
from relay.sources import Issued, Source, SourceInput, SourcePatch

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter

    from relay.api.deps import AdminDeps

PREFIX = "/v1/admin/sources"
SourceId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]


class IssuedSource(Source):
    """A source with its write key: only in the create and rotate-key answers, never again."""

    write_key: str


class SourcePage(BaseModel):
    items: list[Source]
    next_cursor: str | None = None


def routes(router: APIGatewayHttpRouter, deps: AdminDeps) -> None:
    """Add the sources routes to `router`, closing over `deps`."""

    def audit(action: str, source_id: str) -> None:
        record(deps, router.current_event.headers, action, source_id)

    def issued(found: Issued, status: int, **headers: str) -> Response[IssuedSource]:
        source = found.source
        body = IssuedSource(**source.model_dump(), write_key=found.write_key)
        # no-store: the write key must not rest in a cache on the way
        return Response(
            status, JSON, body, headers={"ETag": etag(source.version), "Cache-Control": "no-store", **headers}
        )

    @router.post(
        PREFIX,
        summary="Create a source (its write key is in this answer only)",
        responses=answers(201, "created"),
    )
    def create(body: SourceInput) -> Response[IssuedSource]:
        found = deps.sources.create(body)
        audit("source.create", found.source.id)
        return issued(found, 201, Location=f"{PREFIX}/{found.source.id}")

    @router.get(PREFIX, summary="List sources", responses=answers())
    def list_sources(
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=2048)] = None,
    ) -> SourcePage:
        items, last = deps.sources.page(limit=limit, cursor=decode_cursor(cursor) if cursor else None)
        return SourcePage(items=items, next_cursor=encode_cursor(last) if last else None)

    @router.get(f"{PREFIX}/<source_id>", summary="Read a source", responses=answers())
    def read(source_id: SourceId) -> Response[Source]:
        source = deps.sources.get(source_id)
        return Response(200, JSON, source, headers={"ETag": etag(source.version)})

    @router.patch(f"{PREFIX}/<source_id>", summary="Change a source (JSON merge patch)", responses=answers())
    def patch(source_id: SourceId, body: SourcePatch, if_match: IfMatch = None) -> Response[Source]:
        source = deps.sources.update(
            source_id, body.model_dump(exclude_unset=True), expected_version=if_match_version(if_match)
        )
        audit("source.update", source_id)
        return Response(200, JSON, source, headers={"ETag": etag(source.version)})

    @router.post(
        f"{PREFIX}/<source_id>/rotate-key",
        summary="Issue a new write key (the old one stops at once)",
        responses=answers(),
    )
    def rotate_key(source_id: SourceId, if_match: IfMatch = None) -> Response[IssuedSource]:
        found = deps.sources.rotate_key(source_id, expected_version=if_match_version(if_match))
        audit("source.rotate_key", source_id)
        return issued(found, 200)

    @router.delete(
        f"{PREFIX}/<source_id>",
        summary="Delete a source without integrations",
        responses=answers(204, "deleted", empty=True),
    )
    def delete(source_id: SourceId, if_match: IfMatch = None) -> Response[None]:
        deps.sources.get(source_id)  # 404 first
        attached, _ = deps.store.page(source_id=source_id, limit=1)
        if attached:
            raise Conflict(
                f"source {source_id} still has integrations (e.g. {attached[0].id}): delete them first"
            )
        deps.sources.delete(source_id, expected_version=if_match_version(if_match))
        audit("source.delete", source_id)
        return Response(204, None, None)

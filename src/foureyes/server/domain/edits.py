"""Edit before approve: a reviewer may approve other arguments than the agent asked for, only
where the request allows it (the create-body extension ``allow_edit``), and only in an approval.
The edited arguments are what the receipt is signed over and what our SDK runs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foureyes._receipts import canonical_json
from foureyes.server.domain.errors import ValidationFailedError, field_error
from foureyes.storage import ItemRecord

ALLOW_EDIT = "allow_edit"
FIELD = "edited_kwargs"


def requested_allow_edit(payload: Mapping[str, Any]) -> bool:
    """Whether a create body allows edits (``allow_edit``: true, false or absent/null)."""
    raw = payload.get(ALLOW_EDIT)
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise ValidationFailedError(
            "allow_edit must be true or false", [field_error(["body", ALLOW_EDIT], "must be a boolean")]
        )
    return raw


def checked_edit(
    item: ItemRecord, *, approved: bool, edited_kwargs: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The edited arguments to record, or None when there is no edit (also when they equal the
    requested ones); ``ValidationFailedError`` when the edit is not allowed."""
    if edited_kwargs is None:
        return None
    if not item.allow_edit:
        raise ValidationFailedError(
            f"{item.call_id!r} does not allow edits: it was created without allow_edit, so only "
            "its own arguments can be approved",
            [field_error(["body", FIELD], "this request does not allow edits; leave it out or null")],
        )
    if not approved:
        raise ValidationFailedError(
            "edited arguments only apply to an approval",
            [field_error(["body", FIELD], "must be null when approved is false")],
        )
    edited = dict(edited_kwargs)
    try:
        wanted = canonical_json(edited)  # the receipt is signed over its canonical form
    except ValueError as exc:
        raise ValidationFailedError(str(exc), [field_error(["body", FIELD], str(exc))]) from None
    # Compared as canonical JSON: in Python True == 1, in JSON they differ.
    try:
        unchanged = wanted == canonical_json(item.spec.get("kwargs"))
    except ValueError:
        unchanged = False
    return None if unchanged else edited

"""``Keys``: API keys for agents and personal tokens for reviewers, and authenticating them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from foureyes.server import auth
from foureyes.server.domain.errors import InvalidParameterError, NotFoundError, UnauthorizedError
from foureyes.server.domain.events import Emitter, SettingsChanged
from foureyes.server.people import People
from foureyes.storage import ApiKeyRecord, Database, ProjectRecord, Tx
from foureyes.storage import keys as key_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreatedKey:
    """A new API key. ``plaintext`` exists only here: the database keeps its hash."""

    id: int
    prefix: str
    plaintext: str
    project: str
    scopes: tuple[str, ...]
    name: str | None


class Keys:
    def __init__(
        self,
        db: Database,
        emitter: Emitter,
        people: People,
        clock: Callable[[], datetime],
        *,
        on_revoked: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._emitter = emitter
        self._people = people
        self._clock = clock
        # Called after a commit that revoked a key, so its open streams are closed.
        self._on_revoked = on_revoked

    def _insert(
        self, tx: Tx, project: ProjectRecord, name: str | None, scopes: tuple[str, ...], user_id: int | None
    ) -> tuple[ApiKeyRecord, str]:
        plaintext = auth.generate_key()
        now = self._clock()
        key = key_rows.insert_key(
            tx.conn,
            project=project,
            name=name,
            prefix=auth.display_prefix(plaintext),
            key_hash=auth.hash_key(plaintext),
            scopes=scopes,
            now=now,
            user_id=user_id,
        )
        self._emitter.emit(
            tx,
            SettingsChanged(
                project_id=project.id,
                at=now,
                actor_user_id=user_id,
                channel="admin" if user_id is None else "inbox",
                what="key_created",
                details={"key_id": key.id, "prefix": key.prefix, "scopes": list(scopes), "name": name},
            ),
        )
        return key, plaintext

    def create_api_key(
        self,
        project: str = "default",
        scopes: Sequence[str] = (auth.AGENT,),
        name: str | None = None,
        owner: str | None = None,
    ) -> CreatedKey:
        """A new key for ``project`` (created if missing); InvalidParameterError on a bad slug or scope.
        ``owner``: the address of the person the key acts for (a member of the project): what it
        creates, they may not approve; it works only while they keep a role there."""
        if not auth.PROJECT_SLUG.match(project):
            raise InvalidParameterError(
                f"invalid project name {project!r}: use letters, digits, '.', '_' or '-' (at most 100)"
            )
        wanted = tuple(dict.fromkeys(scopes))
        unknown = sorted(set(wanted) - set(auth.SCOPES))
        if not wanted or unknown:
            raise InvalidParameterError(f"scopes must be a non-empty subset of {', '.join(auth.SCOPES)}")
        owner_id = None if owner is None else self._people.find_user(owner).id
        with self._db.write() as tx:
            record = key_rows.ensure_project(tx.conn, project, now=self._clock())
            if owner_id is not None and self._people.role_in(owner_id, record.id) is None:
                raise InvalidParameterError(f"{owner} has no role in project {project!r}")
            key, plaintext = self._insert(tx, record, name, wanted, owner_id)
        logger.info("API key %s created for project %r with scopes %s", key.prefix, project, ",".join(wanted))
        return CreatedKey(key.id, key.prefix, plaintext, record.slug, wanted, name)

    def list_api_keys(self, project: str | None = None) -> list[ApiKeyRecord]:
        with self._db.read() as conn:
            found = key_rows.list_keys(conn)
        return [k for k in found if project is None or k.project_slug == project]

    def revoke_api_key(self, key_id: int) -> bool:
        now = self._clock()
        with self._db.write() as tx:
            key = key_rows.get_key(tx.conn, key_id)
            revoked = key_rows.revoke_key(tx.conn, key_id, now=now)
            if revoked and key is not None:
                self._emitter.emit(
                    tx,
                    SettingsChanged(
                        project_id=key.project_id,
                        at=now,
                        channel="admin",
                        what="key_revoked",
                        details={"key_id": key_id, "prefix": key.prefix},
                    ),
                )
                tx.after_commit(self._on_revoked)
        if revoked:
            logger.info("API key %d revoked", key_id)
        return revoked

    def authenticate(self, token: str) -> auth.Principal:
        with self._db.read() as conn:
            key = key_rows.find_key(conn, auth.hash_key(token))
        if key is None:
            raise UnauthorizedError("unknown API key")
        if key.revoked_at is not None:
            raise UnauthorizedError("this API key has been revoked")
        if key.user_id is not None and self._people.role_in(key.user_id, key.project_id) is None:
            # A personal token reads and decides only while its owner has a role in the project.
            raise UnauthorizedError("the owner of this token no longer has a role in its project")
        return auth.Principal(
            key_id=key.id, project_id=key.project_id, scopes=frozenset(key.scopes), user_id=key.user_id
        )

    def create_personal_token(self, user_id: int, project: str, name: str | None = None) -> CreatedKey:
        """A reviewer's own ``respond`` token: what it decides is attributed to them."""
        record = self._people.personal_token_project(user_id, project)
        with self._db.write() as tx:
            key, plaintext = self._insert(tx, record, name, (auth.RESPOND,), user_id)
        logger.info("personal token %s created for user %d in project %r", key.prefix, user_id, project)
        return CreatedKey(key.id, key.prefix, plaintext, record.slug, (auth.RESPOND,), name)

    def list_personal_tokens(self, user_id: int) -> list[ApiKeyRecord]:
        with self._db.read() as conn:
            return key_rows.list_keys(conn, user_id=user_id)

    def revoke_personal_token(self, user_id: int, key_id: int) -> bool:
        if not any(k.id == key_id for k in self.list_personal_tokens(user_id)):
            raise NotFoundError(f"token {key_id} not found")
        return self.revoke_api_key(key_id)

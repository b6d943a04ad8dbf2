"""Engine, sessions, declarative base and the column mixins every domain uses."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import Depends, Request
from sqlalchemy import JSON, DateTime, Engine, Integer, MetaData, String, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, declared_attr, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from spectra.core.config import get_settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both SQLite (which stores naive text) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# JSON that becomes JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


def new_id() -> str:
    return uuid.uuid4().hex


class UUIDPrimaryKey:
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)


def utcnow() -> datetime:
    """Wall-clock now, for bookkeeping columns; domain logic uses spectra.core.clock instead."""
    return datetime.now(UTC)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class VersionMixin:
    """Optimistic locking: every UPDATE checks and bumps `version`; a stale write raises StaleDataError."""

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.__table__.c.version}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- engine and sessions

_engine: Engine | None = None
_session_factory: sessionmaker[Session] | None = None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


# SQLite has one writer at a time. Writers of this process queue on this lock instead of in SQLite's
# busy handler, whose sleeping back-off gives long tail latencies under concurrent writes.
# A plain Lock, not an RLock: a request's transaction may begin and commit on different pool threads.
_sqlite_writer = threading.Lock()
SQLITE_WRITER_WAIT_SECONDS = 15.0
# How long the writer of the current unit of work (see session_scope) may queue for the lock. A context value, not
# a connection option, so that its transaction still begins lazily: at its first statement, not when it opens.
_writer_wait: ContextVar[float] = ContextVar("spectra_sqlite_writer_wait", default=SQLITE_WRITER_WAIT_SECONDS)


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN so two of them queue instead of one failing when it
    # upgrades a read lock; read-only units pass sqlite_begin="DEFERRED" and never block.
    options = conn.get_execution_options()
    mode = options.get("sqlite_begin", "IMMEDIATE")
    if mode == "IMMEDIATE":
        if not _sqlite_writer.acquire(timeout=_writer_wait.get()):
            raise TimeoutError("timed out waiting for the SQLite write lock")
        conn.info["spectra_writer"] = True
    try:
        conn.exec_driver_sql(f"BEGIN {mode}")
    except BaseException:
        _release_writer(conn)
        raise


def _release_writer(conn: Any) -> None:
    if conn.info.pop("spectra_writer", False):
        _sqlite_writer.release()


def _release_on_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None and record.info.pop("spectra_writer", False):
        _sqlite_writer.release()


def _release_on_invalidate(_dbapi_connection: Any, record: Any, _exc: Any) -> None:
    _release_on_checkin(_dbapi_connection, record)


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if db_path and db_path != ":memory:":
            Path(db_path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 15, "isolation_level": None},
            pool_size=kwargs.pop("pool_size", 20),
            max_overflow=kwargs.pop("max_overflow", 40),
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "commit", _release_writer)
        event.listen(engine, "rollback", _release_writer)
        # A connection returned to the pool mid-transaction (session closed, pool reset) releases it too.
        event.listen(engine.pool, "checkin", _release_on_checkin)
        event.listen(engine.pool, "invalidate", _release_on_invalidate)
        return engine
    settings = get_settings()
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=kwargs.pop("pool_size", settings.database_pool_size),
        max_overflow=kwargs.pop("max_overflow", settings.database_max_overflow),
        **kwargs,
    )


def get_engine() -> Engine:
    global _engine, _session_factory
    if _engine is None:
        _engine = make_engine(get_settings().database_url)
        _session_factory = sessionmaker(_engine, expire_on_commit=False)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the process at another engine (tests, CLI with --database-url)."""
    global _engine, _session_factory
    _engine = engine
    _session_factory = sessionmaker(engine, expire_on_commit=False) if engine is not None else None


def session_factory() -> sessionmaker[Session]:
    get_engine()
    assert _session_factory is not None
    return _session_factory


@contextmanager
def session_scope(read_only: bool = False, writer_wait: float | None = None) -> Iterator[Session]:
    """A unit of work outside a request (jobs, CLI): commit on success, roll back on error.
    `writer_wait`: how long a background writer may queue for SQLite's write lock (requests keep the default)."""
    session = session_factory()()
    if read_only:
        session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    # Set for background units only (a request's dependency may open and close on different threads); the units it
    # opens inside (a job's read-only look-ups) inherit it.
    wait = _writer_wait.set(writer_wait) if writer_wait is not None else None
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
        if wait is not None:
            _writer_wait.reset(wait)


def get_session(request: Request) -> Iterator[Session]:
    """Request dependency: one request = one transaction, committed here, never by services."""
    with session_scope(read_only=request.method in ("GET", "HEAD")) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]

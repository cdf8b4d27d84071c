"""People who log in, their roles, and API tokens.

Passwords are hashed with argon2 (argon2-cffi's defaults follow RFC 9106). API tokens are
random and only their SHA-256 is stored, so a copy of the database does not leak them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Connection, DateTime, ForeignKey, String, bindparam, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from feria.catalogue.models import Producer, utcnow
from feria.db import Base, as_loaded, connection_of
from feria.errors import FeriaError
from feria.prepared import Prepared

ROLES = ("organizer", "cashier", "producer", "shopper")
_hasher = PasswordHasher()


def use_password_hasher(hasher: PasswordHasher) -> None:
    """Replace the argon2 parameters (test suites use cheap ones; hashes stay verifiable,
    since every hash carries its own parameters)."""
    global _hasher
    _hasher = hasher


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    producer_id: Mapped[int | None] = mapped_column(ForeignKey("producers.id"), nullable=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class InvalidUser(FeriaError):
    """A user could not be created or changed as asked."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def add_user(
    db: Session,
    username: str,
    password: str,
    role: str,
    producer_code: str | None = None,
    display_name: str = "",
    email: str = "",
    network_id: int | None = None,
) -> User:
    """Create a user; a producer user is linked to exactly one producer by its code (within
    ``network_id`` when given: codes are unique per network, not across networks)."""
    username = username.strip()
    if not username or len(username) > 64 or any(c.isspace() for c in username):
        raise InvalidUser("username: expected 1 to 64 characters without spaces", field="username")
    if role not in ROLES:
        raise InvalidUser(f"role: expected one of {', '.join(ROLES)}, got {role!r}", field="role")
    if len(password) < 8:
        raise InvalidUser("password: expected at least 8 characters", field="password")
    if db.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidUser(f"username {username!r} is taken", field="username")
    producer_id = None
    if role == "producer":
        if not producer_code:
            raise InvalidUser("a producer user needs --producer CODE", field="producer")
        query = select(Producer.id).where(Producer.code == producer_code.strip().upper())
        if network_id is not None:
            query = query.where(Producer.network_id == network_id)
        matches = db.scalars(query).all()
        if len(matches) > 1:
            raise InvalidUser(
                f"producer code {producer_code!r} exists in several networks: name the network",
                field="producer",
            )
        producer_id = matches[0] if matches else None
        if producer_id is None:
            raise InvalidUser(f"no producer with code {producer_code!r}", field="producer")
    elif producer_code:
        raise InvalidUser("only producer users are linked to a producer", field="producer")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        producer_id=producer_id,
        display_name=display_name or username,
        email=email,
    )
    db.add(user)
    db.flush()
    return user


def authenticate(db: Session, username: str, password: str) -> User | None:
    user = db.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        _hasher.hash(password)  # spend the same time, so a wrong username is not revealed
        return None
    return user if check_password(user, password) else None


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(db: Session, user: User, name: str = "") -> str:
    """Create an API token for ``user``; the clear token is returned once and never stored."""
    token = "feria_" + secrets.token_urlsafe(32)
    db.add(ApiToken(user_id=user.id, token_sha256=_token_digest(token), name=name))
    db.flush()
    return token


_TOKEN_USER = Prepared(
    select(User.__table__)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_sha256 == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        User.active.is_(True),
    )
)


def user_for_token(db: Session | Connection, token: str) -> User | None:
    """The active user a live token belongs to, or ``None``.

    Every API request asks this, so it is one prepared statement and the user comes back
    detached (in no session): a ``User`` has only columns, nothing left to load later.
    """
    row = _TOKEN_USER.first(connection_of(db), {"digest": _token_digest(token)})
    return None if row is None else as_loaded(User, row._asdict())

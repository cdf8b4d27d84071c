"""The certification cycle, as the organizers record it: a scheme, an application, a peer
visit, the committee's decision (which grants the label), and later suspensions,
reinstatements and revocations.

Each function takes an open session and adds rows; the caller commits (the CLI and the web
use :func:`feria.db.write_session`). Nothing here ever changes a row already written.

The rule the whole system rests on: a label is granted by peers, so **a producer cannot
grant a label to itself**. Neither the applicant, nor one of its users, nor one of its
cooperative's members may visit it or sit on the committee that decides on it.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from feria.accounts import User
from feria.catalogue.models import Member, Network, Producer, Product
from feria.errors import Conflict, FeriaError, Forbidden, NotFound
from feria_pgs.models import (
    GRANTING_OUTCOMES,
    OUTCOMES,
    Application,
    CommitteeMember,
    Decision,
    Holding,
    Scheme,
    StatusChange,
    Visit,
    Visitor,
)
from feria_pgs.status import status_on

SCHEME_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
MAX_VALIDITY_MONTHS = 120


# -- refusals ----------------------------------------------------------------------------------


class InvalidLabelInput(FeriaError):
    """Something asked for is missing or malformed (a date, a reason, a product)."""

    code = "invalid_label_input"


class SelfCertification(Forbidden):
    """A producer (or one of its people) was named to visit it or to decide on it."""

    code = "self_certification"


class CertificationOutOfOrder(Conflict):
    """A step that does not follow from where the application or the label stands."""

    code = "certification_out_of_order"


class UnknownScheme(NotFound):
    code = "unknown_scheme"


class UnknownApplication(NotFound):
    code = "unknown_application"


class UnknownHolding(NotFound):
    code = "unknown_label"


class UnknownParticipant(NotFound):
    code = "unknown_participant"


# -- who takes part ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone named as a visitor or a committee member: a producer of the network (by
    code), a user (by username), or a person by name (a consumer without an account).

    ``kind`` is what the registry shows beside the name (``producer``, ``consumer``…);
    left empty it follows from who they are.
    """

    name: str = ""
    producer_code: str | None = None
    username: str | None = None
    kind: str = ""

    @classmethod
    def parse(cls, text: str) -> Participant:
        """``producer:P02``, ``user:sofia``, ``consumer:Sofía Ramírez`` or just a name
        (then a consumer); what the CLI's ``--visitor`` and ``--member`` take."""
        prefix, sep, rest = text.partition(":")
        prefix, rest = prefix.strip().lower(), rest.strip()
        if sep and prefix == "producer":
            return cls(producer_code=rest)
        if sep and prefix == "user":
            return cls(username=rest)
        if sep and prefix.isalpha() and rest:
            return cls(name=rest, kind=prefix)
        return cls(name=text.strip())


def _normalized(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(letters.split())


def _applicant_people(db: Session, producer: Producer) -> set[str]:
    """The names under which the applicant could appear: its own, its members', and its
    users'. A person named only by name is refused if they are one of these."""
    names = {producer.name}
    names.update(db.scalars(select(Member.name).where(Member.producer_id == producer.id)))
    for user in db.scalars(select(User).where(User.producer_id == producer.id)):
        names.update({user.display_name, user.username})
    return {_normalized(n) for n in names if n}


def _participants(
    db: Session, people: Sequence[Participant], applicant: Producer, role: str, field: str
) -> list[dict[str, object]]:
    """The rows for ``people``, refusing the applicant itself in any of its guises."""
    if not people:
        raise InvalidLabelInput(f"name at least one {role}", field=field)
    applicant_names = _applicant_people(db, applicant)
    rows, seen = [], set()
    for i, who in enumerate(people):
        at = f"{field}[{i}]"
        row = _resolve(db, who, applicant, applicant_names, role, at)
        if row.get("user_id"):
            key: tuple[str, object] = ("user", row["user_id"])
        elif row.get("producer_id"):
            key = ("producer", row["producer_id"])
        else:
            key = ("name", _normalized(str(row["name"])))
        if key in seen:
            raise InvalidLabelInput(f"{row['name']} is named twice", field=at)
        seen.add(key)
        rows.append(row)
    return rows


def _resolve(
    db: Session,
    who: Participant,
    applicant: Producer,
    applicant_names: set[str],
    role: str,
    field: str,
) -> dict[str, object]:
    def refuse(who_is: str) -> SelfCertification:
        return SelfCertification(
            f"a producer cannot grant a label to itself: {who_is} cannot be a {role} for "
            f"the application of {applicant.code} {applicant.name}; ask another producer "
            "or a consumer of the network",
            field=field,
            producer=applicant.code,
        )

    if who.producer_code:
        code = who.producer_code.strip().upper()
        producer = db.scalar(
            select(Producer).where(
                Producer.network_id == applicant.network_id, Producer.code == code
            )
        )
        if producer is None:
            raise UnknownParticipant(f"no producer with code {code!r} in this network", field=field)
        if producer.id == applicant.id:
            raise refuse(f"{code} itself")
        return {"kind": who.kind or "producer", "name": producer.name, "producer_id": producer.id}
    if who.username:
        user = db.scalar(select(User).where(User.username == who.username.strip()))
        if user is None:
            raise UnknownParticipant(f"there is no user {who.username!r}", field=field)
        if user.producer_id == applicant.id:
            raise refuse(f"{user.username} (a user of {applicant.code})")
        kind = who.kind or (
            "producer" if user.producer_id else "consumer" if user.role == "shopper" else user.role
        )
        return {
            "kind": kind,
            "name": user.display_name or user.username,
            "user_id": user.id,
            "producer_id": user.producer_id,
        }
    name = " ".join(who.name.split())
    if not name:
        raise InvalidLabelInput(
            "a participant needs a name, a producer code or a user", field=field
        )
    if _normalized(name) in applicant_names:
        raise refuse(f"{name} (one of {applicant.code}'s own people)")
    return {"kind": (who.kind or "consumer").lower()[:16], "name": name[:200]}


def _recorder(db: Session, user_id: int | None) -> int | None:
    """Organizers (the network's commission) record the cycle, not the producers."""
    if user_id is None:
        return None
    user = db.get(User, user_id)
    if user is None or user.role != "organizer":
        raise Forbidden("only an organizer records certification steps", field="recorded_by")
    return user.id


def _text(value: str, field: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidLabelInput(f"{what} cannot be empty", field=field)
    return value


# -- schemes -----------------------------------------------------------------------------------


def add_scheme(
    db: Session,
    network_id: int,
    code: str,
    name: str,
    *,
    criteria: str = "",
    logo: str = "",
    validity_months: int = 12,
) -> Scheme:
    """A new label scheme of the network (``code`` is a short slug, e.g. ``sin-patron``).

    Schemes are not edited: a network that changes its criteria adds a new scheme, so every
    label already granted keeps the criteria it was granted under.
    """
    code = (code or "").strip().lower()
    if not SCHEME_CODE.match(code):
        raise InvalidLabelInput(
            "code: expected 1 to 32 lowercase letters, digits or dashes", field="code"
        )
    if db.get(Network, network_id) is None:
        raise NotFound(f"there is no network {network_id}", field="network")
    if not 1 <= validity_months <= MAX_VALIDITY_MONTHS:
        raise InvalidLabelInput(
            f"validity: expected 1 to {MAX_VALIDITY_MONTHS} months", field="validity_months"
        )
    exists = select(Scheme.id).where(Scheme.network_id == network_id, Scheme.code == code)
    if db.scalar(exists) is not None:
        raise Conflict(f"the network already has a scheme {code!r}", field="code")
    scheme = Scheme(
        network_id=network_id,
        code=code,
        name=_text(name, "name", "the scheme's name"),
        criteria=(criteria or "").strip(),
        logo=(logo or "").strip(),
        validity_months=validity_months,
    )
    db.add(scheme)
    db.flush()
    return scheme


def scheme_by_code(db: Session, code: str, network_id: int | None = None) -> Scheme:
    query = select(Scheme).where(Scheme.code == code.strip().lower())
    if network_id is not None:
        query = query.where(Scheme.network_id == network_id)
    found = db.scalars(query).all()
    if len(found) > 1:
        raise InvalidLabelInput(f"scheme {code!r} exists in several networks: name the network")
    if not found:
        raise UnknownScheme(f"there is no label scheme {code!r}", field="scheme")
    return found[0]


def producer_by_code(db: Session, code: str, network_id: int | None = None) -> Producer:
    query = select(Producer).where(Producer.code == code.strip().upper())
    if network_id is not None:
        query = query.where(Producer.network_id == network_id)
    found = db.scalars(query).all()
    if len(found) > 1:
        raise InvalidLabelInput(f"producer {code!r} exists in several networks: name the network")
    if not found:
        raise NotFound(f"there is no producer {code!r}", field="producer")
    return found[0]


# -- the cycle ---------------------------------------------------------------------------------


def submit_application(
    db: Session,
    scheme_id: int,
    producer_id: int,
    *,
    product_ids: Iterable[int] = (),
    on: dt.date | None = None,
    note: str = "",
    recorded_by: int | None = None,
) -> Application:
    """A producer applies for a scheme's label: for itself as a whole, or (with
    ``product_ids``) for those of its products only."""
    scheme = db.get(Scheme, scheme_id)
    if scheme is None:
        raise UnknownScheme(f"there is no label scheme {scheme_id}", field="scheme")
    producer = db.get(Producer, producer_id)
    if producer is None or producer.network_id != scheme.network_id:
        raise NotFound("the producer is not in the scheme's network", field="producer")
    products = []
    for pid in dict.fromkeys(product_ids):
        product = db.get(Product, pid)
        if product is None or product.producer_id != producer.id:
            raise InvalidLabelInput(
                f"product {pid} is not one of {producer.code}'s products", field="products"
            )
        products.append(product)
    application = Application(
        scheme_id=scheme.id,
        producer_id=producer.id,
        applied_on=on or dt.date.today(),
        note=(note or "").strip(),
        recorded_by=_recorder(db, recorded_by),
        products=products,
    )
    db.add(application)
    db.flush()
    return application


def _application(db: Session, application_id: int) -> Application:
    application = db.get(Application, application_id)
    if application is None:
        raise UnknownApplication(f"there is no application {application_id}", field="application")
    return application


def _decided(db: Session, application_id: int) -> bool:
    query = select(Decision.id).where(Decision.application_id == application_id)
    return db.scalar(query) is not None


def record_visit(
    db: Session,
    application_id: int,
    *,
    visitors: Sequence[Participant],
    findings: str,
    on: dt.date | None = None,
    recorded_by: int | None = None,
) -> Visit:
    """A peer visit to the applicant: other producers and consumers, the date, what they
    found. Refuses a visitor who is the applicant or one of its people."""
    application = _application(db, application_id)
    if _decided(db, application.id):
        raise CertificationOutOfOrder(
            f"application {application.id} is already decided: a new visit needs a new application",
            field="application",
        )
    on = on or dt.date.today()
    if on < application.applied_on:
        raise InvalidLabelInput(
            f"the visit ({on}) cannot be before the application ({application.applied_on})",
            field="on",
        )
    rows = _participants(db, visitors, application.producer, "visitor", "visitors")
    visit = Visit(
        application_id=application.id,
        visited_on=on,
        findings=_text(findings, "findings", "the visit's findings"),
        recorded_by=_recorder(db, recorded_by),
        visitors=[Visitor(**row) for row in rows],
    )
    db.add(visit)
    db.flush()
    return visit


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` moved ``months`` calendar months on, clamped to the month's last day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def decide(
    db: Session,
    application_id: int,
    outcome: str,
    *,
    committee: str,
    members: Sequence[Participant],
    reasons: str,
    conditions: str = "",
    on: dt.date | None = None,
    visit_id: int | None = None,
    product_ids: Iterable[int] | None = None,
    validity_months: int | None = None,
    recorded_by: int | None = None,
) -> Decision:
    """The committee decides on an application, after a visit.

    ``outcome`` is ``approved``, ``approved_with_conditions`` (``conditions`` says which) or
    ``rejected``. An approval grants the label at once, from ``on`` for the scheme's
    validity (or ``validity_months``), to the producer or to the applied-for products
    (``product_ids`` may narrow them). Refuses a member who is the applicant or one of its
    people.
    """
    application = _application(db, application_id)
    if outcome not in OUTCOMES:
        raise InvalidLabelInput(f"outcome: expected one of {', '.join(OUTCOMES)}", field="outcome")
    if _decided(db, application.id):
        raise CertificationOutOfOrder(
            f"application {application.id} is already decided", field="application"
        )
    on = on or dt.date.today()
    visits = db.scalars(
        select(Visit).where(Visit.application_id == application.id).order_by(Visit.id)
    ).all()
    visit = visits[-1] if visits else None
    if visit_id is not None:
        visit = next((v for v in visits if v.id == visit_id), None)
        if visit is None:
            raise InvalidLabelInput(
                f"visit {visit_id} was not to application {application.id}", field="visit"
            )
    granting = outcome in GRANTING_OUTCOMES
    if granting and visit is None:
        raise CertificationOutOfOrder(
            "a label is granted only after a peer visit: record the visit first",
            field="application",
        )
    if visit is not None and on < visit.visited_on:
        raise InvalidLabelInput(
            f"the decision ({on}) cannot be before the visit ({visit.visited_on})", field="on"
        )
    if outcome == "approved_with_conditions":
        conditions = _text(conditions, "conditions", "the conditions")
    rows = _participants(db, members, application.producer, "committee member", "members")
    decision = Decision(
        application_id=application.id,
        visit_id=visit.id if visit is not None else None,
        decided_on=on,
        outcome=outcome,
        committee=_text(committee, "committee", "the committee's name")[:200],
        reasons=_text(reasons, "reasons", "the reasons"),
        conditions=(conditions or "").strip(),
        recorded_by=_recorder(db, recorded_by),
        members=[CommitteeMember(**row) for row in rows],
    )
    db.add(decision)
    db.flush()
    holding = _grant(db, application, decision, product_ids, validity_months) if granting else None
    set_committed_value(decision, "holding", holding)  # readable after the session closes
    return decision


def _grant(
    db: Session,
    application: Application,
    decision: Decision,
    product_ids: Iterable[int] | None,
    validity_months: int | None,
) -> Holding:
    applied = {p.id: p for p in application.products}
    products = list(applied.values())
    if product_ids is not None:
        wanted = list(dict.fromkeys(product_ids))
        stray = [pid for pid in wanted if pid not in applied]
        if stray or (applied and not wanted):
            raise InvalidLabelInput(
                "only products the producer applied for can be granted the label",
                field="products",
            )
        products = [applied[pid] for pid in wanted]
    months = validity_months or application.scheme.validity_months
    if not 1 <= months <= MAX_VALIDITY_MONTHS:
        raise InvalidLabelInput(
            f"validity: expected 1 to {MAX_VALIDITY_MONTHS} months", field="validity_months"
        )
    holding = Holding(
        decision_id=decision.id,
        scheme_id=application.scheme_id,
        producer_id=application.producer_id,
        valid_from=decision.decided_on,
        # Valid through the day before the same date ``months`` later: 12 months from
        # 1 December is through 30 November.
        valid_until=add_months(decision.decided_on, months) - dt.timedelta(days=1),
        products=products,
    )
    db.add(holding)
    db.flush()
    return holding


# -- after the grant ---------------------------------------------------------------------------

# Which state each change may follow (see feria_pgs.status for the states).
_MAY_FOLLOW = {
    "suspended": ("valid",),
    "reinstated": ("suspended",),
    "revoked": ("valid", "suspended", "pending"),
}


def _change(
    db: Session,
    holding_id: int,
    change: str,
    reason: str,
    on: dt.date | None,
    recorded_by: int | None,
) -> StatusChange:
    holding = db.get(Holding, holding_id)
    if holding is None:
        raise UnknownHolding(f"there is no label {holding_id}", field="label")
    on = on or dt.date.today()
    changes = list(holding.changes)
    if changes and on < changes[-1].effective_on:
        raise CertificationOutOfOrder(
            f"label {holding.id} already has a change dated {changes[-1].effective_on}: "
            "record changes in date order",
            field="on",
        )
    state = status_on(holding, changes, on)
    if state not in _MAY_FOLLOW[change]:
        raise CertificationOutOfOrder(
            f"label {holding.id} is {state} on {on}: it cannot be {change}", field="label"
        )
    row = StatusChange(
        holding_id=holding.id,
        change=change,
        effective_on=on,
        reason=_text(reason, "reason", "the reason"),
        recorded_by=_recorder(db, recorded_by),
    )
    db.add(row)
    db.flush()
    db.expire(holding, ["changes"])
    return row


def suspend(
    db: Session,
    holding_id: int,
    *,
    reason: str,
    on: dt.date | None = None,
    recorded_by: int | None = None,
) -> StatusChange:
    """Suspend a label from ``on`` (today), with the reason shown in the registry. It is not
    shown anywhere while suspended; :func:`reinstate` brings it back."""
    return _change(db, holding_id, "suspended", reason, on, recorded_by)


def reinstate(
    db: Session,
    holding_id: int,
    *,
    reason: str,
    on: dt.date | None = None,
    recorded_by: int | None = None,
) -> StatusChange:
    """Lift a suspension from ``on`` (today); the label's end date does not move."""
    return _change(db, holding_id, "reinstated", reason, on, recorded_by)


def revoke(
    db: Session,
    holding_id: int,
    *,
    reason: str,
    on: dt.date | None = None,
    recorded_by: int | None = None,
) -> StatusChange:
    """Revoke a label from ``on`` (today), for good: a producer that wants it back applies
    again."""
    return _change(db, holding_id, "revoked", reason, on, recorded_by)

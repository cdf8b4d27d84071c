"""The certification cycle as organizers, producers and shoppers meet it: a label granted
by peers shows through feria's hooks only while it is valid, and nobody certifies
themselves."""

from __future__ import annotations

import datetime as dt

import pytest
from feria_pgs.certification import (
    CertificationOutOfOrder,
    InvalidLabelInput,
    Participant,
    SelfCertification,
    decide,
    record_visit,
    reinstate,
    revoke,
    submit_application,
    suspend,
)
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from feria.catalogue.models import Fair, Producer, Product
from feria.db import read_session, write_session
from feria.labels import Badge, Label

TODAY = dt.date.today()
DECIDED = dt.date(2026, 2, 1)  # when the ``grant`` fixture's committee decides


def labels_of(engine, pm, *, producer_id=None, product_id=None, on):
    """What the storefront, the till and the receipt would show, read in a new request."""
    with read_session(engine) as db:
        producer = db.get(Producer, producer_id) if producer_id else None
        product = db.get(Product, product_id) if product_id else None
        found = pm.hook.feria_labels(producer=producer, product=product, on=on, db=db)
    return [label for answer in found for label in answer]


def badges_of(engine, pm, product_id, on):
    with read_session(engine) as db:
        found = pm.hook.feria_product_badges(product=db.get(Product, product_id), on=on, db=db)
    return [badge for answer in found for badge in answer]


def with_label(engine, pm, code, product_ids, on=TODAY):
    with read_session(engine) as db:
        return pm.hook.feria_products_with_label(code=code, product_ids=product_ids, on=on, db=db)


def test_full_cycle_grants_a_label_that_feria_shows_with_who_granted_it(engine, pm, fair, grant):
    holding_id = grant("sin-patron", "P07")

    (label,) = labels_of(engine, pm, producer_id=fair.producers["P07"], on=DECIDED)
    assert label == Label(
        scheme="sin-patron",
        name="Hecho sin patrón",
        granted_by="Comité de garantía de la Red",
        valid_until=dt.date(2028, 1, 31),  # 24 months from 1 February 2026, inclusive
        url=f"/-/plugins/pgs/registry/{holding_id}",
    )
    # A grant to the producer as a whole shows beside each of its products.
    assert labels_of(engine, pm, product_id=fair.products["scarf"], on=DECIDED) == [label]
    (badge,) = badges_of(engine, pm, fair.products["scarf"], DECIDED)
    assert isinstance(badge, Badge) and badge.text == "Hecho sin patrón"
    assert badge.url == label.url
    # Nobody else holds it, and it did not exist before the committee decided.
    assert labels_of(engine, pm, producer_id=fair.producers["P01"], on=DECIDED) == []
    before = DECIDED - dt.timedelta(days=1)
    assert labels_of(engine, pm, producer_id=fair.producers["P07"], on=before) == []


def test_a_label_is_gone_the_day_after_it_expires(engine, pm, fair, grant):
    grant("agro", "P07")  # 12 months from 1 February 2026: through 31 January 2027
    last_day, day_after = dt.date(2027, 1, 31), dt.date(2027, 2, 1)
    p7 = fair.producers["P07"]

    assert [lab.scheme for lab in labels_of(engine, pm, producer_id=p7, on=last_day)] == ["agro"]
    assert labels_of(engine, pm, producer_id=p7, on=day_after) == []
    assert badges_of(engine, pm, fair.products["scarf"], day_after) == []
    assert with_label(engine, pm, "agro", [fair.products["scarf"]], on=day_after) == set()


def test_a_revoked_label_disappears_everywhere_at_once(engine, pm, fair, grant):
    holding_id = grant("sin-patron", "P07", decided_on=TODAY - dt.timedelta(days=30))
    scarf, p7 = fair.products["scarf"], fair.producers["P07"]
    assert len(labels_of(engine, pm, producer_id=p7, on=TODAY)) == 1
    assert with_label(engine, pm, "sin-patron", [scarf]) == {scarf}

    with write_session(engine) as db:
        revoke(db, holding_id, reason="Contrató personal asalariado.")

    assert labels_of(engine, pm, producer_id=p7, on=TODAY) == []
    assert labels_of(engine, pm, product_id=scarf, on=TODAY) == []
    assert badges_of(engine, pm, scarf, TODAY) == []
    assert with_label(engine, pm, "sin-patron", [scarf]) == set()
    with read_session(engine) as db:
        assert pm.hook.feria_label_filters(fair=db.get(Fair, fair.fair_id), db=db) == [[]]
    # Revocation is final.
    with write_session(engine) as db, pytest.raises(CertificationOutOfOrder, match="revoked"):
        reinstate(db, holding_id, reason="Se arrepintió.")


def test_a_suspended_label_is_hidden_until_it_is_reinstated(engine, pm, fair, grant):
    holding_id = grant("sin-patron", "P07")
    p7 = fair.producers["P07"]
    suspended_on, reinstated_on = dt.date(2026, 6, 1), dt.date(2026, 7, 15)
    with write_session(engine) as db:
        suspend(db, holding_id, reason="Falta el acta de la última asamblea.", on=suspended_on)

    assert labels_of(engine, pm, producer_id=p7, on=suspended_on) == []
    assert len(labels_of(engine, pm, producer_id=p7, on=suspended_on - dt.timedelta(days=1))) == 1
    with write_session(engine) as db, pytest.raises(CertificationOutOfOrder, match="suspended"):
        suspend(db, holding_id, reason="otra vez", on=dt.date(2026, 6, 10))

    with write_session(engine) as db:
        reinstate(db, holding_id, reason="Presentó el acta.", on=reinstated_on)

    assert labels_of(engine, pm, producer_id=p7, on=dt.date(2026, 7, 14)) == []
    (label,) = labels_of(engine, pm, producer_id=p7, on=reinstated_on)
    assert label.valid_until == dt.date(2028, 1, 31)  # a suspension does not move the end


def _application(engine, fair, schemes, producer="P07") -> int:
    with write_session(engine) as db:
        return submit_application(
            db, schemes["sin-patron"], fair.producers[producer], on=dt.date(2026, 1, 5)
        ).id


@pytest.mark.parametrize(
    "who",
    [
        Participant(producer_code="P07"),  # the applicant itself
        Participant(username="coop"),  # the applicant's own user
        Participant(name="ana"),  # a member of the applicant cooperative, by name
        Participant(name="Cooperativa  Textil"),  # the applicant, by name
    ],
    ids=["producer", "its-user", "its-member", "its-name"],
)
def test_a_producer_cannot_grant_a_label_to_itself(engine, pm, fair, schemes, who):
    application_id = _application(engine, fair, schemes)
    others = [Participant(producer_code="P02")]

    with write_session(engine) as db, pytest.raises(SelfCertification) as visiting:
        record_visit(db, application_id, visitors=[*others, who], findings="Todo bien.")
    assert "a producer cannot grant a label to itself" in visiting.value.message
    assert "P07 Cooperativa Textil" in visiting.value.message

    with write_session(engine) as db:
        record_visit(db, application_id, visitors=others, findings="Todo bien.")
    with write_session(engine) as db, pytest.raises(SelfCertification) as deciding:
        decide(
            db,
            application_id,
            "approved",
            committee="Comité",
            members=[*others, who],
            reasons="Cumple.",
        )
    assert deciding.value.field.startswith("members[")
    assert labels_of(engine, pm, producer_id=fair.producers["P07"], on=TODAY) == []


def test_a_label_is_granted_only_after_a_visit_and_decided_once(engine, fair, schemes):
    application_id = _application(engine, fair, schemes)
    people = [Participant(producer_code="P02"), Participant(name="Marta Quiroz")]

    def decide_now(outcome, **kw):
        with write_session(engine) as db:
            return decide(
                db, application_id, outcome, committee="C", members=people, reasons="r", **kw
            )

    with pytest.raises(CertificationOutOfOrder, match="only after a peer visit"):
        decide_now("approved")
    with write_session(engine) as db:
        record_visit(db, application_id, visitors=people, findings="Faltan las actas.")
    with pytest.raises(InvalidLabelInput, match="conditions"):
        decide_now("approved_with_conditions")
    assert decide_now("rejected").holding is None
    with pytest.raises(CertificationOutOfOrder, match="already decided"):
        decide_now("approved")


def test_products_are_filtered_by_label(engine, pm, fair, grant):
    grant("sin-patron", "P07")  # the cooperative as a whole
    grant("agro", "P01", products=("honey",))  # only the honey
    every = list(fair.products.values())

    assert with_label(engine, pm, "sin-patron", every, on=DECIDED) == {fair.products["scarf"]}
    assert with_label(engine, pm, "agro", every, on=DECIDED) == {fair.products["honey"]}
    assert with_label(engine, pm, "no-such-label", every, on=DECIDED) is None
    # A product grant is not the producer's: P01 itself holds nothing.
    assert labels_of(engine, pm, producer_id=fair.producers["P01"], on=DECIDED) == []
    honey = labels_of(engine, pm, product_id=fair.products["honey"], on=DECIDED)
    assert [label.scheme for label in honey] == ["agro"]


def test_the_storefront_offers_only_labels_someone_holds(engine, pm, fair, grant, schemes):
    grant("agro", "P01", products=("honey",), decided_on=TODAY)
    with read_session(engine) as db:
        (filters,) = pm.hook.feria_label_filters(fair=db.get(Fair, fair.fair_id), db=db)
    assert filters == [("agro", "Agroecológico SPG")]


def test_only_products_of_the_applicant_can_be_applied_for(engine, fair, schemes):
    with write_session(engine) as db, pytest.raises(InvalidLabelInput, match="P07's products"):
        submit_application(
            db, schemes["agro"], fair.producers["P07"], product_ids=[fair.products["honey"]]
        )


def test_the_history_cannot_be_edited_in_the_database(engine, grant):
    holding_id = grant()
    for statement in (
        f"UPDATE pgs_holdings SET valid_until = '2099-01-01' WHERE id = {holding_id}",
        f"DELETE FROM pgs_decisions WHERE id IN (SELECT decision_id FROM pgs_holdings "
        f"WHERE id = {holding_id})",
    ):
        with pytest.raises(DBAPIError, match="append-only"), write_session(engine) as db:
            db.execute(text(statement))

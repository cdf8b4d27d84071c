"""A payment method states what the till must ask before a tender, as data."""

from __future__ import annotations

import pytest

from feria.payments import SECRET_DATA_KEYS, PaymentMethod, TenderField, TenderWay


def test_a_method_asks_nothing_unless_it_says_so():
    assert tuple(PaymentMethod().tender_ways(fair=None)) == ()


def test_a_way_is_plain_data_the_till_can_send_as_json():
    way = TenderWay(
        "account",
        "Account and PIN",
        (TenderField("account", "Account number"), TenderField("pin", "PIN", "secret")),
    )
    assert way.as_dict() == {
        "code": "account",
        "label": "Account and PIN",
        "fields": [
            {"key": "account", "label": "Account number", "kind": "text"},
            {"key": "pin", "label": "PIN", "kind": "secret"},
        ],
    }


def test_a_secret_field_must_use_a_key_the_journal_leaves_out():
    # A secret under any other key would be recorded in the journal with the tender's data.
    with pytest.raises(ValueError, match="never reaches the journal"):
        TenderField("code", "Code", "secret")
    for key in SECRET_DATA_KEYS:
        assert TenderField(key, key, "secret").kind == "secret"


def test_an_unknown_kind_of_field_is_refused_where_it_is_declared():
    with pytest.raises(ValueError, match="is not one of text, secret, scan"):
        TenderField("account", "Account", "dropdown")

"""Why the caja común refused something, in words a cashier can act on."""

from __future__ import annotations

from feria.errors import Conflict, FeriaError, Forbidden, NotFound


class UnknownProduct(NotFound):
    code = "unknown_product"


class UnknownProducer(NotFound):
    code = "unknown_producer"


class UnknownPaymentMethod(FeriaError):
    code = "unknown_payment_method"


class InvalidLine(FeriaError):
    code = "invalid_line"


class InvalidTender(FeriaError):
    code = "invalid_tender"


class InsufficientPayment(FeriaError):
    code = "insufficient_payment"
    status = 422


class Overpayment(FeriaError):
    code = "overpayment"
    status = 422


class PaymentRefused(FeriaError):
    code = "payment_refused"
    status = 402


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class SessionClosed(Conflict):
    code = "session_closed"


class SessionNotFound(NotFound):
    code = "session_not_found"


class SaleNotFound(NotFound):
    code = "sale_not_found"


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"


class NotAllowed(Forbidden):
    code = "not_allowed"


class NoRuleInForce(FeriaError):
    code = "no_rule_in_force"
    status = 409


__all__ = [
    "IdempotencyConflict",
    "InsufficientPayment",
    "InvalidLine",
    "InvalidTender",
    "NoRuleInForce",
    "NotAllowed",
    "Overpayment",
    "PaymentRefused",
    "RefundNotAllowed",
    "SaleNotFound",
    "SessionClosed",
    "SessionNotFound",
    "UnknownPaymentMethod",
    "UnknownProducer",
    "UnknownProduct",
]

from feria import hookimpl


@hookimpl
def feria_payment_methods(fair, till_number):
    return []

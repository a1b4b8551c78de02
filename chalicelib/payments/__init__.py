"""Card payments through Stripe.

- `service`: the rules (pay, card setup, cancel, refund, settle a payment that succeeded);
- `webhook`: the tenant's signed events, a handler per event type;
- `sweeper`: lapsed holds expire, their PaymentIntents cancelled first;
- `gateway`: what the rules ask of the provider, in our types (the seam tests fill with a fake);
  `stripe_gateway`, the one module that imports `stripe`, answers it;
- `amounts`: money in the currency's minor units.
"""

from chalicelib.payments.amounts import minor_units
from chalicelib.payments.service import Payment, cancel, pay, refund, settle, start_card_setup
from chalicelib.payments.sweeper import sweep_lapsed_holds
from chalicelib.payments.webhook import REFUNDED_AT_STRIPE, handle_webhook

__all__ = [
    "REFUNDED_AT_STRIPE",
    "Payment",
    "cancel",
    "handle_webhook",
    "minor_units",
    "pay",
    "refund",
    "settle",
    "start_card_setup",
    "sweep_lapsed_holds",
]

"""Deterministic demo data for the embedded TMF sandbox: a catalogue and N customers.

Everything derives from ``(plan.seed, customer index)`` through string-seeded
:class:`random.Random` instances (stable across processes, unlike ``hash()``), so any customer
can be materialized alone, in any order, and always comes out the same. A customer has two
levels, because customer search needs the party level of everyone while most requests touch a
handful of customers: :func:`party_records` (Individual, Customer) is cheap, and
:func:`account_records` builds the rest. Both read the same small :class:`.party.Profile`,
which is how the Customer's account list agrees with the billing accounts built later.

Conventions the engine and the tests rely on:

- owned ids carry their owner: ``cus-000042``, ``ba-000042-1``, ``cb-000042-1-07`` (see
  :func:`graph.sandbox.registry.owner_of`); catalogue ids are slugs (``off-mobile-m``);
- hrefs are absolute: ``base_url + collection path + "/" + id``;
- money is computed in integer cents and rendered as ``{"unit": "EUR", "value": 12.34}``, so
  rates add up to their bill and bills to the account balance exactly;
- dates are relative to ``plan.today``; date-times are ``YYYY-MM-DDTHH:MM:SSZ``.

The operator is a German one (EUR, 19 % VAT, +49 numbers, SEPA), which keeps addresses, phone
numbers, bank accounts and taxes consistent with each other.

The package: :mod:`.plan` (the plan and the record type), :mod:`.values` (reference data and
value builders), :mod:`.catalog`, :mod:`.party` (profile and party level), and the account
level in :mod:`.accounts`, which composes :mod:`.billing`, :mod:`.inventory`, :mod:`.ordering`
and :mod:`.assurance` over the shared :mod:`.state`.
"""

from .accounts import account_records
from .catalog import catalog_records
from .party import party_records
from .plan import Record, SeedPlan

__all__ = ["Record", "SeedPlan", "account_records", "catalog_records", "party_records"]

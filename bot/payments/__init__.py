"""Telegram Stars top-ups, refunds and referrals (issue 15).

- `packs.py`: the operator's credit packs (CREDIT_PACKS).
- `payload.py`: the invoice payload (pack, buyer, nonce; nothing secret, at most 128 bytes).
- `store.py`: invoices, payments and refunds in the database, each with its ledger row.
- `service.py`: sendInvoice, the pre-checkout verdict, crediting, refunds, reconciliation.
- `referrals.py`: personal deep links and the once-per-new-user bonus.
- `offer.py`: the "⭐ Top up" / share buttons and the hint in the no-credit message.
- `stats.py`: Stars received, refunded and credits sold per day for /stats.
"""

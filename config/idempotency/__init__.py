"""Idempotency keys for the REST API's creating POSTs (DESIGN.md §4 rule 5).

A client that sends `Idempotency-Key: <key>` with a POST may send it again, with the
same key, after any failure (no answer, a timeout, a 5xx): the retry gets the first
success's status and body and creates nothing more. See services.idempotent.
"""

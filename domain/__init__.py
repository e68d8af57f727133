"""The department's rules as code: pure Python, no I/O, no clock, no Temporal, no PostgreSQL.

Everything here can run in a unit test, inside a Temporal workflow sandbox, or in an audit that
rebuilds state from the event store, and give the same answer.
"""

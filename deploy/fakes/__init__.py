"""Fake platform servers: stateful stand-ins that speak each platform's real HTTP API.

They let the adapters be tested, and `make run` be used, without a real account: tokens expire,
publishing is asynchronous, callbacks are pushed back signed, reply windows close. Faults are
injected per test through `POST /<platform>/__fake__/faults`.
"""
